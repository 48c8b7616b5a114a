"""One canonical JSON form, for everything keytrail hashes (audit events, review populations,
inventory versions): sorted keys, no spaces, UTF-8 kept, anything else as ``str``."""

from __future__ import annotations

import json
from typing import Any


def canonical_json(value: Any) -> str:
    """``value`` as canonical JSON text; equal values give equal text, so equal hashes."""
    return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False, default=str)
