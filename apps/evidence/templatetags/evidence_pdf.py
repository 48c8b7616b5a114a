"""Formatting for the evidence pack's PDF: ISO timestamps shortened, codes made readable."""

from django import template

register = template.Library()


@register.filter
def isotime(value) -> str:
    """``2026-11-23T10:15:00.123456Z`` -> ``2026-11-23 10:15``; anything else as it is."""
    if not value:
        return ""
    text = str(value)
    if len(text) >= 16 and text[10] == "T":
        return f"{text[:10]} {text[11:16]}"
    return text


@register.filter
def label(value) -> str:
    """``not_assessed`` -> ``not assessed``."""
    return str(value or "").replace("_", " ")
