from csp.constants import UNSAFE_INLINE
from csp.decorators import csp_update
from django.urls import include, path, re_path
from drf_spectacular.views import SpectacularAPIView, SpectacularSwaggerSplitView
from rest_framework.routers import SimpleRouter

from apps.api import evidence_views, review_views, views

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
router.register("campaigns", review_views.CampaignViewSet, basename="campaign")
router.register("review-items", review_views.ReviewItemViewSet, basename="review-item")
router.register("engagements", evidence_views.EngagementViewSet, basename="engagement")
router.register("packs", evidence_views.PackViewSet, basename="pack")

app_name = "api"
urlpatterns = [
    path("schema/", SpectacularAPIView.as_view(), name="schema"),
    # Swagger UI sets inline styles from its own script; this page alone may apply inline *styles*
    # (never inline script: its script is served as a static file by the split view).
    path("docs/", csp_update({"style-src": [UNSAFE_INLINE]})(SpectacularSwaggerSplitView.as_view(url_name="api:schema")), name="docs"),
    path("", include(router.urls)),
    re_path(r"^(?P<path>[\s\S]*)$", views.not_found),  # unnamed: not an endpoint, only the JSON 404 for unknown paths
]
