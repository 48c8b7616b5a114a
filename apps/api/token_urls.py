from django.urls import path

from apps.api import token_views

app_name = "tokens"
urlpatterns = [
    path("", token_views.my_tokens_view, name="mine"),
    path("all/", token_views.token_inventory_view, name="inventory"),
    path("<int:pk>/revoke/", token_views.token_revoke_view, name="revoke"),
]
