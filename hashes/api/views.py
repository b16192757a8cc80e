"""Batches and labels API (PROTOCOL §3, §4). Views parse and render; services decide."""
from __future__ import annotations

from typing import Any

from django.db.models import QuerySet
from django.http import HttpResponse
from django.shortcuts import get_object_or_404
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import generics, status
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.reverse import reverse

from consortium.api import CursorPagination, validation_problem
from consortium.audit.models import AuditDocument
from consortium.audit.services import Actor
from hashes import selectors
from hashes.api import serializers
from hashes.api.filtersets import choice_param
from hashes.kinds import NAMES
from hashes.models import Batch, BatchItem, Delivery, Fingerprint, Incident, Label
from hashes.services.batches import batch_submit, batch_withdraw
from hashes.services.opinions import opinion_set
from hashes.services.propagation import delivery_redeliver
from hashes.services.votes import vote_cast
from members.api.views import own_member
from members.models import Role
from members.permissions import ANY, PEOPLE, STAFF

SUBMITTERS = frozenset({Role.ADMIN, Role.ANALYST})


class LabelListView(generics.ListAPIView):
    """The label taxonomy, retired labels included; `?dimension=` and `?retired=true|false` filter."""

    serializer_class = serializers.LabelSerializer
    roles = {"GET": ANY}

    @extend_schema(
        parameters=[
            OpenApiParameter("dimension", enum=Label.Dimension.values),
            OpenApiParameter("retired", enum=["true", "false"]),
        ]
    )
    def get(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        return super().get(request, *args, **kwargs)

    def get_queryset(self) -> QuerySet[Label]:
        labels = Label.objects.all()
        dimension = choice_param(self.request.query_params, "dimension", Label.Dimension.values)
        if dimension:
            labels = labels.filter(dimension=dimension)
        retired = choice_param(self.request.query_params, "retired", ["true", "false"])
        if retired:
            labels = labels.filter(retired__isnull=retired == "false")
        return labels


class BatchListView(generics.ListCreateAPIView):
    """Submit a signed batch (POST), or list batches filtered by `?status=` and `?member=`."""

    serializer_class = serializers.BatchSerializer
    roles = {"GET": PEOPLE, "POST": SUBMITTERS}
    max_body_setting = "BATCH_MAX_BODY_BYTES"

    @extend_schema(
        parameters=[OpenApiParameter("status", enum=Batch.Status.values), OpenApiParameter("member", str)]
    )
    def get(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        return super().get(request, *args, **kwargs)

    def get_queryset(self) -> QuerySet[Batch]:
        return selectors.batch_list(
            status=choice_param(self.request.query_params, "status", Batch.Status.values),
            member=self.request.query_params.get("member") or None,
        )

    @extend_schema(
        request=serializers.EnvelopeSerializer,
        responses={202: serializers.BatchAcceptedSerializer, 200: serializers.BatchAcceptedSerializer},
    )
    def post(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        submission = batch_submit(user=request.user, envelope=request.data)
        batch = submission.batch
        body = {"id": batch.pk, "status": batch.status, "url": reverse("batch-detail", kwargs={"pk": batch.pk}, request=request)}
        return Response(
            body,
            status=status.HTTP_202_ACCEPTED if submission.created else status.HTTP_200_OK,
            headers={"Location": body["url"]},
        )


class BatchDetailView(generics.RetrieveAPIView):
    """One batch: its header, signature, status and dedup counts."""

    serializer_class = serializers.BatchSerializer
    roles = {"GET": PEOPLE}

    def get_queryset(self) -> QuerySet[Batch]:
        return selectors.batch_list()


class BatchEnvelopeView(generics.GenericAPIView):
    """The batch exactly as signed: `{"payload": <JCS bytes>, "signature": …}`, to verify offline."""

    roles = {"GET": PEOPLE}

    @extend_schema(responses=serializers.EnvelopeSerializer)
    def get(self, request: Request, pk: int) -> HttpResponse:
        batch = get_object_or_404(Batch.objects.only("envelope_sha256"), pk=pk)
        document = AuditDocument.objects.get(sha256=batch.envelope_sha256)
        return HttpResponse(bytes(document.body), content_type="application/json")


class ItemPagination(CursorPagination):
    ordering = "position"


class BatchItemListView(generics.ListAPIView):
    """A batch's items with their dedup outcome; `?outcome=` and `?kind=` filter."""

    serializer_class = serializers.BatchItemSerializer
    pagination_class = ItemPagination
    roles = {"GET": PEOPLE}

    @extend_schema(
        parameters=[OpenApiParameter("outcome", enum=BatchItem.Outcome.values), OpenApiParameter("kind", enum=list(NAMES))]
    )
    def get(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        return super().get(request, *args, **kwargs)

    def get_queryset(self) -> QuerySet[BatchItem]:
        batch = get_object_or_404(Batch.objects.only("id"), pk=self.kwargs["pk"])
        params = self.request.query_params
        return selectors.batch_items(
            batch=batch,
            outcome=choice_param(params, "outcome", BatchItem.Outcome.values),
            kind=choice_param(params, "kind", list(NAMES)),
        )


class BatchWithdrawView(generics.GenericAPIView):
    """The submitting member withdraws its batch while it is received or voting."""

    serializer_class = serializers.BatchSerializer
    roles = {"POST": SUBMITTERS}

    @extend_schema(request=None, responses=serializers.BatchSerializer)
    def post(self, request: Request, pk: int) -> Response:
        batch = get_object_or_404(selectors.batch_list(), pk=pk)
        batch = batch_withdraw(user=request.user, batch=batch)
        return Response(self.get_serializer(batch).data)


class BatchVoteView(generics.GenericAPIView):
    """Cast or change the caller's member's vote (`approve` / `reject` with a reason)."""

    serializer_class = serializers.VoteSerializer
    roles = {"PUT": SUBMITTERS | {STAFF}}

    @extend_schema(request=serializers.VoteSerializer, responses=serializers.BatchSerializer)
    def put(self, request: Request, pk: int) -> Response:
        batch = get_object_or_404(Batch.objects.only("id"), pk=pk)
        form = self.get_serializer(data=request.data)
        form.is_valid(raise_exception=True)
        vote_cast(user=request.user, batch=batch, **form.validated_data)
        batch = selectors.batch_list().get(pk=pk)
        return Response(serializers.BatchSerializer(batch, context={"request": request}).data)


class PolicyView(generics.GenericAPIView):
    """The consortium's policy in force, and the incident fast-track rule with open incidents."""

    serializer_class = serializers.PolicySerializer
    roles = {"GET": ANY}

    def get(self, request: Request) -> Response:
        return Response(self.get_serializer(selectors.policy_current()).data)


class IncidentListView(generics.ListAPIView):
    """Incidents staff declared, newest first; `?open=true` for the open ones."""

    serializer_class = serializers.IncidentSerializer
    roles = {"GET": ANY}
    pagination_class = type("IncidentPagination", (CursorPagination,), {"ordering": "-id"})

    def get_queryset(self) -> QuerySet[Incident]:
        incidents = Incident.objects.select_related("label")
        if choice_param(self.request.query_params, "open", ["true", "false"]) == "true":
            incidents = incidents.filter(closed__isnull=True)
        return incidents


class FingerprintOpinionView(generics.GenericAPIView):
    """Affirm or dispute a published fingerprint (one opinion per member, changeable)."""

    serializer_class = serializers.OpinionSerializer
    roles = {"PUT": SUBMITTERS}

    def put(self, request: Request, pk: int) -> Response:
        fingerprint = get_object_or_404(Fingerprint.objects.only("id"), pk=pk)
        form = self.get_serializer(data=request.data)
        form.is_valid(raise_exception=True)
        opinion = opinion_set(user=request.user, fingerprint=fingerprint, **form.validated_data)
        fingerprint.refresh_from_db()
        return Response(
            {
                "fingerprint": fingerprint.pk,
                "opinion": opinion.opinion,
                "reason": opinion.reason,
                "retraction_queued": fingerprint.retraction_queued is not None,
            }
        )


class DeliveryListView(generics.ListAPIView):
    """The caller's member's deliveries, newest first; `?status=` and `?endpoint=` filter."""

    serializer_class = serializers.DeliverySerializer
    roles = {"GET": frozenset({Role.ADMIN, Role.ANALYST, Role.AUDITOR})}
    pagination_class = type("DeliveryPagination", (CursorPagination,), {"ordering": "-id"})

    def get_queryset(self) -> QuerySet[Delivery]:
        deliveries = Delivery.objects.filter(endpoint__member=own_member(self.request))
        status_filter = choice_param(self.request.query_params, "status", Delivery.Status.values)
        if status_filter:
            deliveries = deliveries.filter(status=status_filter)
        endpoint = self.request.query_params.get("endpoint")
        if endpoint:
            if not endpoint.isdigit():
                raise validation_problem([{"pointer": "", "code": "invalid_endpoint", "message": "endpoint is an endpoint id."}])
            deliveries = deliveries.filter(endpoint_id=int(endpoint))
        return deliveries


class DeliveryRedeliverView(generics.GenericAPIView):
    """Send one of the member's deliveries again (same webhook-id)."""

    serializer_class = serializers.DeliverySerializer
    roles = {"POST": frozenset({Role.ADMIN, Role.ANALYST})}

    @extend_schema(request=None, responses=serializers.DeliverySerializer)
    def post(self, request: Request, pk: int) -> Response:
        delivery = get_object_or_404(Delivery, pk=pk, endpoint__member=own_member(request))
        delivery = delivery_redeliver(actor=Actor.of(request.user), delivery=delivery)
        return Response(self.get_serializer(delivery).data)
