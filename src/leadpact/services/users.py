"""People: who belongs to which department, and who is a manager."""

from __future__ import annotations

import re

from leadpact.adapters.db.store import Store, User
from leadpact.domain.clock import Clock
from leadpact.domain.errors import DomainError, NotFound

_DEPARTMENT = re.compile(r"^[a-z][a-z0-9_]*$")


def add_user(
    store: Store, clock: Clock, name: str, department: str, email: str | None = None, is_manager: bool = False
) -> User:
    """Add a person; the department must exist in the newest pact when there is one."""
    with store:
        if not name.strip():
            raise DomainError("a user needs a name")
        if store.users.by_name(name) is not None:
            raise DomainError(f"user {name!r} already exists")
        if not _DEPARTMENT.match(department):
            raise DomainError(f"department {department!r} must be a lower-case id such as marketing or inside_sales")
        latest = store.pacts.latest()
        if latest is not None and latest.pact.department(department) is None:
            known = ", ".join(d.id for d in latest.pact.departments)
            raise DomainError(f"unknown department {department!r}; pact v{latest.version} defines: {known}")
        user = store.users.add(name.strip(), department, email, is_manager, clock.now())
        store.commit()
        return user


def list_users(store: Store) -> list[User]:
    with store:
        return store.users.all()


def require_user(store: Store, name: str) -> User:
    """The user named `name`, or a NotFound listing who exists."""
    user = store.users.by_name(name)
    if user is None:
        names = [u.name for u in store.users.all()]
        hint = f"; known users: {', '.join(names[:20])}" if names else "; add one with `leadpact user add`"
        raise NotFound(f"unknown user {name!r}{hint}")
    return user
