"""Bidi isolation of user- and cloud-supplied strings (issue #19, item 11): a right-to-left
override in an engagement or IAM user name must not reorder the text around it — in the HTML
pages, their <title>, sentences such as a finding's reason, and the PDF."""

import unicodedata

import pytest
from django.template import Context, Template
from django.urls import reverse

from apps.core.text import isolate
from apps.evidence.services import engagement_create

FSI, PDI, RLO = "\u2068", "\u2069", "\u202e"
SPOOF = f"invoice{RLO}gpj.exe"


def _wrapper_match(text: str) -> int:
    """Where the isolate opened by the first character is closed (UAX #9 BD9: a PDI closes the
    innermost open isolate; one with none open is ignored); -1 if never."""
    stack = []
    for i, ch in enumerate(text):
        if ch in "\u2066\u2067\u2068":
            stack.append(i)
        elif ch == PDI and stack:
            if stack.pop() == 0:
                return i
    return -1


@pytest.mark.parametrize(
    "value",
    [SPOOF, "\u05e9\u05dc\u05d5\u05dd", f"{PDI}{RLO}escape", f"{PDI}{PDI}\u2067x", "\u202bembedded", "\u2067open isolate"],
)
def test_isolate_wraps_anything_that_could_reorder_its_surroundings(value):
    out = isolate(value)
    assert out.startswith(FSI) and out.endswith(PDI) and value in out  # every character kept
    # The wrapper closes at the very end (no stray PDI in the value closes it early), so every
    # override, embedding or isolate the value opened ends there too.
    assert _wrapper_match(out) == len(out) - 1


def test_plain_text_is_left_alone():
    assert isolate("AKIAEXAMPLE user-1 (prod)") == "AKIAEXAMPLE user-1 (prod)"
    assert isolate(None) == "" and isolate(42) == "42"
    assert not any(unicodedata.bidirectional(c) == "FSI" for c in isolate("plain"))


def test_the_filter_escapes_and_isolates():
    html = Template("{% load keytrail %}<p>Key {{ v|isolate }} is old</p>").render(Context({"v": f"<b>{SPOOF}"}))
    assert html == f"<p>Key {FSI}&lt;b&gt;{SPOOF}{PDI} is old</p>"


@pytest.mark.django_db
def test_the_engagement_page_title_and_the_pdf_clip_isolate_the_name(client, grc_lead):
    from apps.evidence.templatetags.evidence_pdf import clip

    engagement = engagement_create(
        actor=grc_lead, name=SPOOF, period_start=__import__("datetime").date(2026, 1, 1), period_end=__import__("datetime").date(2026, 2, 1)
    )
    client.force_login(grc_lead)
    page = client.get(reverse("evidence:detail", args=[engagement.pk])).content.decode()
    assert f"<title>{FSI}{SPOOF}{PDI} · keytrail</title>" in page
    assert clip(SPOOF) == f"{FSI}{SPOOF}{PDI}"


def test_the_stylesheets_isolate_value_cells():
    from pathlib import Path

    root = Path(__file__).resolve().parents[2]
    for css in (root / "static" / "css" / "keytrail.css", root / "apps" / "evidence" / "renderers" / "pack.css"):
        text = css.read_text()
        assert "unicode-bidi: isolate" in text and "td, th, dd" in text, css
