from django.urls import path

from apps.controls import requirement_views as views

app_name = "catalog"  # the catalog's pages, served by the register (apps/controls/requirement_views.py)
urlpatterns = [
    path("", views.requirement_list_view, name="list"),
    path("<str:ref>/", views.requirement_detail_view, name="detail"),
]
