from django.urls import path

from apps.notifications import views

app_name = "notifications"
urlpatterns = [
    path("", views.endpoint_list_view, name="endpoint_list"),
    path("<id:pk>/", views.endpoint_detail_view, name="endpoint_detail"),
    path("<id:pk>/edit/", views.endpoint_edit_view, name="endpoint_edit"),
    path("<id:pk>/rotate-secret/", views.endpoint_rotate_view, name="endpoint_rotate"),
]
