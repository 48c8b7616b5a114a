"""The paginators that read a page without sorting or skipping whole rows: every page holds
exactly what Django's plain Paginator over the same ordering holds, in the same order."""

import datetime as dt

import pytest
from django.core.paginator import Paginator
from django.db.models import Count, Q

from apps.core.pagination import GroupedPaginator, IdPaginator
from apps.inventory.models import Credential, Identity, Source
from tests.factories import CredentialFactory, IdentityFactory, SourceFactory

pytestmark = pytest.mark.django_db

T0 = dt.datetime(2026, 1, 1, tzinfo=dt.UTC)
WITHIN = ("credential_type", "name", "pk")


@pytest.fixture
def credentials(grc_lead):
    # Sources created in an order unlike their names; groups of 0, 1, 7 and 12 rows; names that
    # sort differently from their ids; duplicated names (the id breaks the tie).
    sizes = {"zulu": 7, "alpha": 12, "mike": 1, "empty": 0}
    for name, size in sizes.items():
        source = SourceFactory(
            name=name, kind=Source.Kind.AZURE_KEY_VAULT, vault_url=f"https://{name}.vault.azure.net/", created_by=grc_lead
        )
        for n in range(size):
            CredentialFactory(
                source=source,
                scope="s",
                external_id=f"{name}-{n}",
                name=f"n{(n * 7) % 5}",
                credential_type=("kv_secret", "access_key", "sm_secret")[n % 3],
                fingerprint="f",
                first_seen_at=T0,
                enabled=n % 2 == 0,
            )
    return Credential.objects.select_related("source").order_by("source__name", *WITHIN)


def _pages(paginator):
    return [[obj.pk for obj in paginator.page(n)] for n in paginator.page_range]


@pytest.mark.parametrize("per_page", [1, 3, 5, 7, 50])
def test_grouped_pages_equal_the_plain_pages(credentials, per_page):
    grouped = GroupedPaginator(credentials, per_page, group="source_id", group_order="source__name", within=WITHIN)
    plain = Paginator(credentials, per_page)
    assert grouped.count == plain.count == 20 and grouped.num_pages == plain.num_pages
    assert _pages(grouped) == _pages(plain)
    assert [c.source.name for c in grouped.page(1)][:1] == ["alpha"]  # select_related kept for the rows


@pytest.mark.parametrize("per_page", [3, 7])
def test_grouped_pages_without_slices_in_a_union_are_the_same(credentials, per_page, monkeypatch):
    # SQLite (the demo's database) refuses LIMIT/OFFSET inside a UNION: pages spanning two
    # sources answered 500 there. Here PostgreSQL is told it cannot either, to run that path.
    from django.db import connection

    monkeypatch.setattr(connection.features, "supports_slicing_ordering_in_compound", False)
    grouped = GroupedPaginator(credentials, per_page, group="source_id", group_order="source__name", within=WITHIN)
    assert _pages(grouped) == _pages(Paginator(credentials, per_page))


def test_grouped_pages_of_a_filtered_list_and_junk_page_numbers(credentials):
    enabled = credentials.filter(enabled=True)
    grouped = GroupedPaginator(enabled, 4, group="source_id", group_order="source__name", within=WITHIN)
    assert _pages(grouped) == _pages(Paginator(enabled, 4))
    assert [o.pk for o in grouped.get_page("junk")] == [o.pk for o in grouped.page(1)]
    assert [o.pk for o in grouped.get_page(99)] == [o.pk for o in grouped.page(grouped.num_pages)]
    nothing = GroupedPaginator(credentials.none(), 4, group="source_id", group_order="source__name", within=WITHIN)
    assert nothing.count == 0 and list(nothing.get_page(1)) == []


def test_grouped_rows_are_read_through_rows(credentials, grc_lead):
    source = Source.objects.get(name="alpha")
    alice = IdentityFactory(source=source, scope="s", external_id="alice", name="alice", kind="human", fingerprint="f", first_seen_at=T0)
    Credential.objects.filter(source=source).update(identity=alice)
    identities = Identity.objects.order_by("source__name", "name", "pk")
    page = GroupedPaginator(
        identities,
        10,
        group="source_id",
        group_order="source__name",
        within=("name", "pk"),
        rows=lambda qs: qs.annotate(n=Count("credentials", filter=Q(credentials__enabled=True))),
    ).page(1)
    assert [(i.name, i.n) for i in page] == [("alice", 6)]


@pytest.mark.parametrize("per_page", [1, 6, 50])
def test_id_pages_equal_the_plain_pages(credentials, per_page):
    assert _pages(IdPaginator(credentials, per_page)) == _pages(Paginator(credentials, per_page))
