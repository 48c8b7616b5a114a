"""Ids sent by clients, parsed once: in a path, a query string, a form or a JSON body.

keytrail's primary keys are 64-bit (``BigAutoField``). A larger number does not fit the
database's integer: SQLite's driver raises ``OverflowError`` while binding it (a 500) and
PostgreSQL compares it as a numeric. So an id is refused before any query unless it is a whole
number from 1 to :data:`ID_MAX` — the interfaces then answer 400 (a form error) or 404.
"""

from __future__ import annotations

from django import forms

ID_MAX = 2**63 - 1  # BigAutoField's, and SQLite's, largest integer


def parse_id(value) -> int | None:
    """``value`` (text or int) as an id, or None when it is not one: not digits only (no sign,
    no spaces, no fraction, no exponent), zero, or beyond ID_MAX."""
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        number = value
    else:
        text = str(value)
        if not text.isascii() or not text.isdigit() or len(text) > len(str(ID_MAX)):
            return None
        number = int(text)
    return number if 1 <= number <= ID_MAX else None


def out_of_range(value: str) -> bool:
    """A filter's value that is a number but cannot be an id (0, beyond ID_MAX): refused with a
    400. Text that is no number at all is ignored by the list filters, as it always was."""
    return value.isdigit() and parse_id(value) is None


def form_id(value) -> int:
    """``coerce`` for a form's TypedMultipleChoiceField of ids: the id, or the field's error."""
    number = parse_id(value)
    if number is None:
        raise forms.ValidationError(f"Not an id: “{str(value)[:40]}”.")
    return number


class IdConverter:
    """``<id:pk>`` in a URL: an id from 1 to ID_MAX; anything else does not match (404)."""

    regex = "[0-9]{1,19}"

    def to_python(self, value: str) -> int:
        number = parse_id(value)
        if number is None:
            raise ValueError(value)  # Django treats it as no match: 404
        return number

    def to_url(self, value) -> str:
        return str(value)


class ModelIdsChoiceField(forms.ModelMultipleChoiceField):
    """A ModelMultipleChoiceField whose posted ids are checked to be ids before its ``__in``
    query (which would hand SQLite a number it cannot bind)."""

    def _check_values(self, value):
        for pk in value:
            if parse_id(pk) is None:
                raise forms.ValidationError(self.error_messages["invalid_pk_value"], code="invalid_pk_value", params={"pk": str(pk)[:40]})
        return super()._check_values(value)
