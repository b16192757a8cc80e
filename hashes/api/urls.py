from django.urls import path

from hashes.api import views

urlpatterns = [
    path("labels", views.LabelListView.as_view(), name="label-list"),
    path("batches", views.BatchListView.as_view(), name="batch-list"),
    path("batches/<int:pk>", views.BatchDetailView.as_view(), name="batch-detail"),
    path("batches/<int:pk>/items", views.BatchItemListView.as_view(), name="batch-items"),
    path("batches/<int:pk>/envelope", views.BatchEnvelopeView.as_view(), name="batch-envelope"),
    path("batches/<int:pk>/withdraw", views.BatchWithdrawView.as_view(), name="batch-withdraw"),
]
