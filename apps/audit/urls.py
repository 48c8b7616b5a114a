from django.urls import path

from apps.audit import views

app_name = "audit"
urlpatterns = [
    path("", views.event_list_view, name="list"),
    path("verify/", views.chain_verify_view, name="verify"),
]
