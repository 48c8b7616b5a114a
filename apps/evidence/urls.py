from django.urls import path

from apps.evidence import views

app_name = "evidence"
urlpatterns = [
    path("", views.engagement_list_view, name="list"),
    path("new/", views.engagement_create_view, name="create"),
    path("verify/", views.verify_upload_view, name="verify_upload"),
    path("<id:pk>/", views.engagement_detail_view, name="detail"),
    path("<id:pk>/share/", views.engagement_share_view, name="share"),
    path("<id:pk>/build/", views.pack_build_view, name="build"),
    path("<id:pk>/packs/<id:pack_pk>/", views.pack_detail_view, name="pack"),
    path("<id:pk>/packs/<id:pack_pk>/progress/", views.pack_progress_view, name="pack_progress"),
    path("<id:pk>/packs/<id:pack_pk>/download/", views.pack_download_view, name="pack_download"),
    path("<id:pk>/packs/<id:pack_pk>/verify/", views.pack_verify_view, name="pack_verify"),
]
