import hashlib
import re
import secrets
from datetime import timedelta

from django.conf import settings
from django.contrib.auth import authenticate, user_logged_in
from django.contrib.auth.backends import ModelBackend
from django.contrib.auth.password_validation import validate_password
from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from django.utils.crypto import constant_time_compare, salted_hmac

from kameng.core import clock
from kameng.core.errors import DomainError, Invalid

from . import token_cache
from .models import ApiToken, Role, User

PHONE_RE = re.compile(r"^1[3-9]\d{9}$")


def _digest(token: str) -> str:
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


def user_create(*, username: str, password: str, role: str, phone: str = "") -> User:
    if role not in Role.values:
        raise Invalid(f"unknown role {role!r}; one of {', '.join(Role.values)}", code="INVALID_ROLE")
    if phone and not PHONE_RE.match(phone):
        raise Invalid("a phone number is 11 digits starting with 1", code="INVALID_PHONE")
    if not username or len(username) > 150:
        raise Invalid("a username is 1 to 150 characters", code="INVALID_USERNAME")
    if len(password) < 6:
        raise Invalid("a password has at least 6 characters", code="INVALID_PASSWORD")
    try:
        with transaction.atomic():
            user = User.objects.create_user(
                username=username,
                password=password,
                role=role,
                phone=phone,
                is_staff=role == Role.ADMIN,
                is_superuser=role == Role.ADMIN,
            )
    except IntegrityError as exc:
        raise DomainError("this username is taken", code="USERNAME_TAKEN", status=409) from exc
    return user


def password_stamp(user: User) -> str:
    """Changes whenever the user's password changes (Django's session check works the same way)."""
    return salted_hmac("kameng.accounts.ApiToken.password_stamp", user.password, algorithm="sha256").hexdigest()


def too_many_attempts() -> DomainError:
    minutes = int(settings.AXES_COOLOFF_TIME.total_seconds() // 60)
    return DomainError(f"too many failed logins: try again in {minutes} minutes", code="TOO_MANY_ATTEMPTS",
                       status=429)


def _authenticate(request, username: str, password: str) -> User | None:
    if request is None:
        # In-process callers (tests, the shell) have no client to throttle; every HTTP path passes its
        # request, so the lockout (django-axes, a backend of `authenticate`) always applies there.
        return ModelBackend().authenticate(None, username=username, password=password)
    user = authenticate(request, username=username, password=password)
    if user is None and getattr(request, "axes_locked_out", False):
        raise too_many_attempts()
    return user


def token_issue(*, username: str, password: str, request=None) -> tuple[str, User]:
    user = _authenticate(request, username, password)
    if user is None or not user.is_active:
        raise DomainError("wrong username or password", code="INVALID_CREDENTIALS", status=401)
    token = secrets.token_urlsafe(32)
    ApiToken.objects.create(user=user, digest=_digest(token), created_at=clock.real_now(),
                            password_stamp=password_stamp(user))
    if request is not None:
        # A token is a login: the throttle's failure count starts again, last_login moves.
        user_logged_in.send(sender=user.__class__, request=request, user=user)
    return token, user


def token_user(token: str) -> User | None:
    """The token's user while the token is young enough (real time: the test clock does not age it)
    and was issued under the user's current password.

    From the shared cache when it holds the token (no query: kameng.accounts.token_cache, which every
    change that ends a token invalidates at once); otherwise from the database, then cached.
    """
    oldest = clock.real_now() - timedelta(days=settings.KAMENG_TOKEN_DAYS)
    digest = _digest(token)
    generation = ""
    if token_cache.enabled():
        user = token_cache.cached_user(digest, oldest=oldest)
        if user is not None:
            return user
        generation = token_cache.generation_before_read(digest)  # before the rows it vouches for are read
    row = ApiToken.objects.select_related("user").filter(digest=digest, created_at__gt=oldest).first()
    if row is None or not row.user.is_active:
        return None
    current = password_stamp(row.user)
    if not constant_time_compare(row.password_stamp, current):
        # The password changed since: every token issued before it goes.
        stale = ApiToken.objects.filter(user=row.user).exclude(password_stamp=current)
        token_cache.forget_tokens(list(stale.values_list("digest", flat=True)))
        stale.delete()
        return None
    token_cache.remember(digest, user=row.user, generation=generation, created_at=row.created_at)
    return row.user


def tokens_revoke_all(*, user: User) -> int:
    """Ends every API token of `user` (a password change does this; stale tokens fail anyway)."""
    token_cache.forget_user(user.id)  # before the rows that name its tokens go
    deleted, _ = ApiToken.objects.filter(user=user).delete()
    return deleted


def password_change(*, user: User, old_password: str, new_password: str) -> str:
    """Sets a new password; every API token and every other session of the user ends (sessions by
    Django's own check of the password hash). Returns a fresh token for the caller to go on with."""
    user = User.objects.get(pk=user.pk)  # the stored password, not a cached copy of the user
    if not user.check_password(old_password):
        raise DomainError("the current password is wrong", code="WRONG_PASSWORD", status=403)
    try:
        validate_password(new_password, user)
    except ValidationError as exc:
        raise Invalid("; ".join(exc.messages), code="INVALID_PASSWORD") from exc
    with transaction.atomic():
        user.set_password(new_password)
        user.save(update_fields=["password"])
        tokens_revoke_all(user=user)
        token = secrets.token_urlsafe(32)
        ApiToken.objects.create(user=user, digest=_digest(token), created_at=clock.real_now(),
                                password_stamp=password_stamp(user))
    return token


def token_revoke(*, token: str) -> None:
    """Logout: the token ends here and, through the cache's generation, in every process at once."""
    digest = _digest(token)
    token_cache.forget_tokens([digest])
    ApiToken.objects.filter(digest=digest).delete()


def refund_destination_set(*, user: User, destination) -> User:
    """The buyer's default refund destination (original | wallet): where the platform's own refunds go."""
    from .models import RefundDestination

    if user.role != Role.BUYER:
        raise DomainError("only a buyer has a refund destination", code="ROLE_FORBIDDEN", status=403)
    if destination not in RefundDestination.values:
        raise Invalid("refund_destination is original or wallet", code="INVALID_DESTINATION")
    User.objects.filter(id=user.id).update(refund_destination=destination)
    token_cache.forget_user(user.id)  # a cached request.auth must not keep the old choice
    user.refund_destination = destination
    return user


def language_set(*, user: User, language) -> User:
    """The language the platform writes to this person in (站内信 read through the API, SMS, e-mail)."""
    from kameng.notifications.render import LANGUAGES

    if language not in LANGUAGES:
        raise Invalid(f"language is one of {', '.join(LANGUAGES)}", code="INVALID_LANGUAGE")
    User.objects.filter(id=user.id).update(language=language)
    token_cache.forget_user(user.id)  # a cached request.auth must not keep the old language
    user.language = language
    return user


def me_settings_set(*, user: User, changes: dict) -> User:
    """PATCH /me with the fields sent (`refund_destination`, `language`): one transaction, so a bad value
    changes nothing, the good one included."""
    if not changes:
        raise Invalid("send refund_destination and/or language", code="NOTHING_TO_CHANGE")
    with transaction.atomic():
        if "language" in changes:
            language_set(user=user, language=changes["language"])
        if "refund_destination" in changes:
            refund_destination_set(user=user, destination=changes["refund_destination"])
    return user
