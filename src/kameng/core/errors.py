"""Domain errors: every refusal has a stable SNAKE_CASE code, an HTTP status and a human message.

Services raise these; the API turns them into `{"error": {"code", "message"}}`.
Messages never contain secrets.
"""


class DomainError(Exception):
    status = 400
    code = "BAD_REQUEST"

    def __init__(self, message: str, *, code: str | None = None, status: int | None = None, details=None):
        super().__init__(message)
        self.message = message
        if code:
            self.code = code
        if status:
            self.status = status
        self.details = details


class NotFound(DomainError):
    status = 404
    code = "NOT_FOUND"


class Forbidden(DomainError):
    status = 403
    code = "FORBIDDEN"


class Conflict(DomainError):
    """The object's state does not allow the action."""

    status = 409
    code = "CONFLICT"


class Invalid(DomainError):
    status = 422
    code = "INVALID"
