"""Copies of every audit checkpoint outside the database (``KEYTRAIL_AUDIT_ANCHOR_TARGET``).

Someone who can rewrite the audit table can also delete the checkpoints stored beside it; a
copy they cannot reach survives. Two targets:

- ``file:///var/lib/keytrail/anchors.jsonl`` (or an absolute path): one JSON line appended
  per checkpoint (opened ``O_APPEND``, flushed and fsynced). Make the file append-only for the
  keytrail user at the operating system level (``chattr +a``, a write-only share) to keep it so.
- ``s3://bucket/prefix/``: one object per checkpoint, written with S3 Object Lock in
  COMPLIANCE mode until ``KEYTRAIL_AUDIT_ANCHOR_RETENTION_DAYS`` from now, so not even the
  bucket's owner can delete or overwrite it before then. The bucket must have Object Lock
  enabled (it can only be enabled when the bucket is created).

Empty (the default): checkpoints stay in the database and in the packs that embed them.
"""

from __future__ import annotations

import datetime as dt
import json
import os
from typing import Any
from urllib.parse import urlparse

from django.conf import settings
from django.utils import timezone


class AnchorTargetError(RuntimeError):
    """The external target refused or failed the write."""


def _target() -> str:
    return (settings.KEYTRAIL_AUDIT_ANCHOR_TARGET or "").strip()


def describe_target() -> str:
    """The configured target, for messages ("" when none)."""
    return _target()


def write_anchor(anchor: dict[str, Any]) -> str:
    """Append ``anchor`` to the configured target; returns where it went ("" when no target).

    Raises :class:`AnchorTargetError` when the target is malformed or the write fails."""
    target = _target()
    if not target:
        return ""
    line = json.dumps(anchor, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    if target.startswith("s3://"):
        return _write_s3(target, anchor, line)
    path = urlparse(target).path if target.startswith("file://") else target
    if not os.path.isabs(path):
        raise AnchorTargetError(f"KEYTRAIL_AUDIT_ANCHOR_TARGET must be file:///absolute/path or s3://bucket/prefix, not {target!r}")
    try:
        fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o640)
        try:
            os.write(fd, (line + "\n").encode("utf-8"))
            os.fsync(fd)
        finally:
            os.close(fd)
    except OSError as exc:
        raise AnchorTargetError(f"could not append the audit anchor to {path}: {exc}") from exc
    return path


def _write_s3(target: str, anchor: dict[str, Any], body: str) -> str:
    import boto3
    from botocore.config import Config
    from botocore.exceptions import BotoCoreError, ClientError

    parsed = urlparse(target)
    bucket, prefix = parsed.netloc, parsed.path.lstrip("/")
    if not bucket:
        raise AnchorTargetError(f"KEYTRAIL_AUDIT_ANCHOR_TARGET names no bucket: {target!r}")
    created = str(anchor.get("created_at", "")).replace(":", "").replace("-", "")
    key = f"{prefix}{int(anchor['seq']):012d}-{created}-{str(anchor['head_hash'])[:16]}.json"
    retain_until = timezone.now() + dt.timedelta(days=settings.KEYTRAIL_AUDIT_ANCHOR_RETENTION_DAYS)
    # Built here, never at import: PutObject is the only call this client makes.
    client = boto3.client(
        "s3",
        endpoint_url=settings.KEYTRAIL_AUDIT_ANCHOR_S3_ENDPOINT_URL or None,
        config=Config(retries={"max_attempts": 3, "mode": "standard"}, connect_timeout=5, read_timeout=10),
    )
    try:
        client.put_object(
            Bucket=bucket,
            Key=key,
            Body=body.encode("utf-8"),
            ContentType="application/json",
            ObjectLockMode="COMPLIANCE",
            ObjectLockRetainUntilDate=retain_until,
        )
    except (BotoCoreError, ClientError) as exc:
        raise AnchorTargetError(f"could not write the audit anchor to s3://{bucket}/{key}: {exc}") from exc
    return f"s3://{bucket}/{key}"


def read_anchor_lines(path: str) -> list[dict[str, Any]]:
    """The anchors of a JSON-lines file as ``{"label", "anchor"}`` (a line that is not JSON
    is returned as its text, for the check to refuse with its line number)."""
    out: list[dict[str, Any]] = []
    with open(path, encoding="utf-8") as fh:
        for number, line in enumerate(fh, start=1):
            if not line.strip():
                continue
            try:
                anchor: Any = json.loads(line)
            except json.JSONDecodeError:
                anchor = line.strip()[:80]
            out.append({"label": f"{os.path.basename(path)} line {number}", "anchor": anchor})
    return out
