from django.contrib import admin
from django.urls import include, path
from drf_spectacular.views import SpectacularAPIView, SpectacularSwaggerView

from consortium import views

handler400 = "consortium.api.bad_request_handler"
handler403 = "consortium.api.permission_denied_handler"
handler404 = "consortium.api.not_found_handler"
handler500 = "consortium.api.server_error_handler"

api_v1 = [
    path("schema", SpectacularAPIView.as_view(permission_classes=[], authentication_classes=[]), name="schema"),
    path(
        "docs",
        SpectacularSwaggerView.as_view(url_name="schema", permission_classes=[], authentication_classes=[]),
        name="docs",
    ),
    path("keys", views.JWKSView.as_view(), name="consortium-keys"),
    path("", include("members.api.urls")),
    path("audit/", include("consortium.audit.api.urls")),
    path("", include("hashes.api.urls")),
]

urlpatterns = [
    path("healthz", views.healthz, name="healthz"),
    path("readyz", views.readyz, name="readyz"),
    path(".well-known/jwks.json", views.JWKSView.as_view(), name="jwks"),
    path("problems/<slug:slug>", views.problem_type, name="problem-type"),
    path("api/v1/", include(api_v1)),
    path("admin/", admin.site.urls),
]
