"""The permission matrix's table and seeded world, shared by the UI matrix
(tests/test_permission_matrix.py) and the API's (tests/api/test_api_matrix.py, which also checks
its outcomes against the UI's), the API endpoint and schema tests, and the reliability tallies.

Personas: anonymous; each role; ``auditor_shared`` (auditor with view on the control, on
the inventory source and on the exception);
``auditor`` (the role without the object permission); ``owner`` (an approver who owns the
control and so holds per-object change/evidence rights, but not share; they also own the
exception, which the GRC lead requested, so may not decide it).
Outcomes: 200 ok, 302 redirect (login for anonymous), 403 refused (may see, may not act),
404 hidden (may not even see), 405 method not allowed.
"""

import datetime as dt

import pytest
from django.db import transaction

from apps.accounts.roles import Role
from apps.catalog.loader import read_catalog
from apps.catalog.models import Requirement
from apps.catalog.services import catalog_load
from apps.controls import services
from tests.factories import (
    CollectionRunFactory,
    CollectionUnitFactory,
    CredentialFactory,
    EvaluationFactory,
    FindingFactory,
    IdentityFactory,
    SnapshotFactory,
    SourceFactory,
    make_user,
)

PERSONAS = ["anonymous", "grc_lead", "approver", "reviewer", "auditor", "auditor_shared", "owner"]

# url name -> (method, {persona: status}); "*" is the default for personas not listed
MATRIX: dict[str, tuple[str, dict[str, int]]] = {
    "home": ("get", {"anonymous": 302, "*": 200}),
    "healthz": ("get", {"*": 200}),
    "readyz": ("get", {"*": 200}),
    # The test client calls from 127.0.0.1 and no token is set: allowed. Strangers' 403 and the
    # bearer token: tests/core/test_operations_endpoints.py.
    "metrics": ("get", {"*": 200}),
    "login": ("get", {"anonymous": 200, "*": 302}),
    "logout": ("post", {"*": 302}),
    # Enrolment is open to every signed-in user; verification sends a user without a device to enrolment.
    "mfa_setup": ("get", {"anonymous": 302, "*": 200}),
    "mfa_verify": ("get", {"*": 302}),
    "catalog:list": ("get", {"anonymous": 302, "*": 200}),
    "catalog:detail": ("get", {"anonymous": 302, "*": 200}),
    "controls:list": ("get", {"anonymous": 302, "*": 200}),
    "controls:create": ("get", {"anonymous": 302, "grc_lead": 200, "*": 403}),
    "controls:detail": ("get", {"anonymous": 302, "grc_lead": 200, "auditor_shared": 200, "owner": 200, "*": 404}),
    "controls:edit": ("get", {"anonymous": 302, "grc_lead": 200, "owner": 200, "auditor_shared": 403, "*": 404}),
    "controls:share": ("get", {"anonymous": 302, "grc_lead": 200, "owner": 403, "auditor_shared": 403, "*": 404}),
    "controls:evidence_upload": ("get", {"anonymous": 302, "grc_lead": 200, "owner": 200, "auditor_shared": 403, "*": 404}),
    "controls:evidence_download": ("get", {"anonymous": 302, "grc_lead": 200, "owner": 200, "auditor_shared": 200, "*": 404}),
    "audit:list": ("get", {"anonymous": 302, "grc_lead": 200, "*": 403}),
    "audit:verify": ("post", {"anonymous": 302, "grc_lead": 200, "*": 403}),
    # Inventory: lists are narrowed to the sources one may view (empty, not refused);
    # GRC lead and approver view every source, auditor_shared one source by object permission.
    "inventory:source_list": ("get", {"anonymous": 302, "*": 200}),
    "inventory:source_create": ("get", {"anonymous": 302, "grc_lead": 200, "*": 403}),
    "inventory:source_collect_all": ("post", {"anonymous": 302, "grc_lead": 302, "*": 403}),
    "inventory:source_detail": ("get", {"anonymous": 302, "grc_lead": 200, "approver": 200, "owner": 200, "auditor_shared": 200, "*": 404}),
    "inventory:source_edit": ("get", {"anonymous": 302, "grc_lead": 200, "approver": 403, "owner": 403, "auditor_shared": 403, "*": 404}),
    "inventory:source_collect": (
        "post",
        {"anonymous": 302, "grc_lead": 302, "approver": 403, "owner": 403, "auditor_shared": 403, "*": 404},
    ),
    "inventory:source_share": ("get", {"anonymous": 302, "grc_lead": 200, "approver": 403, "owner": 403, "auditor_shared": 403, "*": 404}),
    "inventory:run_list": ("get", {"anonymous": 302, "*": 200}),
    "inventory:run_detail": ("get", {"anonymous": 302, "grc_lead": 200, "approver": 200, "owner": 200, "auditor_shared": 200, "*": 404}),
    "inventory:run_units": ("get", {"anonymous": 302, "grc_lead": 200, "approver": 200, "owner": 200, "auditor_shared": 200, "*": 404}),
    "inventory:run_retry": ("post", {"anonymous": 302, "grc_lead": 302, "approver": 403, "owner": 403, "auditor_shared": 403, "*": 404}),
    "inventory:credential_list": ("get", {"anonymous": 302, "*": 200}),
    "inventory:credential_detail": (
        "get",
        {"anonymous": 302, "grc_lead": 200, "approver": 200, "owner": 200, "auditor_shared": 200, "*": 404},
    ),
    "inventory:identity_list": ("get", {"anonymous": 302, "*": 200}),
    "inventory:identity_detail": (
        "get",
        {"anonymous": 302, "grc_lead": 200, "approver": 200, "owner": 200, "auditor_shared": 200, "*": 404},
    ),
    # Posture: GRC lead and approvers (owner is an approver) read it; only the GRC lead
    # evaluates and changes the policy; reviewers and auditors are refused (403), even
    # auditor_shared, whose object permission reaches a source's inventory, not posture.
    "evaluation:dashboard": ("get", {"anonymous": 302, "grc_lead": 200, "approver": 200, "owner": 200, "*": 403}),
    "evaluation:evaluate": ("post", {"anonymous": 302, "grc_lead": 302, "*": 403}),
    "evaluation:requirement": ("get", {"anonymous": 302, "grc_lead": 200, "approver": 200, "owner": 200, "*": 403}),
    "evaluation:requirement_status": ("get", {"anonymous": 302, "grc_lead": 200, "approver": 200, "owner": 200, "*": 403}),
    "evaluation:rule_list": ("get", {"anonymous": 302, "grc_lead": 200, "approver": 200, "owner": 200, "*": 403}),
    "evaluation:finding_list": ("get", {"anonymous": 302, "grc_lead": 200, "approver": 200, "owner": 200, "*": 403}),
    "evaluation:evaluation_list": ("get", {"anonymous": 302, "grc_lead": 200, "approver": 200, "owner": 200, "*": 403}),
    "evaluation:evaluation_progress": ("get", {"anonymous": 302, "grc_lead": 200, "approver": 200, "owner": 200, "*": 403}),
    "evaluation:policy": ("get", {"anonymous": 302, "grc_lead": 200, "approver": 200, "owner": 200, "*": 403}),
    "evaluation:policy_edit": ("get", {"anonymous": 302, "grc_lead": 200, "*": 403}),
    # Exceptions: the register is narrowed (never refused); requesting takes request_exception
    # (not auditors); the queue takes decide_exception (approvers). The exception is pending,
    # requested by the GRC lead and owned by ``owner``; actions are posted without a comment,
    # so an allowed decision is refused by the service for its input (the page again, 200),
    # revoke/close/submit/renew for the state (200), and separation of duties (the owner
    # deciding, anyone but the requester submitting) is the service's recorded 403.
    "exceptions:list": ("get", {"anonymous": 302, "*": 200}),
    "exceptions:create": ("get", {"anonymous": 302, "auditor": 403, "auditor_shared": 403, "*": 200}),
    "exceptions:pick": ("get", {"anonymous": 302, "auditor": 403, "auditor_shared": 403, "*": 400}),  # 400: no picker named
    "exceptions:excusable": ("get", {"anonymous": 302, "auditor": 403, "auditor_shared": 403, "*": 200}),
    "exceptions:queue": ("get", {"anonymous": 302, "approver": 200, "owner": 200, "*": 403}),
    "exceptions:detail": ("get", {"anonymous": 302, "grc_lead": 200, "approver": 200, "owner": 200, "auditor_shared": 200, "*": 404}),
    "exceptions:approve": ("post", {"anonymous": 302, "approver": 200, "grc_lead": 403, "owner": 403, "auditor_shared": 403, "*": 404}),
    "exceptions:reject": ("post", {"anonymous": 302, "approver": 200, "grc_lead": 403, "owner": 403, "auditor_shared": 403, "*": 404}),
    "exceptions:revoke": ("post", {"anonymous": 302, "grc_lead": 200, "approver": 200, "owner": 200, "auditor_shared": 403, "*": 404}),
    "exceptions:close": ("post", {"anonymous": 302, "grc_lead": 200, "approver": 200, "owner": 200, "auditor_shared": 403, "*": 404}),
    "exceptions:submit": ("post", {"anonymous": 302, "grc_lead": 200, "approver": 403, "owner": 403, "auditor_shared": 403, "*": 404}),
    "exceptions:renew": ("post", {"anonymous": 302, "grc_lead": 200, "approver": 200, "owner": 200, "auditor_shared": 403, "*": 404}),
    # Access reviews: GRC leads manage every campaign; the reviewer persona is the fallback
    # reviewer of both campaigns (so reaches them through review_campaign, their items only);
    # auditor_shared was given the signed-off one. Actions are posted on the campaign in review
    # without their fields, so an allowed one is answered with a message and a redirect (302);
    # one who sees the campaign but may not act gets 403, anyone else 404.
    "reviews:list": ("get", {"anonymous": 302, "*": 200}),
    "reviews:create": ("get", {"anonymous": 302, "grc_lead": 200, "*": 403}),
    "reviews:templates": ("get", {"anonymous": 302, "grc_lead": 200, "*": 403}),
    "reviews:detail": ("get", {"anonymous": 302, "grc_lead": 200, "reviewer": 200, "auditor_shared": 200, "*": 404}),
    "reviews:state": ("get", {"anonymous": 302, "grc_lead": 200, "reviewer": 200, "auditor_shared": 200, "*": 404}),
    "reviews:share": ("get", {"anonymous": 302, "grc_lead": 200, "auditor_shared": 403, "*": 404}),
    "reviews:start": ("post", {"anonymous": 302, "grc_lead": 302, "reviewer": 403, "*": 404}),
    "reviews:sign_off": ("post", {"anonymous": 302, "grc_lead": 302, "reviewer": 403, "*": 404}),
    "reviews:cancel": ("post", {"anonymous": 302, "grc_lead": 302, "reviewer": 403, "*": 404}),
    "reviews:reassign": ("post", {"anonymous": 302, "grc_lead": 302, "reviewer": 403, "*": 404}),
    "reviews:remind": ("post", {"anonymous": 302, "grc_lead": 302, "reviewer": 403, "*": 404}),
    "reviews:decide": ("post", {"anonymous": 302, "reviewer": 302, "grc_lead": 403, "*": 404}),
    "reviews:delegate": ("post", {"anonymous": 302, "reviewer": 302, "grc_lead": 403, "*": 404}),
    # Evidence packs: the GRC lead sees and builds every engagement; auditor_shared sees the one
    # shared with them and its packs (download, verify); everyone else gets 404 for both.
    # Building is posted without a form: the GRC lead gets the page back with the errors (200).
    "evidence:list": ("get", {"anonymous": 302, "*": 200}),
    "evidence:create": ("get", {"anonymous": 302, "grc_lead": 200, "*": 403}),
    "evidence:verify_upload": ("get", {"anonymous": 302, "*": 200}),
    "evidence:detail": ("get", {"anonymous": 302, "grc_lead": 200, "auditor_shared": 200, "*": 404}),
    "evidence:share": ("get", {"anonymous": 302, "grc_lead": 200, "auditor_shared": 403, "*": 404}),
    "evidence:build": ("post", {"anonymous": 302, "grc_lead": 200, "auditor_shared": 403, "*": 404}),
    "evidence:pack": ("get", {"anonymous": 302, "grc_lead": 200, "auditor_shared": 200, "*": 404}),
    "evidence:pack_progress": ("get", {"anonymous": 302, "grc_lead": 200, "auditor_shared": 200, "*": 404}),
    "evidence:pack_download": ("get", {"anonymous": 302, "grc_lead": 200, "auditor_shared": 200, "*": 404}),
    "evidence:pack_verify": ("post", {"anonymous": 302, "grc_lead": 200, "auditor_shared": 200, "*": 404}),
    # API tokens: everyone manages their own; the inventory of every user's tokens is the GRC
    # lead's. The token in the world is the GRC lead's own: others do not even see it (404).
    "tokens:mine": ("get", {"anonymous": 302, "*": 200}),
    "tokens:inventory": ("get", {"anonymous": 302, "grc_lead": 200, "*": 403}),
    "tokens:revoke": ("post", {"anonymous": 302, "grc_lead": 302, "*": 404}),
    # Webhooks: the GRC lead's (view and manage); an endpoint is hidden from everyone else.
    "notifications:endpoint_list": ("get", {"anonymous": 302, "grc_lead": 200, "*": 403}),
    "notifications:endpoint_detail": ("get", {"anonymous": 302, "grc_lead": 200, "*": 404}),
    "notifications:endpoint_edit": ("post", {"anonymous": 302, "grc_lead": 200, "*": 404}),  # an empty form: shown again with errors
    "notifications:endpoint_rotate": ("post", {"anonymous": 302, "grc_lead": 200, "*": 404}),  # the new secret, shown once
    # Django's admin is for staff only; no demo role is staff.
    "admin:index": ("get", {"*": 302}),
}


@pytest.fixture(scope="module")
def matrix_world(django_db_setup, django_db_blocker):
    """The seeded world, built once per test module (and xdist worker) inside a transaction
    that is rolled back when the module is done. Each test still runs in its own savepoint
    (``world`` below asks for ``db``), so what one test changes is undone before the next —
    the isolation Django's ``TestCase.setUpTestData`` gives, at a fraction of the cost of
    building ~20 kinds of rows for each of the matrices' ~1,000 cases."""
    with django_db_blocker.unblock():
        outer = transaction.atomic()
        outer.__enter__()
    try:
        with django_db_blocker.unblock():
            catalog_load(data=read_catalog())
            built = _build_world(list(Requirement.objects.order_by("position")))
        yield built
    finally:
        with django_db_blocker.unblock():
            transaction.set_rollback(True)
            outer.__exit__(None, None, None)


@pytest.fixture
def world(db, matrix_world):
    """The module's seeded world, for one test in its own savepoint: ``(people, url kwargs)``."""
    return matrix_world


def _build_world(catalog):
    people = {
        "grc_lead": make_user(Role.GRC_LEAD, username="m-grc"),
        "approver": make_user(Role.APPROVER, username="m-approver"),
        "reviewer": make_user(Role.REVIEWER, username="m-reviewer"),
        "auditor": make_user(Role.AUDITOR, username="m-auditor"),
        "auditor_shared": make_user(Role.AUDITOR, username="m-auditor-shared"),
        "owner": make_user(Role.APPROVER, username="m-owner"),
    }
    control = services.control_create(actor=people["grc_lead"], title="C", owner=people["owner"], narrative="n", requirements=[catalog[0]])
    services.control_share(actor=people["grc_lead"], control=control, grantee=people["auditor_shared"], permissions=["view_control"])
    evidence = services.control_evidence_attach(
        actor=people["grc_lead"], control=control, name="p.txt", content=b"policy", effective_date=dt.date(2026, 1, 1)
    )
    inv = _inventory(people)
    _posture(inv, catalog)
    exception = _exception(people, inv)
    signed_off, in_review = _campaigns(people, inv)
    engagement, pack = _evidence(people)
    from apps.api.services import token_issue

    token = token_issue(
        actor=people["grc_lead"], name="matrix", scope="read", expires_at=dt.datetime.now(dt.UTC) + dt.timedelta(days=5)
    ).token
    from apps.notifications.services import endpoint_create

    endpoint = endpoint_create(
        actor=people["grc_lead"], name="matrix", url="https://8.8.8.8/hook", events=["exception.approved"]
    ).endpoint  # a literal public address: nothing to resolve
    kwargs = {
        "tokens:revoke": {"pk": token.pk},
        **{f"notifications:{name}": {"pk": endpoint.pk} for name in ("endpoint_detail", "endpoint_edit", "endpoint_rotate")},
        "evaluation:evaluation_progress": {"pk": _latest_evaluation_id()},
        "catalog:detail": {"ref": catalog[0].ref},
        "controls:detail": {"pk": control.pk},
        "controls:edit": {"pk": control.pk},
        "controls:share": {"pk": control.pk},
        "controls:evidence_upload": {"pk": control.pk},
        "controls:evidence_download": {"pk": control.pk, "evidence_id": evidence.pk},
        "inventory:source_detail": {"pk": inv["source"].pk},
        "inventory:source_edit": {"pk": inv["source"].pk},
        "inventory:source_collect": {"pk": inv["source"].pk},
        "inventory:source_share": {"pk": inv["source"].pk},
        "inventory:run_detail": {"pk": inv["run"].pk},
        "inventory:run_units": {"pk": inv["run"].pk},
        "inventory:run_retry": {"pk": inv["run"].pk},
        "inventory:credential_detail": {"pk": inv["credential"].pk},
        "inventory:identity_detail": {"pk": inv["identity"].pk},
        "evaluation:requirement": {"ref": catalog[0].ref},
        "evaluation:requirement_status": {"ref": catalog[0].ref},
        **{f"exceptions:{name}": {"pk": exception.pk} for name in ("detail", "approve", "reject", "revoke", "close", "submit", "renew")},
        "reviews:detail": {"pk": signed_off.pk},
        "reviews:state": {"pk": signed_off.pk},
        "reviews:share": {"pk": signed_off.pk},
        **{f"reviews:{name}": {"pk": in_review.pk} for name in ("start", "sign_off", "cancel", "reassign", "remind", "decide", "delegate")},
        **{f"evidence:{name}": {"pk": engagement.pk} for name in ("detail", "share", "build")},
        **{
            f"evidence:{name}": {"pk": engagement.pk, "pack_pk": pack.pk}
            for name in ("pack", "pack_progress", "pack_download", "pack_verify")
        },
    }
    return people, kwargs


def _latest_evaluation_id() -> int:
    from apps.evaluation.models import Evaluation

    return Evaluation.objects.order_by("-pk").values_list("pk", flat=True).first()


def _inventory(people) -> dict:
    """A source shared with auditor_shared, a finished run with a failed unit, an identity and its key."""
    from django.utils import timezone
    from guardian.shortcuts import assign_perm

    from apps.inventory.models import CollectionRun, Credential, Identity, Source

    now = timezone.now()
    source = SourceFactory(
        name="prod",
        kind=Source.Kind.AWS_ACCOUNT,
        aws_account_id="123456789012",
        role_arn="arn:aws:iam::123456789012:role/audit",
        regions=["eu-west-1"],
        created_by=people["grc_lead"],
    )
    assign_perm("view_source", people["auditor_shared"], source)
    run = CollectionRunFactory(status=CollectionRun.Status.PARTIAL, requested_by=people["grc_lead"], started_at=now, finished_at=now)
    ok = CollectionUnitFactory(run=run, source=source, connector="aws_iam", scope="aws_iam", status="succeeded", attempts=1)
    CollectionUnitFactory(
        run=run,
        source=source,
        connector="aws_secrets_manager",
        scope="aws_secrets_manager:eu-west-1",
        region="eu-west-1",
        status="failed",
        attempts=1,
        errors=[{"code": "throttled", "message": "Rate exceeded", "item": ""}],
    )
    SnapshotFactory(unit=ok, source=source, scope="aws_iam", taken_at=now, identity_count=1, credential_count=1, content_sha256="0" * 64)
    identity = IdentityFactory(
        source=source,
        scope="aws_iam",
        external_id="arn:aws:iam::123456789012:user/alice",
        name="alice",
        kind=Identity.Kind.HUMAN,
        fingerprint="f",
        first_seen_at=now,
    )
    credential = CredentialFactory(
        source=source,
        scope="aws_iam",
        external_id="AKIAEXAMPLE",
        credential_type=Credential.Type.ACCESS_KEY,
        name="AKIAEXAMPLE",
        identity=identity,
        enabled=True,
        fingerprint="f",
        first_seen_at=now,
    )
    return {"source": source, "run": run, "identity": identity, "credential": credential}


def _posture(inv, catalog) -> None:
    """A succeeded evaluation with a rule result, a status per requirement and a finding on the key."""
    from django.utils import timezone

    from apps.evaluation.models import Evaluation, RequirementStatus, RuleResult
    from apps.evaluation.services import policy_current

    now = timezone.now()
    evaluation = EvaluationFactory(
        state=Evaluation.State.SUCCEEDED,
        policy_version=policy_current(),
        as_of=now,
        finished_at=now,
        counts={"credentials": 1, "identities": 1, "sources": 1, "failed": 1},
    )
    RuleResult.objects.create(evaluation=evaluation, rule_id="iam-key-rotation-age", severity="high", status="fail", population=1, failed=1)
    RequirementStatus.objects.bulk_create(
        [
            RequirementStatus(
                evaluation=evaluation,
                requirement=r,
                status="fail" if "iam-key-rotation-age" in r.rule_ids else "not_assessed",
                population=1,
                failed=1,
                rule_ids=list(r.rule_ids),
            )
            for r in catalog
        ]
    )
    FindingFactory(
        evaluation=evaluation,
        rule_id="iam-key-rotation-age",
        status="fail",
        severity="high",
        subject_type="credential",
        source=inv["source"],
        credential=inv["credential"],
        identity=inv["identity"],
        subject_label="AKIAEXAMPLE",
        reason="key is 400 days old",
    )


def _exception(people, inv):
    """A pending exception for the key, requested by the GRC lead, owned by ``owner``, shared (view) with auditor_shared."""
    from django.utils import timezone
    from guardian.shortcuts import assign_perm

    from apps.exceptions_register.services import exception_request

    exception = exception_request(
        actor=people["grc_lead"],
        title="Legacy batch key",
        rule_ids=["iam-key-rotation-age"],
        scope={"credential_ids": [inv["credential"].pk]},
        justification="the vendor cannot rotate yet",
        compensating_controls="IP allow-list",
        risk="medium",
        owner=people["owner"],
        expires_on=timezone.now().date() + dt.timedelta(days=30),
    ).exception
    assign_perm("view_exceptionrequest", people["auditor_shared"], exception)
    return exception


def _campaigns(people, inv):
    """A signed-off campaign shared (view) with auditor_shared, and one in review; the reviewer
    persona is the fallback reviewer of both."""
    from django.db import transaction
    from django.utils import timezone

    from apps.accounts.sharing import object_share
    from apps.reviews import services

    made = []
    for name in ("Q3 keys", "Q4 keys"):
        draft = services.campaign_create(
            actor=people["grc_lead"],
            name=name,
            scope={"source_ids": [inv["source"].pk]},
            due_date=timezone.now().date() + dt.timedelta(days=10),
            fallback_reviewer=people["reviewer"],
        )
        made.append(services.campaign_start(actor=people["grc_lead"], campaign=draft))
    signed_off = made[0]
    services.items_decide(
        actor=people["reviewer"],
        campaign=signed_off,
        item_ids=list(signed_off.items.values_list("pk", flat=True)),
        decision="keep",
        justification="still used by the nightly job",
    )
    services.campaign_sign_off(actor=people["grc_lead"], campaign=signed_off)
    with transaction.atomic():
        object_share(actor=people["grc_lead"], obj=signed_off, grantee=people["auditor_shared"], permissions=["view_campaign"])
    return signed_off, made[1]


def _evidence(people):
    """An engagement shared (view) with auditor_shared, and a succeeded pack of it (a small stored zip:
    building a real one is tested in tests/evidence)."""
    import hashlib

    from django.core.files.base import ContentFile
    from django.utils import timezone
    from guardian.shortcuts import assign_perm

    from apps.evidence.models import Pack
    from apps.evidence.services import engagement_create

    engagement = engagement_create(
        actor=people["grc_lead"], name="Audit", period_start=dt.date(2026, 1, 1), period_end=dt.date(2026, 12, 31)
    )
    assign_perm("view_engagement", people["auditor_shared"], engagement)
    content = b"PK\x05\x06" + b"\x00" * 18  # an empty zip
    sha = hashlib.sha256(content).hexdigest()
    pack = Pack(
        engagement=engagement,
        pack_id="KT-MATRIX",
        as_of=timezone.now(),
        sample_seed=1,
        built_by=people["grc_lead"],
        state=Pack.State.SUCCEEDED,
        progress=100,
        sha256=sha,
        size=len(content),
    )
    pack.file.save(f"{sha}.zip", ContentFile(content), save=False)
    pack.save()
    return engagement, pack
