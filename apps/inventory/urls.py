from django.urls import path

from apps.inventory import views

app_name = "inventory"
urlpatterns = [
    path("sources/", views.source_list_view, name="source_list"),
    path("sources/new/", views.source_create_view, name="source_create"),
    path("sources/collect/", views.source_collect_all_view, name="source_collect_all"),
    path("sources/<id:pk>/", views.source_detail_view, name="source_detail"),
    path("sources/<id:pk>/edit/", views.source_edit_view, name="source_edit"),
    path("sources/<id:pk>/collect/", views.source_collect_view, name="source_collect"),
    path("sources/<id:pk>/share/", views.source_share_view, name="source_share"),
    path("runs/", views.run_list_view, name="run_list"),
    path("runs/<id:pk>/", views.run_detail_view, name="run_detail"),
    path("runs/<id:pk>/units/", views.run_units_view, name="run_units"),
    path("runs/<id:pk>/retry/", views.run_retry_view, name="run_retry"),
    path("credentials/", views.credential_list_view, name="credential_list"),
    # credentials/<id:pk>/ (credential_detail) is added by config/urls.py: apps/evaluation/credential_views.py
    path("identities/", views.identity_list_view, name="identity_list"),
    path("identities/<id:pk>/", views.identity_detail_view, name="identity_detail"),
]
