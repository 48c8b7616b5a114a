from django.contrib import admin
from django.contrib.auth import views as auth_views
from django.urls import include, path

from apps.accounts import views as account_views
from apps.core import views as core_views
from apps.core.metrics import metrics_view
from apps.evaluation.credential_views import credential_detail_view
from apps.home import views as home
from apps.inventory import urls as inventory_urls

urlpatterns = [
    path("", home.home, name="home"),
    path("healthz", core_views.healthz, name="healthz"),
    path("readyz", core_views.readyz, name="readyz"),
    path("metrics", metrics_view, name="metrics"),
    path("accounts/login/", auth_views.LoginView.as_view(redirect_authenticated_user=True), name="login"),
    path("accounts/logout/", auth_views.LogoutView.as_view(), name="logout"),
    path("accounts/mfa/", account_views.mfa_setup, name="mfa_setup"),
    path("accounts/mfa/verify/", account_views.mfa_verify, name="mfa_verify"),
    path("catalog/", include("apps.controls.requirement_urls")),
    path("controls/", include("apps.controls.urls")),
    path("audit/", include("apps.audit.urls")),
    # A credential's page shows evaluation's verdicts beside the inventory's facts: evaluation
    # serves it, under the inventory's namespace (the URL map is composed here, at the top).
    path(
        "inventory/",
        include(
            (
                [
                    *inventory_urls.urlpatterns,
                    path("credentials/<id:pk>/", credential_detail_view, name="credential_detail"),
                ],
                inventory_urls.app_name,
            )
        ),
    ),
    path("posture/", include("apps.evaluation.urls")),
    path("exceptions/", include("apps.exceptions_register.urls")),
    path("reviews/", include("apps.reviews.urls")),
    path("evidence/", include("apps.evidence.urls")),
    path("webhooks/", include("apps.notifications.urls")),
    path("api/v1/", include("apps.api.urls")),
    path("account/tokens/", include("apps.api.token_urls")),
    path("admin/", admin.site.urls),
]
