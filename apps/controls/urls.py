from django.urls import path

from apps.controls import views

app_name = "controls"
urlpatterns = [
    path("", views.control_list_view, name="list"),
    path("new/", views.control_create_view, name="create"),
    path("<id:pk>/", views.control_detail_view, name="detail"),
    path("<id:pk>/edit/", views.control_edit_view, name="edit"),
    path("<id:pk>/share/", views.control_share_view, name="share"),
    path("<id:pk>/evidence/new/", views.evidence_upload_view, name="evidence_upload"),
    path("<id:pk>/evidence/<id:evidence_id>/download/", views.evidence_download_view, name="evidence_download"),
]
