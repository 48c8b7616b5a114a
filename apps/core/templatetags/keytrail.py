from django import template

register = template.Library()


def _fmt(value) -> str:
    if value is None or value == "" or value == []:
        return "—"
    if isinstance(value, list):
        return ", ".join(str(v) for v in value)
    return str(value)


@register.filter
def audit_change(value) -> str:
    """An audit ``changes`` value as text: ``[old, new]`` becomes ``old → new``.

    Returns plain text; the template's autoescaping escapes it.
    """
    if isinstance(value, list) and len(value) == 2:
        old, new = value
        if old is None:
            return _fmt(new)
        return f"{_fmt(old)} → {_fmt(new)}"
    return _fmt(value)
