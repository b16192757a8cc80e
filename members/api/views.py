"""Members API: the directory, the caller's member, and its keys, tokens and users.

Views parse and render; members.services decide and write. Every object is looked up within
the caller's member, so another member's key, token or user is simply not found (404).
"""
from __future__ import annotations

from typing import Any

from django.db.models import QuerySet
from drf_spectacular.utils import extend_schema
from rest_framework import generics, status
from rest_framework.request import Request
from rest_framework.response import Response

from consortium.api import Problem
from consortium.audit.services import Actor
from consortium.errors import InvalidInput
from members.api import serializers
from members.models import ApiToken, Endpoint, Member, MemberKey, Role, User
from members.permissions import ANY, PEOPLE
from members.services.endpoints import endpoint_create, endpoint_delete, endpoint_rotate_secret, endpoint_update
from members.services.keys import key_add, key_revoke
from members.services.tokens import token_create, token_revoke
from members.services.users import user_create, user_set_active, user_set_role

ADMIN_ONLY = frozenset({Role.ADMIN})


def own_member(request: Request) -> Member:
    member = request.user.member
    if member is None:
        raise Problem(404, "You belong to no member, so there is no 'me' here. Use a member user's token.", slug="no-member")
    return member


class MemberDirectoryView(generics.ListAPIView):
    """Every member of the consortium (no secrets)."""

    serializer_class = serializers.MemberSerializer
    queryset = Member.objects.all()
    roles = {"GET": ANY}


class MeView(generics.GenericAPIView):
    """The caller: its user, role and member."""

    serializer_class = serializers.MeSerializer
    roles = {"GET": ANY}

    def get(self, request: Request) -> Response:
        user = request.user
        data = {"member": user.member, "username": user.username, "role": user.role, "staff": user.is_staff}
        return Response(self.get_serializer(data).data)


class KeyListView(generics.ListCreateAPIView):
    """The caller's member's public signing keys, revoked ones included; admins register more."""

    serializer_class = serializers.KeySerializer
    roles = {"GET": PEOPLE, "POST": ADMIN_ONLY}

    def get_queryset(self) -> QuerySet[MemberKey]:
        return MemberKey.objects.filter(member=own_member(self.request)).select_related("member")

    @extend_schema(request=serializers.KeyCreateSerializer, responses={201: serializers.KeySerializer})
    def post(self, request: Request) -> Response:
        member = own_member(request)
        body = request.data
        if not isinstance(body, dict):
            raise InvalidInput("The body must be a public JWK: {\"kty\": \"OKP\", \"crv\": \"Ed25519\", \"x\": …}.", pointer="")
        name = body.get("name", "")
        if not isinstance(name, str) or len(name) > 100:
            raise InvalidInput("name must be a string of at most 100 characters.", pointer="/name")
        jwk = {k: v for k, v in body.items() if k != "name"}
        claimed_kid = jwk.pop("kid", None)
        key = key_add(
            actor=Actor.of(request.user), member=member, jwk=jwk, name=name, created_by=request.user, kid=claimed_kid
        )
        return Response(serializers.KeySerializer(key).data, status=status.HTTP_201_CREATED)


class KeyDetailView(generics.RetrieveDestroyAPIView):
    """One key; DELETE revokes it (the key stays listed, with `revoked`)."""

    serializer_class = serializers.KeySerializer
    lookup_field = "kid"
    roles = {"GET": PEOPLE, "DELETE": ADMIN_ONLY}

    def get_queryset(self) -> QuerySet[MemberKey]:
        return MemberKey.objects.filter(member=own_member(self.request)).select_related("member")

    def destroy(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        key = self.get_object()
        key_revoke(actor=Actor.of(request.user), key=key)
        return Response(serializers.KeySerializer(key).data)


def _token_scope(request: Request) -> QuerySet[ApiToken]:
    """Admins see all their member's tokens; everyone else only their own."""
    tokens = ApiToken.objects.select_related("user")
    if request.user.role == Role.ADMIN and request.user.member_id:
        return tokens.filter(user__member_id=request.user.member_id)
    return tokens.filter(user=request.user)


class TokenListView(generics.ListCreateAPIView):
    """API tokens (never their secret). Admins create tokens for their member's users."""

    serializer_class = serializers.TokenSerializer
    roles = {"GET": ANY, "POST": ADMIN_ONLY}

    def get_queryset(self) -> QuerySet[ApiToken]:
        return _token_scope(self.request)

    @extend_schema(request=serializers.TokenCreateSerializer, responses={201: serializers.TokenCreatedSerializer})
    def post(self, request: Request) -> Response:
        member = own_member(request)
        form = serializers.TokenCreateSerializer(data=request.data)
        form.is_valid(raise_exception=True)
        username = form.validated_data.get("user") or request.user.username
        user = User.objects.filter(member=member, username=username).first()
        if user is None:
            raise InvalidInput(f"Your member has no user {username!r}.", pointer="/user")
        token, secret = token_create(
            actor=Actor.of(request.user),
            user=user,
            name=form.validated_data["name"],
            expires_days=form.validated_data.get("expires_days"),
        )
        data = serializers.TokenSerializer(token).data | {"token": secret}
        return Response(data, status=status.HTTP_201_CREATED)


class TokenDetailView(generics.RetrieveDestroyAPIView):
    """One token; DELETE revokes it at once."""

    serializer_class = serializers.TokenSerializer
    roles = {"GET": ANY, "DELETE": ANY}

    def get_queryset(self) -> QuerySet[ApiToken]:
        return _token_scope(self.request)

    def destroy(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        token = self.get_object()
        token_revoke(actor=Actor.of(request.user), token=token)
        return Response(serializers.TokenSerializer(token).data)


class UserListView(generics.ListCreateAPIView):
    """The member's users; admins add users (who then get tokens)."""

    serializer_class = serializers.UserSerializer
    roles = {"GET": PEOPLE, "POST": ADMIN_ONLY}

    def get_queryset(self) -> QuerySet[User]:
        return User.objects.filter(member=own_member(self.request)).select_related("member")

    @extend_schema(request=serializers.UserCreateSerializer, responses={201: serializers.UserSerializer})
    def post(self, request: Request) -> Response:
        member = own_member(request)
        form = serializers.UserCreateSerializer(data=request.data)
        form.is_valid(raise_exception=True)
        user = user_create(actor=Actor.of(request.user), member=member, **form.validated_data)
        return Response(serializers.UserSerializer(user).data, status=status.HTTP_201_CREATED)


class UserDetailView(generics.RetrieveAPIView):
    """One user of the member; admins PATCH its role or deactivate it."""

    serializer_class = serializers.UserSerializer
    lookup_field = "username"
    roles = {"GET": PEOPLE, "PATCH": ADMIN_ONLY}

    def get_queryset(self) -> QuerySet[User]:
        return User.objects.filter(member=own_member(self.request)).select_related("member")

    @extend_schema(request=serializers.UserUpdateSerializer, responses=serializers.UserSerializer)
    def patch(self, request: Request, username: str) -> Response:
        user = self.get_object()
        form = serializers.UserUpdateSerializer(data=request.data)
        form.is_valid(raise_exception=True)
        if user.pk == request.user.pk and (
            form.validated_data.get("role", Role.ADMIN) != Role.ADMIN or form.validated_data.get("is_active") is False
        ):
            raise InvalidInput("You cannot demote or deactivate yourself; ask another admin.", pointer="")
        actor = Actor.of(request.user)
        if "role" in form.validated_data:
            user_set_role(actor=actor, user=user, role=form.validated_data["role"])
        if "is_active" in form.validated_data:
            user_set_active(actor=actor, user=user, active=form.validated_data["is_active"])
        return Response(serializers.UserSerializer(user).data)



class EndpointListView(generics.ListCreateAPIView):
    """The member's webhook endpoints (never their secrets); admins register more."""

    serializer_class = serializers.EndpointSerializer
    roles = {"GET": PEOPLE, "POST": ADMIN_ONLY}

    def get_queryset(self) -> QuerySet[Endpoint]:
        return Endpoint.objects.filter(member=own_member(self.request))

    @extend_schema(request=serializers.EndpointCreateSerializer, responses={201: serializers.EndpointWithSecretSerializer})
    def post(self, request: Request) -> Response:
        member = own_member(request)
        form = serializers.EndpointCreateSerializer(data=request.data)
        form.is_valid(raise_exception=True)
        endpoint = endpoint_create(actor=Actor.of(request.user), member=member, **form.validated_data)
        return Response(serializers.EndpointWithSecretSerializer(endpoint).data, status=status.HTTP_201_CREATED)


class EndpointDetailView(generics.RetrieveDestroyAPIView):
    """One endpoint; admins PATCH url, events, description or enabled, and DELETE it."""

    serializer_class = serializers.EndpointSerializer
    roles = {"GET": PEOPLE, "PATCH": ADMIN_ONLY, "DELETE": ADMIN_ONLY}

    def get_queryset(self) -> QuerySet[Endpoint]:
        return Endpoint.objects.filter(member=own_member(self.request)).select_related("member")

    @extend_schema(request=serializers.EndpointUpdateSerializer, responses=serializers.EndpointSerializer)
    def patch(self, request: Request, pk: int) -> Response:
        endpoint = self.get_object()
        form = serializers.EndpointUpdateSerializer(data=request.data)
        form.is_valid(raise_exception=True)
        endpoint = endpoint_update(actor=Actor.of(request.user), endpoint=endpoint, changes=form.validated_data)
        return Response(serializers.EndpointSerializer(endpoint).data)

    def destroy(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        endpoint_delete(actor=Actor.of(request.user), endpoint=self.get_object())
        return Response(status=status.HTTP_204_NO_CONTENT)


class EndpointRotateView(generics.GenericAPIView):
    """A new secret, shown once; the previous one keeps signing for 24 hours."""

    serializer_class = serializers.EndpointWithSecretSerializer
    roles = {"POST": ADMIN_ONLY}

    def get_queryset(self) -> QuerySet[Endpoint]:
        return Endpoint.objects.filter(member=own_member(self.request)).select_related("member")

    @extend_schema(request=None, responses=serializers.EndpointWithSecretSerializer)
    def post(self, request: Request, pk: int) -> Response:
        endpoint = endpoint_rotate_secret(actor=Actor.of(request.user), endpoint=self.get_object())
        return Response(serializers.EndpointWithSecretSerializer(endpoint).data)
