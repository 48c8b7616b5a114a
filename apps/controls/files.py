"""Checking uploaded evidence files: size, and content type by what the bytes are."""

from __future__ import annotations

import hashlib
import io
import zipfile
from dataclasses import dataclass

from apps.core.errors import ValidationFailed

# extension -> (content type, kind of check)
ALLOWED = {
    ".pdf": ("application/pdf", "pdf"),
    ".png": ("image/png", "png"),
    ".jpg": ("image/jpeg", "jpeg"),
    ".jpeg": ("image/jpeg", "jpeg"),
    ".csv": ("text/csv", "text"),
    ".txt": ("text/plain", "text"),
    ".md": ("text/markdown", "text"),
    ".json": ("application/json", "text"),
    ".xlsx": ("application/vnd.openxmlformats-officedocument.spreadsheetml.sheet", "ooxml"),
    ".docx": ("application/vnd.openxmlformats-officedocument.wordprocessingml.document", "ooxml"),
}


@dataclass(frozen=True)
class CheckedFile:
    content: bytes
    sha256: str
    size: int
    content_type: str
    name: str


def _looks_like(kind: str, head: bytes, content: bytes) -> bool:
    if kind == "pdf":
        return head.startswith(b"%PDF-")
    if kind == "png":
        return head.startswith(b"\x89PNG\r\n\x1a\n")
    if kind == "jpeg":
        return head.startswith(b"\xff\xd8\xff")
    if kind == "ooxml":
        if not head.startswith(b"PK\x03\x04"):
            return False
        try:
            with zipfile.ZipFile(io.BytesIO(content)) as zf:
                return "[Content_Types].xml" in zf.namelist()
        except zipfile.BadZipFile:
            return False
    if kind == "text":
        if b"\x00" in content:
            return False
        try:
            content.decode("utf-8")
        except UnicodeDecodeError:
            return False
        return True
    return False


def check_upload(*, name: str, content: bytes, max_bytes: int) -> CheckedFile:
    """Validate an upload. Raises ValidationFailed with a message fit for the user."""
    clean_name = name.replace("\\", "/").rsplit("/", 1)[-1].strip()[:255] or "evidence"
    size = len(content)
    if size == 0:
        raise ValidationFailed("The file is empty.")
    if size > max_bytes:
        raise ValidationFailed(f"The file is {size:,} bytes; the limit is {max_bytes:,} bytes.")
    ext = "." + clean_name.rsplit(".", 1)[-1].lower() if "." in clean_name else ""
    if ext not in ALLOWED:
        allowed = ", ".join(sorted(ALLOWED))
        raise ValidationFailed(f"Files of type {ext or '(no extension)'} are not accepted. Accepted: {allowed}.")
    content_type, kind = ALLOWED[ext]
    if not _looks_like(kind, content[:16], content):
        raise ValidationFailed(f"The file's content is not a valid {ext} file.")
    return CheckedFile(content=content, sha256=hashlib.sha256(content).hexdigest(), size=size, content_type=content_type, name=clean_name)
