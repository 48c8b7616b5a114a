from django.urls import path

from apps.evaluation import views

app_name = "evaluation"
urlpatterns = [
    path("", views.dashboard_view, name="dashboard"),
    path("evaluate/", views.evaluate_view, name="evaluate"),
    path("requirements/<str:ref>/", views.requirement_view, name="requirement"),
    path("requirements/<str:ref>/status/", views.requirement_status_view, name="requirement_status"),
    path("rules/", views.rule_list_view, name="rule_list"),
    path("findings/", views.finding_list_view, name="finding_list"),
    path("evaluations/", views.evaluation_list_view, name="evaluation_list"),
    path("evaluations/<id:pk>/progress/", views.evaluation_progress_view, name="evaluation_progress"),
    path("policy/", views.policy_view, name="policy"),
    path("policy/edit/", views.policy_edit_view, name="policy_edit"),
]
