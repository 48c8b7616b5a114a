"""System checks for the audit checkpoints' settings: a malformed key or anchor target would
otherwise surface only when the first checkpoint is signed (and then fail every pack build)."""

from __future__ import annotations

import os
import string

from django.conf import settings
from django.core.checks import Error, register


@register()
def audit_checkpoint_settings(app_configs=None, **kwargs) -> list[Error]:
    errors: list[Error] = []
    key = settings.KEYTRAIL_AUDIT_SIGNING_KEY
    if key and (len(key) != 64 or any(c not in string.hexdigits for c in key)):
        errors.append(
            Error(
                "KEYTRAIL_AUDIT_SIGNING_KEY must be 32 bytes, hex-encoded (64 characters).",
                hint="Leave it empty to sign audit checkpoints with KEYTRAIL_PACK_SIGNING_KEY.",
                id="keytrail.E201",
            )
        )
    target = (settings.KEYTRAIL_AUDIT_ANCHOR_TARGET or "").strip()
    if target:
        if target.startswith("s3://"):
            ok = bool(target[len("s3://") :].split("/", 1)[0])
        else:
            ok = os.path.isabs(target.removeprefix("file://"))
        if not ok:
            errors.append(
                Error(
                    f"KEYTRAIL_AUDIT_ANCHOR_TARGET {target!r} is neither file:///absolute/path nor s3://bucket/prefix.",
                    id="keytrail.E202",
                )
            )
    return errors
