from django.core.paginator import Paginator


def paginate(request, queryset, *, per_page: int = 50):
    """Page of ``queryset`` for ?page=N (out-of-range and junk values give the nearest page)."""
    return Paginator(queryset, per_page).get_page(request.GET.get("page"))
