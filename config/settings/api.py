"""The REST API (Django REST Framework) and its OpenAPI schema (drf-spectacular).

Authentication: a keytrail API token (``Authorization: Bearer kt_...``) or the browser's
session (CSRF enforced). Every endpoint requires an authenticated user; what each may see or
do is decided per endpoint by the same permission checks and services as the UI.
"""

REST_FRAMEWORK = {
    "DEFAULT_AUTHENTICATION_CLASSES": [
        "apps.api.authentication.BearerTokenAuthentication",
        "rest_framework.authentication.SessionAuthentication",
    ],
    "DEFAULT_PERMISSION_CLASSES": [
        "rest_framework.permissions.IsAuthenticated",
        "apps.api.permissions.TokenScope",
    ],
    "DEFAULT_PAGINATION_CLASS": "apps.api.pagination.PageNumberPagination",
    "PAGE_SIZE": 50,
    "DEFAULT_RENDERER_CLASSES": ["rest_framework.renderers.JSONRenderer"],
    "DEFAULT_PARSER_CLASSES": ["rest_framework.parsers.JSONParser"],
    # OPTIONS is not offered (405): the schema describes every endpoint.
    "DEFAULT_METADATA_CLASS": None,
    "DEFAULT_SCHEMA_CLASS": "drf_spectacular.openapi.AutoSchema",
    "EXCEPTION_HANDLER": "apps.api.errors.exception_handler",
}

SPECTACULAR_SETTINGS = {
    "TITLE": "keytrail API",
    "DESCRIPTION": (
        "Sources and collection runs, the credential inventory with its history, evaluation results, "
        "controls and exceptions. Authenticate with `Authorization: Bearer <token>` (create a token under "
        "'My API tokens'). Secret values are never part of any response."
    ),
    "VERSION": "1",
    "SERVE_INCLUDE_SCHEMA": False,
    "SERVE_PERMISSIONS": ["rest_framework.permissions.IsAuthenticated"],
    # Swagger UI from drf-spectacular-sidecar's static files: nothing is loaded from a CDN.
    "SWAGGER_UI_DIST": "SIDECAR",
    "SWAGGER_UI_FAVICON_HREF": "SIDECAR",
    "REDOC_DIST": "SIDECAR",
    "COMPONENT_SPLIT_REQUEST": True,
    "POSTPROCESSING_HOOKS": ["drf_spectacular.hooks.postprocess_schema_enums", "apps.api.schema.add_error_responses"],
    "ENUM_NAME_OVERRIDES": {
        "SourceKind": "apps.inventory.models.Source.Kind",
        "IdentityKind": "apps.inventory.models.Identity.Kind",
        "CredentialEventKind": "apps.inventory.models.CredentialEvent.Kind",
        "RunStatus": "apps.inventory.models.CollectionRun.Status",
        "UnitStatus": "apps.inventory.models.CollectionUnit.Status",
        "RunTrigger": "apps.inventory.models.CollectionRun.Trigger",
        "EvaluationTrigger": "apps.evaluation.models.Evaluation.Trigger",
        "EvaluationState": "apps.evaluation.models.Evaluation.State",
        "ExceptionState": "apps.exceptions_register.models.ExceptionRequest.State",
        "FindingStatus": "apps.evaluation.models.Status",
        "ControlStatus": "apps.controls.models.Control.Status",
    },
    "SCHEMA_PATH_PREFIX": r"/api/v1",
}
