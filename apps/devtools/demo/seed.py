"""The demo organisation: people in every role, controls over the catalog, manual evidence.

Idempotent: seeding an already-seeded database changes nothing. Later stages (sources,
collection, evaluation, exceptions, reviews, packs) extend this module.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from datetime import timedelta

from django.db import transaction
from django.utils import timezone

from apps.accounts.models import User
from apps.accounts.roles import Role
from apps.accounts.services import user_create, user_role_assign
from apps.catalog.models import Requirement
from apps.controls import services as control_services
from apps.controls.models import Control
from apps.core.models import Organisation

DEMO_ORGANISATION = "Northwind Cloud Services (demo)"


@dataclass(frozen=True)
class DemoUser:
    username: str
    password: str
    role: str
    first_name: str
    last_name: str


# Demo-only passwords, printed by the demo command. Never use these outside the demo.
DEMO_USERS = [
    DemoUser("grace", "demo-grc-lead-2026", Role.GRC_LEAD, "Grace", "Lindqvist"),
    DemoUser("arjun", "demo-approver-2026", Role.APPROVER, "Arjun", "Mehta"),
    # A second approver, so a high-risk exception's two approvals can be walked to the end.
    DemoUser("mei", "demo-approver-2-2026", Role.APPROVER, "Mei", "Tanaka"),
    DemoUser("rosa", "demo-reviewer-2026", Role.REVIEWER, "Rosa", "Okafor"),
    DemoUser("avery", "demo-auditor-2026", Role.AUDITOR, "Avery", "Brandt"),
]

# (title, requirement topics, status, frequency, rules, owner, narrative)
DEMO_CONTROLS = [
    (
        "Secret authentication information standard",
        ["scope-definition", "documented-use-practices"],
        "implemented",
        "annual",
        [],
        "grace",
        "The Credential Standard (SEC-STD-07) defines secret authentication information as every password, access key, API key, token and vault secret that proves an identity, "
        "and sets where each may be stored, how it is handed over and when it must be rotated. Staff acknowledge it at onboarding and yearly.",
    ),
    (
        "Credential request and approval workflow",
        ["formal-allocation", "initial-secrets", "non-human-ownership"],
        "partial",
        "quarterly",
        ["request-reference-missing", "owner-tag-missing"],
        "grace",
        "Access keys and service credentials are requested through the IAM-REQUEST ticket type, approved by the system owner and Security, and tagged with the ticket id "
        "(tag request-ref) and an owner on issuance. Keys created outside the workflow are detected by the missing tag.",
    ),
    (
        "Central secrets storage",
        ["central-storage", "no-plaintext-transport"],
        "implemented",
        "continuous",
        ["kv-secret-no-expiry"],
        "rosa",
        "Application and automation secrets live in AWS Secrets Manager or Azure Key Vault. Secrets are never sent by e-mail, chat or ticket; handover uses vault access grants.",
    ),
    (
        "Scheduled rotation by credential class",
        ["scheduled-rotation", "secret-expiry"],
        "partial",
        "continuous",
        ["iam-key-rotation-age", "sm-rotation-disabled", "sm-not-rotated-within-limit", "sm-rotation-overdue", "kv-secret-not-updated"],
        "grace",
        "IAM user keys are rotated every 90 days, database credentials every 60, external API keys every 180, service-account passwords every 90 and certificates yearly. "
        "Secrets Manager rotation is enabled for database credentials; keytrail checks every collection.",
    ),
    (
        "Unused credential removal",
        ["unused-credential-removal", "revocation-offboarding"],
        "implemented",
        "continuous",
        ["iam-key-unused", "console-password-unused", "sm-not-accessed"],
        "rosa",
        "Credentials unused for 45 days are disabled by the IAM team after owner confirmation, and deleted 30 days later.",
    ),
    (
        "Multi-factor authentication for people",
        ["mfa-enforced", "password-policy"],
        "implemented",
        "continuous",
        ["console-password-no-mfa", "privileged-user-no-mfa"],
        "grace",
        "Every console user must register MFA within 24 hours of account creation; privileged users must use hardware keys. An SCP denies actions without MFA.",
    ),
    (
        "Root and break-glass credentials",
        ["root-admin-credentials", "break-glass"],
        "implemented",
        "quarterly",
        ["root-access-key-active", "root-no-mfa"],
        "grace",
        "The root account has no access keys and a hardware MFA device held in the safe; break-glass use is logged, reviewed the next working day, and its password rotated after use.",
    ),
    (
        "Quarterly access review of credentials",
        ["periodic-access-review"],
        "planned",
        "quarterly",
        [],
        "grace",
        "Each quarter the GRC lead runs a keytrail campaign over privileged and non-human credentials; owners keep, revoke or rotate with a justification, and revocations are verified by the next collection.",
    ),
]


def _topic_map() -> dict[str, Requirement]:
    return {r.topic: r for r in Requirement.objects.filter(retired_in__isnull=True)}


@transaction.atomic
def seed_demo() -> dict[str, User]:
    """Create the demo organisation, users and controls if absent; return users by username."""
    if not Organisation.objects.exists():
        Organisation.objects.create(name=DEMO_ORGANISATION)
    users: dict[str, User] = {}
    for du in DEMO_USERS:
        user = User.objects.filter(username=du.username).first()
        if user is None:
            user = user_create(
                username=du.username,
                password=du.password,
                role=du.role,
                first_name=du.first_name,
                last_name=du.last_name,
                email=f"{du.username}@northwind.example",
            )
        users[du.username] = user
    if Control.objects.exists():
        return users

    grc = users["grace"]
    topics = _topic_map()
    for title, wanted, status, frequency, rules, owner, narrative in DEMO_CONTROLS:
        reqs = [topics[t] for t in wanted if t in topics]
        control = control_services.control_create(
            actor=grc,
            title=title,
            owner=users[owner],
            narrative=narrative,
            requirements=reqs,
            implementation_status=status,
            test_frequency=frequency,
            rule_ids=rules,
        )
        if control.ref in {"CTL-001", "CTL-004", "CTL-006"}:
            control_services.control_share(actor=grc, control=control, grantee=users["avery"], permissions=["view_control"])
    first = Control.objects.get(ref="CTL-001")
    control_services.control_evidence_attach(
        actor=grc,
        control=first,
        name="credential-standard-SEC-STD-07.md",
        content=_POLICY_TEXT.encode("utf-8"),
        effective_date=dt.date(timezone.now().year, 1, 15),
        description="Approved credential standard, version 3.2",
    )
    control_services.control_evidence_attach(
        actor=grc,
        control=first,
        name="security-awareness-completions.csv",
        content=_TRAINING_CSV.encode("utf-8"),
        effective_date=timezone.now().date() - dt.timedelta(days=20),
        description="Training export: acknowledgement of the credential standard",
    )
    return users


def seed_demo_sources(*, cloud) -> list:
    """Register the demo's two AWS accounts, its AWS organisation and its vaults (idempotent: by
    name, else by account or vault). The organisation's accounts are registered by its collection."""
    from apps.devtools.demo.cloud import ORG_REGIONS, PROD_ACCOUNT, REGIONS, SANDBOX_ACCOUNT
    from apps.inventory.models import Source
    from apps.inventory.services.sources import source_create, source_validate

    grc = User.objects.get(username="grace")
    wanted = [
        dict(
            name="Northwind production (AWS)",
            kind=Source.Kind.AWS_ACCOUNT,
            role_arn=f"arn:aws:iam::{PROD_ACCOUNT}:role/keytrail-audit",
            external_id="northwind-keytrail",
            regions=REGIONS,
        ),
        dict(
            name="Northwind sandbox (AWS)",
            kind=Source.Kind.AWS_ACCOUNT,
            role_arn=f"arn:aws:iam::{SANDBOX_ACCOUNT}:role/keytrail-audit",
            regions=REGIONS[:1],
        ),
        *[dict(name=name, kind=Source.Kind.AZURE_KEY_VAULT, vault_url=url) for name, url in cloud.vault_urls.items()],
        dict(
            name="Northwind organisation (AWS)",
            kind=Source.Kind.AWS_ORGANIZATION,
            role_arn=f"arn:aws:iam::{PROD_ACCOUNT}:role/keytrail-organization",
            member_role_name="keytrail-audit",
            external_id="northwind-keytrail",
            regions=ORG_REGIONS,
        ),
    ]
    wanted += _demo_subscription_sources(cloud)
    wanted += _entra_sources(cloud)
    sources = []
    for values in wanted:
        # By name, else by account or vault (renamed since): never a second source for one account.
        key = source_validate(**values)["source_key"]
        source = Source.objects.filter(name=values["name"]).first() or Source.objects.filter(kind=values["kind"], source_key=key).first()
        sources.append(source or source_create(actor=grc, **values))
    return sources


def _demo_subscription_sources(cloud) -> list[dict]:
    """The Azure subscription source (issue #17): its four vaults are registered by its collection."""
    from apps.inventory.models import Source

    ids = list(getattr(cloud, "subscription_ids", ()) or ())
    return [dict(name="Northwind subscription (Azure)", kind=Source.Kind.AZURE_SUBSCRIPTION, subscription_ids=ids)] if ids else []


def _entra_sources(cloud) -> list[dict]:
    """The demo's Entra ID tenant, when its Graph simulator runs (apps/devtools/demo/entra.py)."""
    from apps.devtools.demo.entra import DEMO_TENANT_ID
    from apps.inventory.models import Source

    graph_url = getattr(cloud, "graph_url", "")
    if not graph_url:
        return []
    return [dict(name="Northwind Entra ID", kind=Source.Kind.ENTRA_TENANT, graph_tenant_id=DEMO_TENANT_ID, graph_url=graph_url)]


def seed_demo_exceptions(*, evaluation) -> int:
    """A few exceptions in different states (idempotent: only when there are none yet):
    one closed early, one approved and about to expire, one high-risk waiting for its second
    approval (Arjun gave the first; Mei, the demo's second approver, can give the second), one
    rejected. Returns how many were created."""
    from apps.evaluation.models import Finding
    from apps.exceptions_register import services as exc
    from apps.exceptions_register.models import ExceptionRequest

    if ExceptionRequest.objects.exists():
        return 0
    users = {u.username: u for u in User.objects.filter(username__in=["grace", "arjun", "rosa"])}
    failing = Finding.objects.filter(evaluation=evaluation, status="fail")
    keys = list(failing.filter(rule_id="iam-key-rotation-age").order_by("id").values_list("credential_id", flat=True)[:3])
    root = failing.filter(rule_id="root-no-mfa").values_list("identity_id", flat=True).first()
    vault_secret = failing.filter(rule_id="kv-secret-no-expiry").values_list("credential_id", flat=True).first()
    today = timezone.now().date()
    common = dict(
        compensating_controls="Key restricted to the vendor's IP range; CloudTrail alert on any use outside it.",
        justification="The payment vendor's integration cannot take a new key until its Q1 release.",
    )
    created = 0
    if len(keys) >= 2:
        old = exc.exception_request(
            actor=users["rosa"],
            title="Vendor integration key (last quarter)",
            rule_ids=["iam-key-rotation-age"],
            scope={"credential_ids": [keys[1]]},
            risk="medium",
            owner=users["rosa"],
            expires_on=today + timedelta(days=10),
            ticket_ref="CHG-40112",
            **common,
        ).exception
        exc.exception_approve(actor=users["arjun"], exception=old, comment="Accepted with the IP restriction.")
        exc.exception_close(actor=users["rosa"], exception=old, comment="The vendor moved to the new key; exception no longer needed.")
        soon = exc.exception_request(
            actor=users["rosa"],
            title="Vendor integration key",
            rule_ids=["iam-key-rotation-age"],
            scope={"credential_ids": [keys[0]]},
            risk="medium",
            owner=users["rosa"],
            expires_on=today + timedelta(days=5),
            ticket_ref="CHG-41877",
            **common,
        ).exception
        exc.exception_approve(actor=users["arjun"], exception=soon, comment="Accepted until the vendor release; renew only with a date.")
        created += 2
    if root:
        high = exc.exception_request(
            actor=users["grace"],
            title="Sandbox root MFA device on order",
            rule_ids=["root-no-mfa"],
            scope={"identity_ids": [root]},
            risk="high",
            risk_reason="Sandbox account with no production data; an SCP blocks every root action but billing.",
            owner=users["rosa"],
            expires_on=today + timedelta(days=20),
            ticket_ref="SEC-991",
            justification="The hardware key for the sandbox root account arrives next week.",
            compensating_controls="Root password in the safe; SCP denies root actions except billing.",
        ).exception
        exc.exception_approve(actor=users["arjun"], exception=high, comment="Fine with the SCP in place; second approver needed.")
        created += 1
    if vault_secret:
        rejected = exc.exception_request(
            actor=users["rosa"],
            title="Never-expiring vault secret",
            rule_ids=["kv-secret-no-expiry"],
            scope={"credential_ids": [vault_secret]},
            risk="low",
            risk_reason="Only the app's managed identity can read the vault.",
            owner=users["rosa"],
            expires_on=today + timedelta(days=90),
            justification="The app reads it at start-up only.",
            compensating_controls="None.",
        ).exception
        exc.exception_reject(actor=users["arjun"], exception=rejected, comment="Set an expiry and rotate it; no compensating control.")
        created += 1
    return created


DEMO_SIGNED_OFF_CAMPAIGN = "Q3 review: privileged access keys (production)"
DEMO_ACTIVE_CAMPAIGN = "Q4 review: application secrets"


def _iam_client(cloud):
    import boto3

    # The demo's base credentials land in moto's default account, which is the production account.
    return boto3.client("iam", endpoint_url=cloud.aws_url, region_name="us-east-1")


def redo_demo_remediation(*, cloud) -> int:
    """The simulated cloud is re-seeded at every demo start; delete again the keys the demo's
    admin deleted after a revoke decision, so the next collection still finds them gone (and
    the verified remediation stays verified). Returns how many keys were deleted."""
    from apps.reviews.models import Remediation

    client = _iam_client(cloud)
    deleted = 0
    for r in Remediation.objects.filter(item__campaign__name=DEMO_SIGNED_OFF_CAMPAIGN, action="revoke").select_related(
        "credential__identity"
    ):
        try:
            client.delete_access_key(UserName=r.credential.identity.name, AccessKeyId=r.credential.external_id)
            deleted += 1
        except client.exceptions.NoSuchEntityException:
            pass
    return deleted


def seed_demo_reviews(*, cloud, sources) -> bool:
    """Two access reviews (idempotent: only when there is none yet). A signed-off one over the
    production account's privileged access keys: Rosa revokes one key and keeps the rest in
    bulk, the admin deletes that key in the simulated AWS, a new collection verifies it, Grace
    signs off and shares it with Avery (auditor). And one in progress over application secrets,
    partly decided, some items reassigned to Arjun."""
    from apps.devtools.demo.worker import wait_until
    from apps.inventory.models import CollectionRun
    from apps.inventory.services.collection import collection_start
    from apps.reviews import services as rv
    from apps.reviews.models import Campaign, Remediation

    if Campaign.objects.exists():
        return False
    users = {u.username: u for u in User.objects.filter(username__in=["grace", "arjun", "rosa", "avery"])}
    grace, rosa = users["grace"], users["rosa"]
    prod = sources[0]
    today = timezone.now().date()
    with transaction.atomic():
        q3 = rv.campaign_create(
            actor=grace,
            name=DEMO_SIGNED_OFF_CAMPAIGN,
            due_date=today + timedelta(days=7),
            fallback_reviewer=rosa,
            scope={"source_ids": [prod.pk], "credential_types": ["access_key"], "privileged_only": True},
        )
    q3 = rv.campaign_start(actor=grace, campaign=q3)
    items = list(q3.items.filter(reviewer=rosa).order_by("-facts__credential__key_age_days", "pk"))
    if items:
        revoke, keep = items[0], [i.pk for i in items[1:]]
        rv.items_decide(
            actor=rosa,
            campaign=q3,
            item_ids=[revoke.pk],
            decision="revoke",
            justification="Oldest privileged key; its user moved to SSO in August and the key is no longer needed.",
        )
        if keep:
            rv.items_decide(
                actor=rosa,
                campaign=q3,
                item_ids=keep,
                decision="keep",
                justification="Checked with the platform team: used by deployment pipelines, rotation tracked in CHG-40990.",
            )
        redo_demo_remediation(cloud=cloud)  # the admin acts on the decision in AWS
        run = collection_start(actor=grace, sources=[prod])  # the collection verifies the revocation
        wait_until(lambda: CollectionRun.objects.get(pk=run.pk).finished_at is not None, what=f"collection run #{run.pk}")
        # The run's end queues the remediation check (config/pipeline.py); sign-off needs it done.
        try:
            wait_until(lambda: not Remediation.objects.filter(item__campaign=q3, state="open").exists(), timeout=180, what="remediation")
        except TimeoutError:
            pass  # not verified: the campaign is signed off all the same, with the remediation shown open
    rv.campaign_sign_off(actor=grace, campaign=q3, comment="All privileged production keys reviewed; one revoked and verified.")
    from apps.accounts.sharing import object_share

    with transaction.atomic():
        object_share(actor=grace, obj=q3, grantee=users["avery"], permissions=["view_campaign"])

    with transaction.atomic():
        q4 = rv.campaign_create(
            actor=grace,
            name=DEMO_ACTIVE_CAMPAIGN,
            due_date=today + timedelta(days=12),
            fallback_reviewer=rosa,
            scope={"credential_types": ["sm_secret", "kv_secret"]},
            justification_rule="changes",
        )
    q4 = rv.campaign_start(actor=grace, campaign=q4)
    ids = list(q4.items.filter(reviewer=rosa).order_by("pk").values_list("pk", flat=True))
    if len(ids) > 20:
        rv.items_decide(actor=rosa, campaign=q4, item_ids=ids[:6], decision="keep", justification="")
        rv.items_decide(
            actor=rosa,
            campaign=q4,
            item_ids=ids[6:8],
            decision="rotate",
            justification="Shared with a contractor whose engagement ended; rotate and re-issue through the vault.",
        )
        # Items go only to reviewers: Arjun, an approver, also reviews the payments secrets he owns.
        user_role_assign(user=users["arjun"], role=Role.REVIEWER, actor=grace)
        rv.items_reassign(
            actor=grace, campaign=q4, item_ids=ids[-10:], to_reviewer=users["arjun"], note="Payments secrets: Arjun owns these."
        )
    return True


_POLICY_TEXT = """# Credential Standard SEC-STD-07 (demo)

1. Scope: passwords, access keys, API keys, tokens and vault secrets that prove an identity.
2. Issuance: only through the IAM-REQUEST workflow, approved by the system owner and Security.
3. Storage: AWS Secrets Manager or Azure Key Vault; never in code, tickets, chat or e-mail.
4. Rotation: IAM user keys 90 days; database credentials 60; external API keys 180;
   service-account passwords 90; certificates 1 year; immediately on suspected compromise.
5. Revocation: on departure the same day; unused for 45 days, disabled.
"""

_TRAINING_CSV = """employee_id,name,course,completed_on
E1001,Grace Lindqvist,Credential Standard acknowledgement,2026-10-02
E1002,Arjun Mehta,Credential Standard acknowledgement,2026-10-03
E1003,Rosa Okafor,Credential Standard acknowledgement,2026-10-05
"""
