"""Errors are types: each maps to one HTTP status in one place (the API's error handler)."""

from __future__ import annotations


class ConfigError(Exception):
    """A configuration or data file is broken: start-up stops with this message."""


class DomainError(Exception):
    """Base of the errors a use case reports to its caller."""

    status = 400

    def __init__(self, message: str, errors: dict[str, list[str]] | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.errors = errors or {}


class ValidationError(DomainError):
    """Input that breaks a rule of the domain (a field, a value)."""

    status = 422


class UnknownTrigger(ValidationError):
    """A trigger the ticket's workflow does not have at all: a bad value of the ``trigger``
    field (422), where a trigger of the workflow that does not apply in the state is an
    ``InvalidTransition`` (409)."""


class NotPermitted(DomainError):
    """A known actor may not do this."""

    status = 403


class NotFound(DomainError):
    """Unknown, or not visible to the actor: the two look the same from outside."""

    status = 404


class InvalidTransition(DomainError):
    """The trigger does not apply in the ticket's current state."""

    status = 409


class StaleTicket(DomainError):
    """The ticket changed since the caller read it (optimistic locking)."""

    status = 409


class Conflict(DomainError):
    """A uniqueness or state conflict other than a stale ticket."""

    status = 409
