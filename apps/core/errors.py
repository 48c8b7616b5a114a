"""Errors that services raise and interfaces turn into clear messages."""


class KeytrailError(Exception):
    """Base class: a refusal with a message fit to show a person."""


class ValidationFailed(KeytrailError):
    """Input was refused; nothing was changed."""


class PermissionRefused(KeytrailError):
    """The actor may not do this (recorded in the audit trail by the caller)."""


class IllegalTransition(KeytrailError):
    """The object is not in a state that allows this action."""
