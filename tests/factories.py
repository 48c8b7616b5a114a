"""factory_boy factories for the rows tests build directly (below the services: the state a
test needs, without the pipeline that would normally produce it).

Each factory fills the fields the model requires with plain, valid values; a test passes every
value its meaning depends on. Rows that belong together are built together: a snapshot brings
its unit and run, a finding its evaluation, a credential's source is its identity's when given.
Where the services are the subject (exceptions requested and approved, campaigns started), tests
use the services instead; these factories are for everything around them.
"""

import datetime as dt

import factory
from django.utils import timezone

from apps.accounts.models import User
from apps.accounts.roles import Role
from apps.accounts.services import user_role_assign


class UserFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = User
        skip_postgeneration_save = True

    username = factory.Sequence(lambda n: f"user{n}")
    email = factory.LazyAttribute(lambda u: f"{u.username}@example.test")
    password = factory.PostGenerationMethodCall("set_password", "pw-for-tests-only")

    @factory.post_generation
    def role(self, create, extracted, **kwargs):
        self.save()
        if create and extracted:
            from django.db import transaction

            with transaction.atomic():
                user_role_assign(user=self, role=extracted)


def make_user(role: str | None, **kwargs) -> User:
    return UserFactory(role=role, **kwargs)


ROLES = list(Role.values)


# --- inventory -----------------------------------------------------------------------------------


class SourceFactory(factory.django.DjangoModelFactory):
    """An AWS account source (``kind``, ``aws_account_id``, ``role_arn`` or ``vault_url`` as given)."""

    class Meta:
        model = "inventory.Source"

    name = factory.Sequence(lambda n: f"source-{n}")
    kind = "aws_account"
    created_by = factory.SubFactory(UserFactory)


class CollectionRunFactory(factory.django.DjangoModelFactory):
    """A finished, succeeded run."""

    class Meta:
        model = "inventory.CollectionRun"

    status = "succeeded"
    started_at = factory.LazyFunction(timezone.now)
    finished_at = factory.SelfAttribute("started_at")


class CollectionUnitFactory(factory.django.DjangoModelFactory):
    """One unit of a run; its connector is its scope's prefix (``aws_secrets_manager:eu-west-1`` →
    ``aws_secrets_manager``)."""

    class Meta:
        model = "inventory.CollectionUnit"

    run = factory.SubFactory(CollectionRunFactory)
    source = factory.SubFactory(SourceFactory)
    scope = "aws_iam"
    connector = factory.LazyAttribute(lambda u: u.scope.split(":")[0])


class SnapshotFactory(factory.django.DjangoModelFactory):
    """A unit's snapshot (the unit and its run built too unless given)."""

    class Meta:
        model = "inventory.Snapshot"

    unit = factory.SubFactory(CollectionUnitFactory, source=factory.SelfAttribute("..source"), scope=factory.SelfAttribute("..scope"))
    source = factory.SubFactory(SourceFactory)
    scope = "aws_iam"
    taken_at = factory.LazyFunction(timezone.now)
    content_sha256 = "0" * 64


class IdentityFactory(factory.django.DjangoModelFactory):
    """An IAM user named ``name`` in account 123456789012 (``external_id`` its ARN unless given)."""

    class Meta:
        model = "inventory.Identity"

    source = factory.SubFactory(SourceFactory)
    scope = "aws_iam"
    name = factory.Sequence(lambda n: f"user-{n}")
    external_id = factory.LazyAttribute(lambda i: f"arn:aws:iam::123456789012:user/{i.name}")
    kind = "human"
    fingerprint = "f"
    first_seen_at = factory.LazyFunction(timezone.now)


class CredentialFactory(factory.django.DjangoModelFactory):
    """An access key (``external_id`` its name unless given) on its identity's source, if it has one."""

    class Meta:
        model = "inventory.Credential"

    identity = None
    source = factory.LazyAttribute(lambda c: c.identity.source if c.identity else SourceFactory())
    scope = "aws_iam"
    name = factory.Sequence(lambda n: f"AKIATEST{n:08d}")
    external_id = factory.SelfAttribute("name")
    credential_type = "access_key"
    fingerprint = "f"
    first_seen_at = factory.LazyFunction(timezone.now)


# --- evaluation ----------------------------------------------------------------------------------


def _policy_current():
    from apps.evaluation.services import policy_current

    return policy_current()


class EvaluationFactory(factory.django.DjangoModelFactory):
    """A succeeded evaluation under the current policy, as of now."""

    class Meta:
        model = "evaluation.Evaluation"

    policy_version = factory.LazyFunction(_policy_current)
    state = "succeeded"
    as_of = factory.LazyFunction(timezone.now)
    finished_at = factory.SelfAttribute("as_of")
    counts = factory.LazyFunction(dict)


class FindingFactory(factory.django.DjangoModelFactory):
    """A failing finding of ``iam-key-rotation-age`` in its evaluation (built unless given), about
    ``credential`` or ``identity`` when given (their source is the finding's)."""

    class Meta:
        model = "evaluation.Finding"

    evaluation = factory.SubFactory(EvaluationFactory)
    rule_id = "iam-key-rotation-age"
    status = "fail"
    severity = "high"
    credential = None
    identity = None
    subject_type = factory.LazyAttribute(lambda f: "credential" if f.credential else "identity" if f.identity else "source")
    source = factory.LazyAttribute(lambda f: (f.credential or f.identity).source if (f.credential or f.identity) else SourceFactory())
    subject_label = factory.LazyAttribute(lambda f: (f.credential or f.identity or f.source).name)
    reason = "fails the rule"


# --- exceptions, reviews, evidence ---------------------------------------------------------------


class ExceptionRequestFactory(factory.django.DjangoModelFactory):
    """A draft exception for ``iam-key-rotation-age``, expiring in 30 days, owned and requested by one user."""

    class Meta:
        model = "exceptions_register.ExceptionRequest"

    ref = factory.Sequence(lambda n: f"EXC-T{n:04d}")
    title = factory.Sequence(lambda n: f"Exception {n}")
    rule_ids = factory.LazyFunction(lambda: ["iam-key-rotation-age"])
    justification = "vendor constraint"
    compensating_controls = "IP allow-list"
    risk = "low"
    owner = factory.SubFactory(UserFactory)
    requester = factory.SelfAttribute("owner")
    expires_on = factory.LazyFunction(lambda: timezone.now().date() + dt.timedelta(days=30))


class CampaignFactory(factory.django.DjangoModelFactory):
    """A draft campaign over everything, due in 14 days (start it with ``campaign_start``)."""

    class Meta:
        model = "reviews.Campaign"

    name = factory.Sequence(lambda n: f"Campaign {n}")
    created_by = factory.SubFactory(UserFactory)
    fallback_reviewer = factory.SubFactory(UserFactory)
    due_date = factory.LazyFunction(lambda: timezone.now().date() + dt.timedelta(days=14))


class EngagementFactory(factory.django.DjangoModelFactory):
    """An engagement over the calendar year 2026."""

    class Meta:
        model = "evidence.Engagement"

    name = factory.Sequence(lambda n: f"Engagement {n}")
    period_start = dt.date(2026, 1, 1)
    period_end = dt.date(2026, 12, 31)
    created_by = factory.SubFactory(UserFactory)
