from django.urls import path

from apps.reviews import views

app_name = "reviews"
urlpatterns = [
    path("", views.campaign_list_view, name="list"),
    path("new/", views.campaign_create_view, name="create"),
    path("recurring/", views.template_list_view, name="templates"),
    path("<id:pk>/", views.campaign_detail_view, name="detail"),
    path("<id:pk>/start/", views.campaign_start_view, name="start"),
    path("<id:pk>/state/", views.campaign_state_view, name="state"),
    path("<id:pk>/sign-off/", views.campaign_sign_off_view, name="sign_off"),
    path("<id:pk>/cancel/", views.campaign_cancel_view, name="cancel"),
    path("<id:pk>/decide/", views.items_decide_view, name="decide"),
    path("<id:pk>/delegate/", views.items_delegate_view, name="delegate"),
    path("<id:pk>/reassign/", views.items_reassign_view, name="reassign"),
    path("<id:pk>/remind/", views.campaign_remind_view, name="remind"),
    path("<id:pk>/share/", views.campaign_share_view, name="share"),
]
