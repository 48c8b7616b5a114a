from csp.constants import UNSAFE_INLINE
from csp.decorators import csp_update
from django.urls import include, path, re_path
from drf_spectacular.views import SpectacularAPIView, SpectacularSwaggerSplitView
from rest_framework.routers import SimpleRouter

from apps.api.views import controls, evidence, exceptions, fallback, inventory, posture, reviews, sources, webhooks

router = SimpleRouter(trailing_slash=True)
router.register("sources", sources.SourceViewSet, basename="source")
router.register("runs", sources.RunViewSet, basename="run")
router.register("credentials", inventory.CredentialViewSet, basename="credential")
router.register("identities", inventory.IdentityViewSet, basename="identity")
router.register("posture/requirements", posture.PostureViewSet, basename="requirement-status")
router.register("findings", posture.FindingViewSet, basename="finding")
router.register("evaluations", posture.EvaluationViewSet, basename="evaluation")
router.register("controls", controls.ControlViewSet, basename="control")
router.register("exceptions", exceptions.ExceptionViewSet, basename="exception")
router.register("campaigns", reviews.CampaignViewSet, basename="campaign")
router.register("review-items", reviews.ReviewItemViewSet, basename="review-item")
router.register("engagements", evidence.EngagementViewSet, basename="engagement")
router.register("packs", evidence.PackViewSet, basename="pack")
router.register("webhooks", webhooks.WebhookEndpointViewSet, basename="webhook")

app_name = "api"
urlpatterns = [
    path("schema/", SpectacularAPIView.as_view(), name="schema"),
    # Swagger UI sets inline styles from its own script; this page alone may apply inline *styles*
    # (never inline script: its script is served as a static file by the split view).
    path("docs/", csp_update({"style-src": [UNSAFE_INLINE]})(SpectacularSwaggerSplitView.as_view(url_name="api:schema")), name="docs"),
    path("", include(router.urls)),
    re_path(r"^(?P<path>[\s\S]*)$", fallback.not_found),  # unnamed: not an endpoint, only the JSON 404 for unknown paths
]
