"""Formatting for the evidence pack's PDF: ISO timestamps shortened, codes made readable."""

from django import template

from apps.core.text import isolate

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


PDF_TEXT_MAX = 2000  # characters of one free-text value set in the PDF; pack.json keeps it whole


@register.filter
def clip(value) -> str:
    """Free text (a name, a narrative, a justification), bidi-isolated (apps.core.text.isolate), cut to ``PDF_TEXT_MAX`` characters,
    saying so: a 1 MB value would otherwise be hundreds of pages of one word. The pack's
    JSON keeps every value whole (the XLSX up to Excel's 32,767 characters a cell)."""
    text = "" if value is None else str(value)
    if len(text) <= PDF_TEXT_MAX:
        return isolate(text)
    return f"{isolate(text[:PDF_TEXT_MAX])} … [truncated in the PDF: {len(text):,} characters; in full in pack.json]"
