"""Domain errors raised by services; the API maps each to a problem document (consortium.api)."""
from __future__ import annotations


class DomainError(Exception):
    """A refused change. `status` and `slug` choose the problem document; `pointer` the field."""

    status = 400
    slug = "refused"
    title = "Request refused"

    def __init__(
        self,
        message: str,
        *,
        pointer: str | None = None,
        code: str | None = None,
        errors: list[dict[str, str]] | None = None,
    ) -> None:
        super().__init__(message)
        self.message = message
        self.pointer = pointer
        self.code = code or self.slug
        # Several `{pointer, code, message}` rows, when one refusal has many reasons.
        self.errors = errors


class InvalidInput(DomainError):
    status = 422
    slug = "validation-error"
    title = "Invalid request"


class Conflict(DomainError):
    status = 409
    slug = "conflict"
    title = "Conflict with the current state"


class NotAllowed(DomainError):
    status = 403
    slug = "not-allowed"
    title = "Not allowed"


class NotFound(DomainError):
    status = 404
    slug = "not-found"
    title = "Not Found"


class InvalidSignature(DomainError):
    status = 422
    slug = "invalid-signature"
    title = "Invalid signature"
