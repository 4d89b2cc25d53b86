"""Errors the engine raises; the web layer maps each class to one HTTP status."""


class EngineError(Exception):
    """Base class. `message` is for people (Chinese UI)."""

    def __init__(self, message: str):
        super().__init__(message)
        self.message = message


class NotFound(EngineError):
    pass


class AuthError(EngineError):
    pass


class Forbidden(EngineError):
    pass


class Conflict(EngineError):
    """Another writer got there first: the task was completed or claimed meanwhile."""


class InvalidData(EngineError):
    """A form submission failed validation; `errors` is {field: [message]}."""

    def __init__(self, errors: dict, message: str = "表单数据有误"):
        super().__init__(message)
        self.errors = errors


class DefinitionError(EngineError):
    """A diagram cannot be deployed; `errors` is [{element_id, message}]."""

    def __init__(self, errors: list[dict]):
        super().__init__(
            "; ".join(f"{e['element_id']}: {e['message']}" if e.get("element_id") else e["message"] for e in errors)
        )
        self.errors = errors


class AssignmentError(EngineError):
    """A lane's role resolves to nobody: refuse the step rather than leave a task no one sees."""


class TooManyRequests(EngineError):
    """The same action again too soon (催办 at most once an hour, logging in after too many failures).
    `retry_after`: in how many seconds it may be tried again, when known (the HTTP Retry-After)."""

    def __init__(self, message: str, retry_after: int | None = None):
        super().__init__(message)
        self.retry_after = retry_after


class TooLarge(EngineError):
    """An upload over the size limit; the message names the limit."""
