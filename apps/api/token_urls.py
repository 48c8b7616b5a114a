from django.urls import path

from apps.api.views import tokens

app_name = "tokens"
urlpatterns = [
    path("", tokens.my_tokens_view, name="mine"),
    path("all/", tokens.token_inventory_view, name="inventory"),
    path("<id:pk>/revoke/", tokens.token_revoke_view, name="revoke"),
]
