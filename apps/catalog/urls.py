from django.urls import path

from apps.catalog import views

app_name = "catalog"
urlpatterns = [
    path("", views.requirement_list_view, name="list"),
    path("<str:ref>/", views.requirement_detail_view, name="detail"),
]
