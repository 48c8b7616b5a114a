from django.urls import path

from apps.reviews import views

app_name = "reviews"
urlpatterns = [
    path("", views.campaign_list_view, name="list"),
    path("new/", views.campaign_create_view, name="create"),
    path("recurring/", views.template_list_view, name="templates"),
    path("<int:pk>/", views.campaign_detail_view, name="detail"),
    path("<int:pk>/start/", views.campaign_start_view, name="start"),
    path("<int:pk>/state/", views.campaign_state_view, name="state"),
    path("<int:pk>/sign-off/", views.campaign_sign_off_view, name="sign_off"),
    path("<int:pk>/cancel/", views.campaign_cancel_view, name="cancel"),
    path("<int:pk>/decide/", views.items_decide_view, name="decide"),
    path("<int:pk>/delegate/", views.items_delegate_view, name="delegate"),
    path("<int:pk>/reassign/", views.items_reassign_view, name="reassign"),
    path("<int:pk>/remind/", views.campaign_remind_view, name="remind"),
    path("<int:pk>/share/", views.campaign_share_view, name="share"),
]
