"""`Authorization: Bearer <token>` and `Authorization: Token <token>` (TAXII clients send it)."""
from __future__ import annotations

from typing import Any

from rest_framework import authentication, exceptions

from members.models import ApiToken, User
from members.services.tokens import token_authenticate

KEYWORDS = {"bearer", "token"}


class TokenAuthentication(authentication.BaseAuthentication):
    def authenticate(self, request: Any) -> tuple[User, ApiToken] | None:
        header = authentication.get_authorization_header(request).decode("latin-1")
        if not header:
            return None
        parts = header.split()
        if parts[0].lower() not in KEYWORDS:
            return None  # another scheme (e.g. Basic): not ours to judge
        if len(parts) != 2:
            raise exceptions.AuthenticationFailed("Send 'Authorization: Bearer <token>' with one token and nothing else.")
        token = token_authenticate(parts[1])
        if token is None:
            raise exceptions.AuthenticationFailed("This token is not known. Ask your member's admin for a new one.")
        if token.revoked is not None:
            raise exceptions.AuthenticationFailed("This token has been revoked. Ask your member's admin for a new one.")
        if not token.is_usable():
            raise exceptions.AuthenticationFailed("This token has expired. Ask your member's admin for a new one.")
        if not token.user.is_active:
            raise exceptions.AuthenticationFailed("The user of this token is deactivated.")
        return token.user, token

    def authenticate_header(self, request: Any) -> str:
        return 'Bearer realm="consortium"'
