"""Which credentials a campaign covers, the facts frozen for each, who reviews each, and the
population hash.

The hash is SHA-256 over the canonical JSON (sorted keys, no spaces) of the items sorted by
credential id, each ``{"credential_id", "identity_id", "source_id", "subject", "facts"}``;
reviewers are not part of it (they may change during the campaign, the population may not).
:func:`population_hash_of` recomputes it from the stored items.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from datetime import datetime

from django.conf import settings
from django.db.models import Q, QuerySet

from apps.core.canonical import canonical_json
from apps.core.errors import ValidationFailed
from apps.core.scope import clean_ids, clean_tag
from apps.inventory.models import Credential, Identity

SCOPE_KEYS = {"source_ids", "credential_types", "privileged_only", "non_human_only", "tag"}


def normalise_scope(scope: dict) -> dict:
    """The scope with ids as sorted unique ints, flags as booleans, empty parts dropped; raises ValidationFailed."""
    if not isinstance(scope, dict):
        raise ValidationFailed("Scope: expected sources, credential types, flags or a tag.")
    unknown = set(scope) - SCOPE_KEYS
    if unknown:
        raise ValidationFailed(f"Scope: unknown parts {', '.join(sorted(unknown))}.")
    clean: dict = {}
    ids = clean_ids(scope.get("source_ids"), "source ids")
    if ids:
        clean["source_ids"] = ids
    types = sorted(set(scope.get("credential_types") or []))
    bad = [t for t in types if t not in Credential.Type.values]
    if bad:
        raise ValidationFailed(f"Scope: unknown credential type(s) {', '.join(map(str, bad[:5]))}.")
    if types:
        clean["credential_types"] = types
    for flag in ("privileged_only", "non_human_only"):
        if scope.get(flag):
            clean[flag] = True
    tag = clean_tag(scope.get("tag"))
    if tag:
        clean["tag"] = tag
    return clean


def population_queryset(scope: dict) -> QuerySet[Credential]:
    """Present credentials of enabled sources that the scope selects."""
    qs = Credential.objects.filter(disappeared_at__isnull=True, source__enabled=True)
    if scope.get("source_ids"):
        qs = qs.filter(source_id__in=scope["source_ids"])
    if scope.get("credential_types"):
        qs = qs.filter(credential_type__in=scope["credential_types"])
    if scope.get("privileged_only"):
        qs = qs.filter(identity__privileged=True)
    if scope.get("non_human_only"):
        # A secret has no identity: it is non-human by nature.
        qs = qs.filter(Q(identity__isnull=True) | ~Q(identity__kind=Identity.Kind.HUMAN))
    if scope.get("tag"):
        qs = qs.filter(tags__contains={scope["tag"]["key"]: scope["tag"]["value"]})
    return qs


def _iso(value: datetime | None) -> str | None:
    return value.isoformat() if value else None


def _days(now: datetime, then: datetime | None) -> int | None:
    return (now - then).days if then else None


def rotation_status(c: Credential, now: datetime) -> str:
    if c.credential_type == Credential.Type.SM_SECRET:
        if not c.rotation_enabled:
            return "rotation off"
        if c.next_rotation_at and c.next_rotation_at < now:
            return "rotation overdue"
        return f"rotates every {c.rotation_interval_days} days" if c.rotation_interval_days else "rotation on"
    last = c.last_rotated_at or c.last_changed_at or c.created_at
    return f"last rotated {(now - last).days} days ago" if last else "never rotated"


def item_facts(c: Credential, now: datetime, verdicts: list[str]) -> dict:
    """The JSON facts a reviewer decides on, as of ``now`` (datetimes as ISO strings, no floats)."""
    i = c.identity
    return {
        "credential": {
            "id": c.pk,
            "external_id": c.external_id,
            "name": c.name,
            "type": c.credential_type,
            "enabled": c.enabled,
            "created_at": _iso(c.created_at),
            "key_age_days": _days(now, c.created_at),
            "last_used_at": _iso(c.last_used_at),
            "days_since_use": _days(now, c.last_used_at),
            "last_rotated_at": _iso(c.last_rotated_at or c.last_changed_at),
            "rotation_status": rotation_status(c, now),
            "expires_at": _iso(c.expires_at),
            "owner": c.owner,
            "tags": c.tags,
        },
        "identity": None
        if i is None
        else {
            "id": i.pk,
            "name": i.name,
            "kind": i.kind,
            "privileged": i.privileged,
            "mfa_active": i.mfa_active,
            "owner": i.owner,
            "tags": i.tags,
        },
        "source": {"id": c.source_id, "name": c.source.name},
        "verdicts": verdicts,  # failing rule ids in the latest evaluation
    }


def subject_of(c: Credential) -> str:
    who = c.identity.name if c.identity_id else c.source.name
    return f"{who} / {c.get_credential_type_display()} {c.name}"[:2000]


def population_hash(items: list[dict]) -> str:
    rows = sorted(
        ({k: item[k] for k in ("credential_id", "identity_id", "source_id", "subject", "facts")} for item in items),
        key=lambda r: (r["credential_id"] or 0, r["identity_id"] or 0),
    )
    return hashlib.sha256(canonical_json(rows).encode("utf-8")).hexdigest()


def population_hash_of(campaign) -> str:
    """Recompute a started campaign's hash from its stored items."""
    return population_hash(list(campaign.items.values("credential_id", "identity_id", "source_id", "subject", "facts")))


# --- who reviews ----------------------------------------------------------------------------


@dataclass
class UserIndex:
    """Active users by lower-cased e-mail and username, for owner strings and self-review."""

    by_key: dict[str, object]

    @classmethod
    def load(cls) -> UserIndex:
        from apps.accounts.models import User

        index: dict[str, object] = {}
        for user in User.objects.filter(is_active=True):
            index.setdefault(user.username.lower(), user)
            if user.email:
                index.setdefault(user.email.lower(), user)
        return cls(index)

    def user_for(self, owner: str):
        return self.by_key.get((owner or "").strip().lower())


def identity_keys(identity_facts: dict | None) -> set[str]:
    """What links a cloud identity to a keytrail user: its name, and the values of the tags in
    KEYTRAIL_REVIEW_IDENTITY_TAG_KEYS (lower-cased)."""
    if not identity_facts:
        return set()
    keys = {str(identity_facts.get("name", "")).strip().lower()}
    tags = {str(k).lower(): v for k, v in (identity_facts.get("tags") or {}).items()}
    for tag in settings.KEYTRAIL_REVIEW_IDENTITY_TAG_KEYS:
        if tags.get(tag.lower()):
            keys.add(str(tags[tag.lower()]).strip().lower())
    return keys - {""}


def is_own_identity(user, facts: dict) -> bool:
    """True when the item's identity is ``user``'s own (name or linking tag = username or e-mail)."""
    mine = {user.username.lower()} | ({user.email.lower()} if user.email else set())
    return bool(identity_keys(facts.get("identity")) & mine)


def choose_reviewer(facts: dict, users: UserIndex, fallback) -> tuple[object, str]:
    """(reviewer, rule): the credential's owner, else the identity's owner, else the fallback;
    the fallback too when the chosen one would review their own identity."""
    for rule, owner in (
        ("credential_owner", facts["credential"]["owner"]),
        ("identity_owner", (facts.get("identity") or {}).get("owner", "")),
    ):
        user = users.user_for(owner)
        if user is not None:
            if is_own_identity(user, facts):
                return fallback, "self_review"
            return user, rule
    return fallback, "fallback"
