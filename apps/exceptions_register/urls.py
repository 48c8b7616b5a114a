from django.urls import path

from apps.exceptions_register import views

app_name = "exceptions"
urlpatterns = [
    path("", views.exception_list_view, name="list"),
    path("new/", views.exception_create_view, name="create"),
    path("queue/", views.approval_queue_view, name="queue"),
    path("new/pick/", views.scope_pick_view, name="pick"),
    path("new/excusable/", views.excusable_view, name="excusable"),
    path("<id:pk>/", views.exception_detail_view, name="detail"),
    path("<id:pk>/approve/", views.exception_approve_view, name="approve"),
    path("<id:pk>/reject/", views.exception_reject_view, name="reject"),
    path("<id:pk>/revoke/", views.exception_revoke_view, name="revoke"),
    path("<id:pk>/close/", views.exception_close_view, name="close"),
    path("<id:pk>/submit/", views.exception_submit_view, name="submit"),
    path("<id:pk>/renew/", views.exception_renew_view, name="renew"),
]
