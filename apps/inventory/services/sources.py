from __future__ import annotations

import re
from urllib.parse import urlparse

from django.db import transaction
from guardian.shortcuts import assign_perm

from apps.core.permissions import has_perm
from apps.audit import events
from apps.audit.services import diff
from apps.connectors.base import Target
from apps.core.errors import PermissionRefused, ValidationFailed
from apps.inventory.models import Source

ROLE_ARN = re.compile(r"^arn:aws(?:-[a-z]+)*:iam::(\d{12}):role/[\w+=,.@/-]{1,512}$")
EXTERNAL_ID = re.compile(r"^[\w+=,.@:/-]{2,1224}$")
REGION = re.compile(r"^[a-z]{2}(?:-gov|-iso[a-z]*)?-[a-z]+-\d{1,2}$")


def _require(actor, perm: str, obj=None) -> None:
    if not has_perm(actor, perm, obj):
        raise PermissionRefused(f"{actor} may not {perm.split('.', 1)[1].replace('_', ' ')}")


def source_validate(*, name: str, kind: str, role_arn: str = "", external_id: str = "", regions=(), vault_url: str = "",
                    schedule_minutes: int = 1440) -> dict:
    """Normalise and check a source's settings; raises ValidationFailed naming the field."""
    name = (name or "").strip()
    if not name or len(name) > 120:
        raise ValidationFailed("Name: give a name of 1 to 120 characters.")
    if not 15 <= int(schedule_minutes) <= 43200:
        raise ValidationFailed("Schedule: collect between every 15 minutes and every 30 days.")
    values = {"name": name, "kind": kind, "schedule_minutes": int(schedule_minutes), "role_arn": "", "external_id": "",
              "regions": [], "vault_url": "", "aws_account_id": ""}
    if kind == Source.Kind.AWS_ACCOUNT:
        match = ROLE_ARN.match((role_arn or "").strip())
        if not match:
            raise ValidationFailed("Role ARN: expected arn:aws:iam::<12-digit account>:role/<name>.")
        external_id = (external_id or "").strip()
        if external_id and not EXTERNAL_ID.match(external_id):
            raise ValidationFailed("External id: 2 to 1224 characters of letters, digits and +=,.@:/-")
        cleaned = []
        for region in regions:
            region = region.strip()
            if not region:
                continue
            if not REGION.match(region):
                raise ValidationFailed(f"Regions: {region[:40]!r} is not an AWS region name (e.g. eu-west-1).")
            if region not in cleaned:
                cleaned.append(region)
        values.update(role_arn=role_arn.strip(), external_id=external_id, regions=cleaned, aws_account_id=match.group(1))
    elif kind == Source.Kind.AZURE_KEY_VAULT:
        url = (vault_url or "").strip()
        parsed = urlparse(url)
        if parsed.scheme != "https" or not parsed.hostname or parsed.query or parsed.fragment or parsed.username:
            raise ValidationFailed("Vault URL: expected https://<vault-name>.vault.azure.net/")
        values["vault_url"] = url.rstrip("/") + "/"
    else:
        raise ValidationFailed(f"Kind: choose one of {', '.join(Source.Kind.values)}.")
    return values


def source_targets(source: Source) -> list[tuple[str, str, Target]]:
    """The (connector, scope, target) units one collection of ``source`` fans out into."""
    if source.kind == Source.Kind.AWS_ACCOUNT:
        base = {"source_key": source.aws_account_id, "role_arn": source.role_arn, "external_id": source.external_id}
        units = [("aws_iam", "aws_iam", Target(kind="aws_iam", **base))]
        for region in source.regions:
            units.append(("aws_secrets_manager", f"aws_secrets_manager:{region}", Target(kind="aws_secrets_manager", region=region, **base)))
        return units
    return [("azure_key_vault", f"azure_key_vault:{source.vault_url}",
             Target(kind="azure_key_vault", source_key=source.vault_url, vault_url=source.vault_url))]


def _snapshot(source: Source) -> dict:
    return {f: getattr(source, f) for f in ("name", "kind", "enabled", "role_arn", "external_id", "regions", "vault_url", "schedule_minutes")}


@transaction.atomic
def source_create(*, actor, **fields) -> Source:
    """Register a source (stores a role ARN or vault URL, never a cloud key). Audited."""
    _require(actor, "inventory.add_source")
    values = source_validate(**fields)
    if Source.objects.filter(name=values["name"]).exists():
        raise ValidationFailed(f"Name: a source called {values['name']!r} already exists.")
    source = Source.objects.create(created_by=actor, **values)
    for codename in ("view_source", "change_source", "run_collection"):
        assign_perm(codename, actor, source)
    events.source_created(actor=actor, source=source, values=_snapshot(source))
    return source


@transaction.atomic
def source_update(*, actor, source: Source, **fields) -> Source:
    _require(actor, "inventory.change_source", source)
    source = Source.objects.select_for_update().get(pk=source.pk)
    before = _snapshot(source)
    enabled = fields.pop("enabled", source.enabled)
    current = {"name": source.name, "kind": source.kind, "role_arn": source.role_arn, "external_id": source.external_id,
               "regions": source.regions, "vault_url": source.vault_url, "schedule_minutes": source.schedule_minutes}
    current.update(fields)
    if current["kind"] != source.kind:
        raise ValidationFailed("Kind: a source's kind cannot change; register a new source.")
    values = source_validate(**current)
    if Source.objects.filter(name=values["name"]).exclude(pk=source.pk).exists():
        raise ValidationFailed(f"Name: a source called {values['name']!r} already exists.")
    for k, v in values.items():
        setattr(source, k, v)
    source.enabled = bool(enabled)
    source.save()
    changes = diff(before, _snapshot(source))
    if changes:
        events.source_updated(actor=actor, source=source, changes=changes)
    return source
