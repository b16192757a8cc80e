from django.urls import path

from hashes.api import releases, views

urlpatterns = [
    path("labels", views.LabelListView.as_view(), name="label-list"),
    path("batches", views.BatchListView.as_view(), name="batch-list"),
    path("batches/<int:pk>", views.BatchDetailView.as_view(), name="batch-detail"),
    path("batches/<int:pk>/items", views.BatchItemListView.as_view(), name="batch-items"),
    path("batches/<int:pk>/envelope", views.BatchEnvelopeView.as_view(), name="batch-envelope"),
    path("batches/<int:pk>/withdraw", views.BatchWithdrawView.as_view(), name="batch-withdraw"),
    path("batches/<int:pk>/vote", views.BatchVoteView.as_view(), name="batch-vote"),
    path("policy", views.PolicyView.as_view(), name="policy"),
    path("incidents", views.IncidentListView.as_view(), name="incident-list"),
    path("fingerprints/<int:pk>/opinion", views.FingerprintOpinionView.as_view(), name="fingerprint-opinion"),
    path("fingerprints/<int:pk>", releases.FingerprintDetailView.as_view(), name="fingerprint-detail"),
    path("releases", releases.ReleaseListView.as_view(), name="release-list"),
    path("releases/<int:seq>", releases.ReleaseDetailView.as_view(), name="release-detail"),
    path("match", releases.MatchView.as_view(), name="match"),
    path("members/me/deliveries", views.DeliveryListView.as_view(), name="delivery-list"),
    path("members/me/deliveries/<int:pk>/redeliver", views.DeliveryRedeliverView.as_view(), name="delivery-redeliver"),
    path("snapshot", releases.SnapshotView.as_view(), name="snapshot"),
    path("snapshot/manifest", releases.SnapshotManifestView.as_view(), name="snapshot-manifest"),
]
