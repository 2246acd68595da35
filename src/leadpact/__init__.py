"""leadpact: the marketing–sales pact, enforced with data."""

__version__ = "0.1.0"
