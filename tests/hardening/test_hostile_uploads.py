"""The bad-input corpus through the evidence upload: hostile file names (sent as raw bytes in
the multipart header, the way a hostile client can), hostile descriptions, hostile content,
and the download that hands the name back in Content-Disposition.

Stored faithfully means: the name Django's multipart parser hands the view
(``MultiPartParser.sanitize_file_name``: HTML entities unescaped, path parts and
non-printable characters dropped, which also removes NUL, control, zero-width and
bidirectional-override characters; undecodable bytes become U+FFFD) after keytrail's own
cleaning (``apps.controls.files.check_upload``: last path part, stripped, 255 characters).
"""

from __future__ import annotations

import pytest
from django.http.multipartparser import MultiPartParser
from django.urls import reverse

from apps.controls.models import ControlEvidence
from tests.support.hostile import DATE_STRINGS, INVALID_UTF8_BYTES, TEXT, assert_escaped_html, assert_stored_or_refused, check_each
from tests.support.ledger import record_hostile

pytestmark = [pytest.mark.django_db, pytest.mark.hostile]
BOUNDARY = "keytrail-hostile-boundary"


def as_browser_sends(filename: bytes) -> bytes:
    """Like browsers, CR, LF and double quotes in a file name are percent-encoded (or the
    part's header would end early); Django does not decode them back."""
    return filename.replace(b"\r", b"%0D").replace(b"\n", b"%0A").replace(b'"', b"%22")


def multipart(fields: dict[str, str], *, filename: bytes, content: bytes) -> bytes:
    """A multipart/form-data body with ``filename`` as raw bytes (see as_browser_sends)."""
    name = as_browser_sends(filename)
    parts = [
        b'--%s\r\nContent-Disposition: form-data; name="file"; filename="%s"\r\nContent-Type: text/plain\r\n\r\n%s\r\n'
        % (BOUNDARY.encode(), name, content)
    ]
    for key, value in fields.items():
        parts.append(
            b'--%s\r\nContent-Disposition: form-data; name="%s"\r\n\r\n%s\r\n'
            % (BOUNDARY.encode(), key.encode(), value.encode("utf-8", "surrogateescape"))
        )
    return b"".join(parts) + b"--%s--\r\n" % BOUNDARY.encode()


def upload(client, control, *, filename: bytes, content: bytes = b"evidence\n", **fields):
    data = {"effective_date": "2026-01-31", "description": "", **fields}
    return client.generic(
        "POST",
        reverse("controls:evidence_upload", args=[control.pk]),
        multipart(data, filename=filename, content=content),
        content_type=f"multipart/form-data; boundary={BOUNDARY}",
    )


def expected_name(raw: bytes) -> str | None:
    name = as_browser_sends(raw).decode("utf-8", "replace")
    name = MultiPartParser.sanitize_file_name(None, name)
    if name is None:
        return None
    return name.replace("\\", "/").rsplit("/", 1)[-1].strip()[:255] or "evidence"


def _download_ok(client, control, evidence, content):
    response = client.get(reverse("controls:evidence_download", args=[control.pk, evidence.pk]))
    assert response.status_code == 200 and response.content == content
    disposition = response["Content-Disposition"]
    assert disposition.startswith("attachment") and "\n" not in disposition and "\r" not in disposition


def test_hostile_file_names(client, grc_lead, control):
    client.force_login(grc_lead)
    names = {
        **{k: v.encode("utf-8", "surrogateescape") + b".txt" for k, v in TEXT.items() if k != "big_1m"},
        "raw_invalid_utf8": INVALID_UTF8_BYTES + b".txt",
        "traversal": b"../../etc/passwd.txt",
        "windows_path": b"C:\\Users\\x\\..\\secret.txt",
        "html_entity_path": b"&#x2F;etc&#x2F;x.txt",
        "dot_dot": b"..",
        "no_extension": b"<script>alert(1)</script>",
        "double_ext": b"report.pdf.exe",
        "huge_1m": b"N" * 1_048_576 + b".txt",
    }

    def check(key, raw):
        content = f"evidence for {key}\n".encode()
        before = ControlEvidence.objects.count()
        response = upload(client, control, filename=raw, content=content)
        # Django answers 400 to a part header over 1,024 bytes: only names no file system allows.
        outcome = assert_stored_or_refused(response, bad_request_ok=len(raw) > 900)
        assert_escaped_html(response, [raw.decode("utf-8", "replace")])
        if outcome == "stored":
            evidence = ControlEvidence.objects.order_by("-pk").first()
            assert evidence.original_name == expected_name(raw), (evidence.original_name[:80], key)
            assert evidence.original_name.endswith(".txt")
            _download_ok(client, control, evidence, content)
        else:
            assert ControlEvidence.objects.count() == before
        record_hostile("evidence upload (file names)", outcome)

    check_each(names, check)
    page = client.get(reverse("controls:detail", args=[control.pk]))
    assert page.status_code == 200
    assert_escaped_html(page, [v for v in TEXT.values()])


def test_hostile_descriptions_and_dates(client, grc_lead, control):
    client.force_login(grc_lead)

    def check_description(key, value):
        before = ControlEvidence.objects.count()
        response = upload(client, control, filename=b"d.txt", content=f"desc {key}\n".encode(), description=value)
        outcome = assert_stored_or_refused(response)
        cleaned = value.encode("utf-8", "surrogateescape").decode("utf-8", "replace").strip()
        if outcome == "stored":
            assert ControlEvidence.objects.order_by("-pk").first().description == cleaned
        else:
            assert ControlEvidence.objects.count() == before
            assert "\x00" in cleaned or len(cleaned) > 500, f"refused a valid description: {key}"
        record_hostile("evidence upload (description)", outcome)

    def check_date(key, value):
        before = ControlEvidence.objects.count()
        response = upload(client, control, filename=b"e.txt", content=f"date {key}\n".encode(), effective_date=value)
        outcome = assert_stored_or_refused(response)
        if outcome == "stored":
            stored = ControlEvidence.objects.order_by("-pk").first().effective_date
            assert stored.isoformat() == value
        else:
            assert ControlEvidence.objects.count() == before
        record_hostile("evidence upload (dates)", outcome)

    check_each(TEXT, check_description)
    check_each(DATE_STRINGS, check_date)
    assert_escaped_html(client.get(reverse("controls:detail", args=[control.pk])), TEXT.values())


def test_hostile_file_contents_are_checked_not_trusted(client, grc_lead, control):
    client.force_login(grc_lead)
    cases = {
        "invalid_utf8_csv": (b"x.csv", INVALID_UTF8_BYTES, False),
        "nul_in_text": (b"x.txt", b"a\x00b", False),
        "formula_csv": (
            b"x.csv",
            b'=HYPERLINK("http://evil.example","x"),+1\n@SUM(1)\n',
            True,
        ),  # stored as uploaded: evidence is kept verbatim
        "html_as_txt": (b"x.txt", b"<script>alert(1)</script>", True),
        "pdf_named_but_html": (b"x.pdf", b"<html><script>alert(1)</script>", False),
        "empty": (b"x.txt", b"", False),
    }

    def check(key, case):
        name, content, stored = case
        before = ControlEvidence.objects.count()
        response = upload(client, control, filename=name, content=content)
        assert_stored_or_refused(response, stored=stored)
        if stored:
            evidence = ControlEvidence.objects.order_by("-pk").first()
            _download_ok(client, control, evidence, content)
        else:
            assert ControlEvidence.objects.count() == before
        record_hostile("evidence upload (contents)", "stored" if stored else "refused")

    check_each(cases, check)
