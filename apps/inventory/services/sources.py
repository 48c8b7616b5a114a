from __future__ import annotations

from django.db import IntegrityError, transaction
from guardian.shortcuts import assign_perm

from apps.audit import events
from apps.audit.services import diff
from apps.connectors.base import LIST_SETTINGS, SETTING_NAMES, SourceConfig, Target
from apps.connectors.registry import plan_units, source_spec, validate_source_config
from apps.core.errors import DuplicateSource, PermissionRefused, ValidationFailed
from apps.core.permissions import has_perm
from apps.inventory.models import Source


def _require(actor, perm: str, obj=None) -> None:
    if not has_perm(actor, perm, obj):
        raise PermissionRefused(f"{actor} may not {perm.split('.', 1)[1].replace('_', ' ')}")


def source_validate(*, name: str, kind: str, schedule_minutes: int = 1440, **settings) -> dict:
    """Normalise and check a source's name, schedule and settings (those of its kind, as
    its connectors describe them; the others are blanked). Returns the model's values;
    raises ValidationFailed with a message starting with the field it is about."""
    name = (name or "").strip()
    if not name or len(name) > 120:
        raise ValidationFailed("Name: give a name of 1 to 120 characters.")
    if not 15 <= int(schedule_minutes) <= 43200:
        raise ValidationFailed("Schedule: collect between every 15 minutes and every 30 days.")
    unknown = set(settings) - set(SETTING_NAMES)
    if unknown:
        raise TypeError(f"source_validate() got unexpected settings: {', '.join(sorted(unknown))}")
    raw = {k: v for k, v in settings.items() if v is not None}
    for setting in LIST_SETTINGS:
        raw[setting] = tuple(raw.get(setting) or ())
    config = validate_source_config(SourceConfig(kind=kind, **raw))
    values = {"name": name, "kind": kind, "schedule_minutes": int(schedule_minutes)}
    values.update({setting: getattr(config, setting) for setting in SETTING_NAMES})
    for setting in LIST_SETTINGS:
        values[setting] = list(getattr(config, setting))
    values["source_key"] = source_spec(kind).source_key(config)
    return values


def source_refuse_duplicate(*, kind: str, source_key: str, exclude_pk: int | None = None) -> None:
    """Refuse a second source of the same kind and key (the same AWS account, the same vault):
    raises DuplicateSource naming the existing source, on the setting the key comes from."""
    if not source_key:
        return
    existing = Source.objects.filter(kind=kind, source_key=source_key).exclude(pk=exclude_pk).order_by("pk").first()
    if existing is None:
        return
    spec = source_spec(kind)
    label = next((f.label for f in spec.fields if f.name == spec.key_setting), spec.kind.label)
    raise DuplicateSource(
        f"{label}: {spec.key_label or spec.kind.label} {source_key} is already registered as source {existing.name!r}.",
        field=spec.key_setting,
    )


def _saved(source: Source, save) -> None:
    """Run ``save`` in a savepoint; a concurrent registration of the same key (the database's
    unique constraint) becomes the same DuplicateSource as the check before it."""
    try:
        with transaction.atomic():
            save()
    except IntegrityError:
        source_refuse_duplicate(kind=source.kind, source_key=source.source_key, exclude_pk=source.pk)
        raise


def source_targets(source: Source) -> list[tuple[str, str, Target]]:
    """The (connector, scope, target) units one collection of ``source`` fans out into,
    as the connectors serving its kind plan them."""
    return [(target.kind, target.unit, target) for target in plan_units(source.config)]


def _snapshot(source: Source) -> dict:
    return {
        f: getattr(source, f)
        for f in (
            "name",
            "kind",
            "enabled",
            "role_arn",
            "external_id",
            "regions",
            "vault_url",
            "member_role_name",
            "include_ids",
            "exclude_ids",
            "subscription_ids",
            "tenant_id",
            "schedule_minutes",
        )
    }


@transaction.atomic
def source_create(*, actor, **fields) -> Source:
    """Register a source (stores a role ARN or vault URL, never a cloud key). Audited."""
    _require(actor, "inventory.add_source")
    values = source_validate(**fields)
    if Source.objects.filter(name=values["name"]).exists():
        raise ValidationFailed(f"Name: a source called {values['name']!r} already exists.")
    source_refuse_duplicate(kind=values["kind"], source_key=values["source_key"])
    source = Source(created_by=actor, **values)
    _saved(source, source.save)
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
    current = {
        "name": source.name,
        "kind": source.kind,
        "schedule_minutes": source.schedule_minutes,
        **{setting: getattr(source, setting) for setting in SETTING_NAMES},
    }
    current.update(fields)
    if current["kind"] != source.kind:
        raise ValidationFailed("Kind: a source's kind cannot change; register a new source.")
    values = source_validate(**current)
    if Source.objects.filter(name=values["name"]).exclude(pk=source.pk).exists():
        raise ValidationFailed(f"Name: a source called {values['name']!r} already exists.")
    if source.source_key.startswith(values["source_key"] + "#dup-"):
        # A duplicate kept by migration 0005 stays marked (and editable: renamed, disabled)
        # for as long as it points at the same account or vault.
        values["source_key"] = source.source_key
    else:
        source_refuse_duplicate(kind=values["kind"], source_key=values["source_key"], exclude_pk=source.pk)
    for k, v in values.items():
        setattr(source, k, v)
    source.enabled = bool(enabled)
    _saved(source, source.save)
    changes = diff(before, _snapshot(source))
    if changes:
        events.source_updated(actor=actor, source=source, changes=changes)
    return source
