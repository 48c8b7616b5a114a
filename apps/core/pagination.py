from collections.abc import Callable, Sequence

from django.core.paginator import Page, Paginator
from django.db import connections
from django.db.models import Count, IntegerField, QuerySet, Value


def paginate(request, queryset, *, per_page: int = 50, by_ids: bool = False, param: str = "page", count: int | None = None):
    """Page of ``queryset`` for ?page=N (``param``: a second list on the page has its own);
    out-of-range and junk values give the nearest page.

    ``by_ids``: through an :class:`IdPaginator`, for long lists whose order an index serves.
    ``count``: the exact number of rows when the caller has just counted them (no COUNT query)."""
    paginator = (IdPaginator if by_ids else Paginator)(queryset, per_page)
    if count is not None:
        paginator.count = count
    return paginator.get_page(request.GET.get(param))


def _in_order(queryset: QuerySet, ids: list) -> list:
    """The rows of ``queryset`` with these primary keys, in the order of ``ids`` (one query)."""
    rows = queryset.in_bulk(ids) if ids else {}
    return [rows[pk] for pk in ids]


class IdPaginator(Paginator):
    """A paginator that picks a page's primary keys first (walking only the index to reach a
    late page: OFFSET skips narrow index entries instead of whole joined rows), then reads those
    rows. Same pages as :class:`Paginator`; one query more (count, ids, rows)."""

    def page(self, number) -> Page:
        number = self.validate_number(number)
        bottom = (number - 1) * self.per_page
        ids = list(self.object_list.values_list("pk", flat=True)[bottom : bottom + self.per_page])
        return self._get_page(_in_order(self.object_list, ids), number, self)


class GroupedPaginator(Paginator):
    """Pages through ``queryset`` in the order ``group_order, *within`` — a few groups (the
    sources) ordered by a field unique per group (their name), then an order that an index on
    ``(group, *within)`` gives — without sorting the whole population, which an ORDER BY across
    the join would do for every page (the last of 20,000 credentials took ~100 ms to sort).

    Three queries per page whatever the page: the rows in each group (their sum is the exact
    count), the page's ids (one UNION ALL of the index-ordered slices of the groups the page
    spans), and those rows through ``rows`` (default ``queryset``) with whatever it joins or
    annotates. The page holds exactly what ``queryset.order_by(group_order, *within)`` sliced
    would hold. ``within`` ends with ``"pk"`` (the order must be total).
    """

    def __init__(
        self,
        queryset: QuerySet,
        per_page: int,
        *,
        group: str,
        group_order: str,
        within: Sequence[str],
        rows: Callable[[QuerySet], QuerySet] | None = None,
    ):
        super().__init__(queryset, per_page)
        self.group, self.within, self.rows = group, tuple(within), rows
        self.groups = list(queryset.order_by().values_list(group).annotate(_rows=Count("pk")).order_by(group_order, group))
        self.count = sum(n for _, n in self.groups)

    def page(self, number) -> Page:
        number = self.validate_number(number)
        bottom = (number - 1) * self.per_page
        top = min(bottom + self.per_page, self.count)
        slices, start = [], 0
        for rank, (value, n) in enumerate(self.groups):
            lo, hi = max(bottom, start), min(top, start + n)
            if lo < hi:
                part = (
                    self.object_list.filter(**{self.group: value})
                    .order_by(*self.within)
                    .annotate(_rank=Value(rank, output_field=IntegerField()))
                    .values_list("_rank", *self.within)
                )
                slices.append(part[lo - start : hi - start])
            start += n
        ids = []
        if slices:
            if len(slices) == 1:
                ordered = slices[0]
            elif connections[self.object_list.db].features.supports_slicing_ordering_in_compound:
                ordered = slices[0].union(*slices[1:], all=True).order_by("_rank", *self.within)
            else:
                # SQLite refuses LIMIT/OFFSET inside a UNION: one query per group the page spans
                # (already in group order, each in index order), which is the same rows.
                ordered = [row for part in slices for row in part]
            pk_at = 1 + self.within.index("pk")
            ids = [row[pk_at] for row in ordered]
        return self._get_page(_in_order(self.rows(self.object_list) if self.rows else self.object_list, ids), number, self)
