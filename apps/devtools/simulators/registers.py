"""A synthetic exception register and access-review campaign over an inventory already in the
database (apps/devtools/simulators/inventory.py), for the page benchmarks.

Everything goes through the services, as people would do it (audit events, object
permissions, separation of duties), so the pages read what production would hold.
Reproducible for a seed.
"""

from __future__ import annotations

import datetime as dt
import random
from collections import Counter

from django.db.models import Count
from django.utils import timezone

from apps.accounts.models import User
from apps.accounts.roles import Role
from apps.accounts.services import user_create
from apps.exceptions_register import services as exceptions
from apps.exceptions_register.models import ExceptionRequest
from apps.exceptions_register.scoping import rules_severity
from apps.exceptions_register.services import RISK_ORDER
from apps.inventory.models import Credential, Identity, Source
from apps.reviews import services as reviews
from apps.reviews.models import Campaign, ReviewItem

# Rules people ask exceptions for, with how long (days) they usually ask; risk drawn per request.
_RULES = [
    ["iam-key-rotation-age"],
    ["iam-key-unused"],
    ["owner-tag-missing"],
    ["request-reference-missing"],
    ["sm-rotation-disabled", "sm-not-rotated-within-limit"],
    ["kv-secret-no-expiry"],
    ["kv-secret-validity-too-long"],
    ["console-password-no-mfa"],
    ["iam-key-two-active"],
]
_RISKS = ["low"] * 4 + ["medium"] * 4 + ["high"] * 2 + ["critical"]
# How the register's requests end up: draft, pending, approved (most), rejected, revoked, closed, expired.
_FATES = ["draft"] * 3 + ["pending"] * 10 + ["approved"] * 55 + ["rejected"] * 8 + ["revoked"] * 6 + ["closed"] * 8 + ["expired"] * 10


def people(*, reviewers: int, password: str) -> dict:
    """A GRC lead, three approvers and ``reviewers`` reviewers. Reviewer *n* has the e-mail the
    synthetic inventory gives identity *n*'s owner, so owner-based assignment reaches them."""
    grc = user_create(username="bench-grc", password=password, role=Role.GRC_LEAD, email="grc@example.com")
    approvers = [user_create(username=f"bench-approver-{n}", password=password, role=Role.APPROVER) for n in range(3)]
    team = [
        user_create(username=f"bench-reviewer-{n}", password=password, role=Role.REVIEWER, email=f"user{n}@example.com")
        for n in range(reviewers)
    ]
    fallback = user_create(username="bench-fallback", password=password, role=Role.REVIEWER)
    return {"grc": grc, "approvers": approvers, "reviewers": team, "fallback": fallback}


def _scope(rng: random.Random, credential_ids: list[int], identity_ids: list[int], source_ids: list[int]) -> dict:
    kind = rng.random()
    if kind < 0.6:
        return {"credential_ids": rng.sample(credential_ids, rng.randint(1, 12))}
    if kind < 0.85:
        return {"identity_ids": rng.sample(identity_ids, rng.randint(1, 4))}
    if kind < 0.95:
        return {"tag": {"key": "owner", "value": "team@example.com"}}
    return {"source_ids": [rng.choice(source_ids)]}


def _failing_scopes() -> dict[int, dict[str, list[int]]]:
    """For each of _RULES (by index), the credentials and identities failing it in the latest
    evaluation: a request must excuse something. Empty before any evaluation."""
    from apps.evaluation.models import Finding
    from apps.evaluation.selectors import latest_evaluation

    latest = latest_evaluation()
    if latest is None:
        return {}
    found: dict[int, dict[str, list[int]]] = {}
    for index, rules in enumerate(_RULES):
        rows = Finding.objects.filter(evaluation=latest, rule_id__in=rules, status__in=["fail", "excepted"]).values_list(
            "credential_id", "identity_id"
        )
        credentials = sorted({c for c, _ in rows if c})
        identities = sorted({i for c, i in rows if i and not c})
        if credentials or identities:
            found[index] = {"credential_ids": credentials, "identity_ids": identities}
    return found


def seed_exception_register(*, count: int, seed: int, cast: dict) -> Counter:
    """``count`` exceptions in mixed states, requested by the GRC lead and the reviewers, owned
    by reviewers, decided by the approvers. Returns how many ended in each state."""
    rng = random.Random(seed)
    credential_ids = list(Credential.objects.filter(disappeared_at__isnull=True).values_list("pk", flat=True))
    identity_ids = list(Identity.objects.filter(disappeared_at__isnull=True).values_list("pk", flat=True))
    source_ids = list(Source.objects.values_list("pk", flat=True))
    today = timezone.now().date()
    approvers, grc = cast["approvers"], cast["grc"]
    requesters = [grc, *cast["reviewers"][:20]]
    expired = []
    failing = _failing_scopes()  # once evaluated, a scope must excuse what fails
    for n in range(count):
        fate, risk = rng.choice(_FATES), rng.choice(_RISKS)
        requester = rng.choice(requesters)
        owner = rng.choice([u for u in cast["reviewers"][:30] if u != requester])
        longest = exceptions.max_days_for(risk)
        if failing:
            index = rng.choice(sorted(failing))
            rules, pool = _RULES[index], failing[index]
            kind = "credential_ids" if pool["credential_ids"] else "identity_ids"
            scope = {kind: rng.sample(pool[kind], min(len(pool[kind]), rng.randint(1, 6)))}
        else:
            rules, scope = rng.choice(_RULES), _scope(rng, credential_ids, identity_ids, source_ids)
        severity = rules_severity(rules)
        lower = bool(severity) and RISK_ORDER.index(risk) < RISK_ORDER.index(severity)
        outcome = exceptions.exception_request(
            actor=requester,
            title=f"Exception {n}: legacy integration",
            rule_ids=rules,
            scope=scope,
            risk_reason="Internal-only integration behind the VPN; judged lower than the rule's severity." if lower else "",
            justification="The vendor's client cannot rotate keys yet.",
            compensating_controls="Network allow-list; alerting on use from new addresses.",
            risk=risk,
            owner=owner,
            expires_on=today + dt.timedelta(days=rng.randint(1 if fate == "expired" else 5, longest)),
            ticket_ref=f"CHG-{10000 + n}",
            submit=fate != "draft",
        )
        exception = outcome.exception
        if fate in ("draft", "pending"):
            continue
        if fate == "rejected":
            exceptions.exception_reject(actor=approvers[0], exception=exception, comment="Fix it instead.")
            continue
        for approver in approvers[: exception.required_approvals]:
            exception = exceptions.exception_approve(actor=approver, exception=exception, comment="Accepted until the migration.")
        if fate == "revoked":
            exceptions.exception_revoke(actor=grc, exception=exception, comment="The integration was retired.")
        elif fate == "closed":
            exceptions.exception_close(actor=owner, exception=exception, comment="Rotated at last.")
        elif fate == "expired":
            expired.append(exception.pk)
    # Requests cannot be made for past dates: the expired ones are moved back to a past last
    # day, then expired by the service the scheduler runs.
    ExceptionRequest.objects.filter(pk__in=expired).update(expires_on=today - dt.timedelta(days=3))
    exceptions.exception_expire_due(today=today)
    return Counter(ExceptionRequest.objects.values_list("state", flat=True))


def seed_campaign(*, cast: dict, credential_types: list[str], decided: float, seed: int) -> Campaign:
    """Start a campaign over the present credentials of ``credential_types`` and have every
    reviewer decide about ``decided`` of their items (mostly keep; some revoke or rotate, which
    opens remediation)."""
    rng = random.Random(seed)
    draft = reviews.campaign_create(
        actor=cast["grc"],
        name="Quarterly IAM review",
        scope={"credential_types": credential_types},
        due_date=timezone.now().date() + dt.timedelta(days=21),
        fallback_reviewer=cast["fallback"],
    )
    campaign = reviews.campaign_start(actor=cast["grc"], campaign=draft)
    for reviewer in [cast["fallback"], *cast["reviewers"]]:
        ids = list(campaign.items.filter(reviewer=reviewer).order_by("pk").values_list("pk", flat=True))
        ids = ids[: round(len(ids) * decided)]
        rng.shuffle(ids)
        cut1, cut2 = round(len(ids) * 0.8), round(len(ids) * 0.93)
        for decision, batch in (("keep", ids[:cut1]), ("revoke", ids[cut1:cut2]), ("rotate", ids[cut2:])):
            for start in range(0, len(batch), 1000):
                reviews.items_decide(
                    actor=reviewer,
                    campaign=campaign,
                    item_ids=batch[start : start + 1000],
                    decision=decision,
                    justification="Checked with the owner.",
                )
    return campaign


def busiest_reviewer(campaign: Campaign) -> User:
    """The reviewer with the most items in ``campaign``."""
    top = ReviewItem.objects.filter(campaign=campaign).values("reviewer").annotate(n=Count("pk")).order_by("-n", "reviewer").first()
    return User.objects.get(pk=top["reviewer"])
