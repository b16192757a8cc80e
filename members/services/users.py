"""Users of a member and their roles."""
from __future__ import annotations

from django.db import IntegrityError, transaction

from consortium.audit.services import Actor, audit_append
from consortium.errors import Conflict, InvalidInput
from members.models import Member, Role, User

MEMBER_ROLES = {Role.ADMIN, Role.ANALYST, Role.READER}


def _check_role(member: Member | None, role: str | None) -> None:
    if role is not None and role not in Role.values:
        raise InvalidInput(f"Unknown role {role!r}; use one of {', '.join(Role.values)}.", pointer="/role")
    if role in MEMBER_ROLES and member is None:
        raise InvalidInput(f"A user with the role {role} must belong to a member.", pointer="/member")


def user_create(
    *,
    actor: Actor,
    username: str,
    member: Member | None,
    role: str | None,
    email: str = "",
    password: str | None = None,
    is_staff: bool = False,
) -> User:
    """Create a user (password unusable unless given). Raises Conflict on a taken username."""
    _check_role(member, role)
    try:
        with transaction.atomic():
            user = User(username=username, email=email, member=member, role=role, is_staff=is_staff)
            if password:
                user.set_password(password)
            else:
                user.set_unusable_password()
            user.save()
            audit_append(
                actor=actor,
                action="user.created",
                subject=f"user:{username}",
                member=member.slug if member else None,
                role=role,
                staff=is_staff,
            )
    except IntegrityError:
        raise Conflict(f"The username {username!r} is taken.", pointer="/username") from None
    return user


def user_set_role(*, actor: Actor, user: User, role: str | None) -> bool:
    """Change a user's role; returns False, logging nothing, if it had that role already."""
    _check_role(user.member, role)
    with transaction.atomic():
        moved = User.objects.filter(pk=user.pk).exclude(role=role).update(role=role)
        if moved:
            audit_append(
                actor=actor, action="user.role_changed", subject=f"user:{user.username}", old=user.role, new=role
            )
    user.role = role
    return bool(moved)


def user_set_active(*, actor: Actor, user: User, active: bool) -> bool:
    """Deactivate (its tokens stop working) or reactivate a user."""
    with transaction.atomic():
        moved = User.objects.filter(pk=user.pk).exclude(is_active=active).update(is_active=active)
        if moved:
            action = "user.reactivated" if active else "user.deactivated"
            audit_append(actor=actor, action=action, subject=f"user:{user.username}")
    user.is_active = active
    return bool(moved)
