"""What a discovery unit found, turned into units of the same run.

A discovery connector (an account's enabled regions, an organisation's accounts) returns
the units to collect next (:attr:`CollectionResult.spawn`) and the member sources to keep
(:attr:`CollectionResult.members`). Inside the transaction that applies the discovery
unit, :func:`units_spawn` registers or updates the member sources, creates their units and
the spawned ones, and returns their ids; they are enqueued after commit, so the run is
never seen finished while they are pending, and each is a task of its own on the workers.
"""

from __future__ import annotations

from typing import Any

from guardian.shortcuts import assign_perm, get_groups_with_perms, get_users_with_perms

from apps.audit import events
from apps.connectors.base import LIST_SETTINGS, CollectionResult, MemberSource, Target, as_jsonable
from apps.connectors.registry import source_spec
from apps.core.text import storable
from apps.inventory.models import CollectionUnit, Source
from apps.inventory.services.sources import source_targets

NAME_MAX = 120


def _member_values(member: MemberSource) -> dict[str, Any]:
    """The settings of the member's kind (its spec's fields, derived ones too), as the model stores them."""
    values = {f.name: getattr(member.config, f.name) for f in source_spec(member.config.kind).fields}
    return {k: list(v) if k in LIST_SETTINGS else v for k, v in values.items()}


def target_from_json(data: dict[str, Any]) -> Target:
    """The :class:`Target` a spawned unit stored (lists back to tuples)."""
    values = {k: (tuple(v) if k in LIST_SETTINGS or isinstance(v, list) else v) for k, v in data.items()}
    return Target(**values)


def member_name(organization: Source, member: MemberSource, *, taken: set[str]) -> str:
    """``"<organisation> / <account name> (<id>)"``, shortened to fit and unique."""
    suffix = f" ({member.source_key[:40]})"
    head = f"{organization.name[:60]} / "
    label = " ".join(storable(member.name or member.source_key).split())[: NAME_MAX - len(head) - len(suffix)]
    name = f"{head}{label}{suffix}"
    n = 2
    while name in taken:
        extra = f" #{n}"
        name = f"{head}{label[: NAME_MAX - len(head) - len(suffix) - len(extra)]}{suffix}{extra}"
        n += 1
    return name


def _copy_permissions(organization: Source, member: Source) -> None:
    # Whoever may see, collect or share the organisation may do the same with its accounts.
    for user, perms in get_users_with_perms(organization, attach_perms=True, with_superusers=False, with_group_users=False).items():
        for codename in perms:
            assign_perm(codename, user, member)
    for group, perms in get_groups_with_perms(organization, attach_perms=True).items():
        for codename in perms:
            assign_perm(codename, group, member)


def members_sync(*, organization: Source, members: list[MemberSource]) -> tuple[list[Source], list[dict[str, str]]]:
    """Register or update ``organization``'s member sources so that exactly ``members`` are
    enabled; the organisation's other members are disabled (excluded, suspended, gone).
    Audited per change. Returns the sources to collect and the errors of members that could
    not be registered (an account already registered as a source of its own)."""
    existing = {m.source_key: m for m in Source.objects.select_for_update().filter(parent=organization)}
    wanted = {m.source_key: m for m in members}
    outside = {
        s.source_key: s
        for s in Source.objects.filter(kind__in={m.config.kind for m in members}, source_key__in=list(wanted)).exclude(parent=organization)
        if s.kind == wanted[s.source_key].config.kind
    }
    taken = set(Source.objects.filter(name__startswith=f"{organization.name[:60]} / ").values_list("name", flat=True))
    collect: list[Source] = []
    errors: list[dict[str, str]] = []
    for key, member in wanted.items():
        source = existing.get(key)
        if source is None and key in outside:
            other = outside[key]
            errors.append(
                {
                    "code": "member_registered_elsewhere",
                    "message": f"{member.config.kind.split('_', 1)[-1].replace('_', ' ')} {member.name} ({key}) is registered as source "
                    f"{other.name!r}; it is collected there, not here",
                    "item": key,
                }
            )
            continue
        values = _member_values(member)
        if source is None:
            name = member_name(organization, member, taken=taken)
            taken.add(name)
            source = Source.objects.create(
                name=name,
                kind=member.config.kind,
                parent=organization,
                source_key=key,
                schedule_minutes=organization.schedule_minutes,
                created_by=organization.created_by,
                **values,
            )
            _copy_permissions(organization, source)
            events.source_member_registered(organization=organization, source=source, values={"account": key, **values})
        else:
            changes = {k: [getattr(source, k), v] for k, v in values.items() if getattr(source, k) != v}
            if not source.enabled:
                changes["enabled"] = [False, True]
            if changes:
                for k, (_before, after) in changes.items():
                    setattr(source, k, after)
                source.save(update_fields=[*changes, "updated_at"])
                events.source_member_updated(organization=organization, source=source, changes=changes)
        collect.append(source)
    for key, source in existing.items():
        if key not in wanted and source.enabled:
            source.enabled = False
            source.save(update_fields=["enabled", "updated_at"])
            events.source_member_updated(
                organization=organization, source=source, changes={"enabled": [True, False], "why": "not collected by the organisation"}
            )
    return collect, errors


def units_spawn(*, unit: CollectionUnit, result: CollectionResult) -> tuple[list[int], list[dict[str, str]]]:
    """Create the units ``result`` asks for in ``unit``'s run (see the module docstring).
    Call inside the transaction that applies ``unit``. Returns the new units' ids and the
    errors to record on ``unit``."""
    planned = set(CollectionUnit.objects.filter(run_id=unit.run_id).values_list("source_id", "scope"))
    new: list[CollectionUnit] = []

    def add(source: Source, connector: str, scope: str, target: Target, stored: dict) -> None:
        if (source.pk, scope) in planned:
            return  # already in this run (the source was also chosen by hand)
        planned.add((source.pk, scope))
        new.append(
            CollectionUnit(
                run_id=unit.run_id, source=source, connector=connector, scope=scope, region=target.region, spawned_by=unit, target=stored
            )
        )

    for target in result.spawn:
        add(unit.source, target.kind, target.unit, target, as_jsonable(target))
    errors: list[dict[str, str]] = []
    if result.members is not None:
        sources, errors = members_sync(organization=unit.source, members=result.members)
        for source in sources:
            for connector, scope, target in source_targets(source):
                add(source, connector, scope, target, {})
    CollectionUnit.objects.bulk_create(new)
    return [u.pk for u in new], errors
