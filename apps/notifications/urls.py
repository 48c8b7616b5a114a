from django.urls import path

from apps.notifications import views

app_name = "notifications"
urlpatterns = [
    path("", views.endpoint_list_view, name="endpoint_list"),
    path("<int:pk>/", views.endpoint_detail_view, name="endpoint_detail"),
    path("<int:pk>/edit/", views.endpoint_edit_view, name="endpoint_edit"),
    path("<int:pk>/rotate-secret/", views.endpoint_rotate_view, name="endpoint_rotate"),
]
