from django.db.models import Count, Prefetch, Q, QuerySet

from apps.catalog.models import Clause, Requirement


def requirement_list(*, include_retired: bool = False) -> QuerySet[Requirement]:
    qs = Requirement.objects.select_related("clause").annotate(control_count=Count("controls", distinct=True))
    if not include_retired:
        qs = qs.filter(retired_in__isnull=True)
    return qs.order_by("position", "ref")


def clause_list_with_requirements() -> QuerySet[Clause]:
    reqs = requirement_list()
    return Clause.objects.prefetch_related(Prefetch("requirements", queryset=reqs, to_attr="active_requirements")).order_by("ref")


def requirement_get(*, ref: str) -> Requirement:
    return Requirement.objects.select_related("clause", "introduced_in", "updated_in", "retired_in").get(ref=ref)


def requirement_search(qs: QuerySet[Requirement], text: str) -> QuerySet[Requirement]:
    if not text:
        return qs
    return qs.filter(Q(ref__icontains=text) | Q(title__icontains=text) | Q(statement__icontains=text) | Q(topic__icontains=text))
