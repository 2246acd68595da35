"""Domain errors: each says what is wrong in the user's terms.

Must not import: anything outside the standard library.
"""


class DomainError(Exception):
    """A request the pact or the lifecycle refuses; the message is shown to the user as is."""


class InvalidTransition(DomainError):
    """A stage move the allowed-transitions table, the actor's department or the criteria forbid."""


class NotFound(DomainError):
    """An unknown lead, user or pact version."""


class ApprovalRefused(DomainError):
    """A pact approval that sign-off rules refuse."""
