"""Id sets bound as one bigint array parameter (a text literal on PostgreSQL) select exactly those rows."""

import pytest

from apps.core.rows import bigint_array, id_set, where_id_in
from apps.inventory.models import Source
from tests.factories import SourceFactory


def test_the_literal_is_the_array_of_the_ids():
    assert bigint_array([]) == "{}"
    assert bigint_array([3, 1, None, 2**62]) == "{3,1,NULL,4611686018427387904}"
    with pytest.raises(ValueError):
        bigint_array(["1,2"])  # type: ignore[list-item]


@pytest.mark.django_db
def test_id_set_and_where_id_in_select_exactly_the_given_ids():
    a, b, c = SourceFactory(name="a"), SourceFactory(name="b"), SourceFactory(name="c")
    assert set(Source.objects.filter(id__in=id_set([a.id, c.id]))) == {a, c}
    assert set(where_id_in(Source.objects.all(), "id", [b.id, 10**12])) == {b}
    assert not Source.objects.filter(id__in=id_set([])).exists()
    assert not where_id_in(Source.objects.all(), "id", []).exists()
