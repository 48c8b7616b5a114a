"""Errors that services raise and interfaces turn into clear messages."""


class KeytrailError(Exception):
    """Base class: a refusal with a message fit to show a person."""


class ValidationFailed(KeytrailError):
    """Input was refused; nothing was changed. Several refusals may be given at once
    (``messages``, each prefixed with the field it is about: "Expiry: …"), so a form shows
    them all together; ``str()`` joins them."""

    def __init__(self, *messages: str) -> None:
        super().__init__(" ".join(str(m) for m in messages))
        self.messages = [str(m) for m in messages]


class DuplicateSource(ValidationFailed):
    """The source is already registered (same kind, same key in its cloud). ``field`` is the
    setting the key comes from (``role_arn``, ``vault_url``), for forms and the API."""

    def __init__(self, message: str, *, field: str = "") -> None:
        super().__init__(message)
        self.field = field


class RateLimited(ValidationFailed):
    """Refused for now: the actor did this too often; ``retry_after`` seconds until it may again."""

    def __init__(self, message: str, *, retry_after: int) -> None:
        super().__init__(message)
        self.retry_after = retry_after


class PermissionRefused(KeytrailError):
    """The actor may not do this (recorded in the audit trail by the caller)."""


class IllegalTransition(KeytrailError):
    """The object is not in a state that allows this action."""
