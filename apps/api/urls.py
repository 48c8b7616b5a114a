from django.urls import include, path, re_path
from drf_spectacular.views import SpectacularAPIView, SpectacularSwaggerSplitView
from rest_framework.routers import SimpleRouter

from apps.api import views

router = SimpleRouter(trailing_slash=True)
router.register("sources", views.SourceViewSet, basename="source")
router.register("runs", views.RunViewSet, basename="run")
router.register("credentials", views.CredentialViewSet, basename="credential")
router.register("identities", views.IdentityViewSet, basename="identity")
router.register("posture/requirements", views.PostureViewSet, basename="requirement-status")
router.register("findings", views.FindingViewSet, basename="finding")
router.register("evaluations", views.EvaluationViewSet, basename="evaluation")
router.register("controls", views.ControlViewSet, basename="control")
router.register("exceptions", views.ExceptionViewSet, basename="exception")

app_name = "api"
urlpatterns = [
    path("schema/", SpectacularAPIView.as_view(), name="schema"),
    path("docs/", SpectacularSwaggerSplitView.as_view(url_name="api:schema"), name="docs"),
    path("", include(router.urls)),
    re_path(r"^(?P<path>[\s\S]*)$", views.not_found),  # unnamed: not an endpoint, only the JSON 404 for unknown paths
]
