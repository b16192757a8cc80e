from django.urls import path

from consortium.audit.api import views

urlpatterns = [
    path("checkpoint", views.CheckpointView.as_view(), name="audit-checkpoint"),
    path("vkey", views.VkeyView.as_view(), name="audit-vkey"),
    path("entries", views.EntriesView.as_view(), name="audit-entries"),
    path("proof/inclusion", views.InclusionProofView.as_view(), name="audit-proof-inclusion"),
    path("proof/consistency", views.ConsistencyProofView.as_view(), name="audit-proof-consistency"),
    path("export", views.ExportView.as_view(), name="audit-export"),
]
