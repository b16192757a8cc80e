from __future__ import annotations

from typing import Any

from rest_framework import serializers

from consortium.audit.services import rfc3339
from members.models import ApiToken, Endpoint, Member, MemberKey, Role, User


class TimeField(serializers.DateTimeField):
    """RFC 3339 UTC with a Z, like every time the protocol writes."""

    def to_representation(self, value: Any) -> str | None:
        return rfc3339(value) if value else None


class MemberSerializer(serializers.ModelSerializer):
    created = TimeField()

    class Meta:
        model = Member
        fields = ["slug", "name", "status", "created"]


class MeSerializer(serializers.Serializer):
    member = MemberSerializer(allow_null=True)
    username = serializers.CharField()
    role = serializers.CharField(allow_null=True)
    staff = serializers.BooleanField()


class KeySerializer(serializers.ModelSerializer):
    jwk = serializers.SerializerMethodField()
    active = serializers.BooleanField(source="is_active")
    member = serializers.SlugRelatedField(slug_field="slug", read_only=True)
    created = TimeField()
    revoked = TimeField()

    class Meta:
        model = MemberKey
        fields = ["kid", "member", "name", "jwk", "active", "created", "revoked"]

    def get_jwk(self, key: MemberKey) -> dict[str, str]:
        return {**key.public_jwk, "kid": key.kid, "alg": "EdDSA", "use": "sig"}


class KeyCreateSerializer(serializers.Serializer):
    """The body is the public JWK itself, with an optional `name` to tell keys apart."""

    kty = serializers.CharField()
    crv = serializers.CharField()
    x = serializers.CharField()
    kid = serializers.CharField(required=False, help_text="If sent, must be the RFC 7638 thumbprint.")
    name = serializers.CharField(required=False, allow_blank=True, max_length=100, default="")


class TokenSerializer(serializers.ModelSerializer):
    user = serializers.SlugRelatedField(slug_field="username", read_only=True)
    created = TimeField()
    expires = TimeField()
    revoked = TimeField()
    last_used = TimeField()

    class Meta:
        model = ApiToken
        fields = ["id", "name", "prefix", "user", "created", "expires", "revoked", "last_used"]


class TokenCreateSerializer(serializers.Serializer):
    user = serializers.CharField(required=False, help_text="Username in your member; default yourself.")
    name = serializers.CharField(required=False, allow_blank=True, max_length=100, default="")
    expires_days = serializers.IntegerField(required=False, allow_null=True, min_value=1, max_value=3650)


class TokenCreatedSerializer(TokenSerializer):
    token = serializers.CharField(help_text="Shown once; store it now.")

    class Meta(TokenSerializer.Meta):
        fields = [*TokenSerializer.Meta.fields, "token"]


class UserSerializer(serializers.ModelSerializer):
    member = serializers.SlugRelatedField(slug_field="slug", read_only=True)
    date_joined = TimeField()

    class Meta:
        model = User
        fields = ["username", "email", "member", "role", "is_active", "date_joined"]


class UserCreateSerializer(serializers.Serializer):
    username = serializers.RegexField(r"^[\w.@+-]{1,150}$")
    email = serializers.EmailField(required=False, allow_blank=True, default="")
    role = serializers.ChoiceField(choices=[Role.ADMIN, Role.ANALYST, Role.READER])


class UserUpdateSerializer(serializers.Serializer):
    role = serializers.ChoiceField(choices=[Role.ADMIN, Role.ANALYST, Role.READER], required=False)
    is_active = serializers.BooleanField(required=False)


class EndpointSerializer(serializers.ModelSerializer):
    created = TimeField()
    failing_since = TimeField()
    previous_secret_expires = TimeField()

    class Meta:
        model = Endpoint
        fields = ["id", "url", "events", "description", "enabled", "disabled_reason", "failing_since", "previous_secret_expires", "created"]


class EndpointWithSecretSerializer(EndpointSerializer):
    secret = serializers.CharField(help_text="Shown once, on creation and rotation: store it now.")

    class Meta(EndpointSerializer.Meta):
        fields = [*EndpointSerializer.Meta.fields, "secret"]


class EndpointCreateSerializer(serializers.Serializer):
    url = serializers.CharField(max_length=2048)
    events = serializers.ListField(child=serializers.CharField(), max_length=10)
    description = serializers.CharField(required=False, allow_blank=True, max_length=200, default="")


class EndpointUpdateSerializer(serializers.Serializer):
    url = serializers.CharField(max_length=2048, required=False)
    events = serializers.ListField(child=serializers.CharField(), max_length=10, required=False)
    description = serializers.CharField(required=False, allow_blank=True, max_length=200)
    enabled = serializers.BooleanField(required=False)
