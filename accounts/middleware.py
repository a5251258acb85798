"""How long a signed-in session lasts, and the first password.

A session ends after TISSER_SESSION_IDLE_MINUTES without a request: that is Django's own
expiry (SESSION_COOKIE_AGE), renewed on every request (SESSION_SAVE_EVERY_REQUEST). It
also ends TISSER_SESSION_MAX_HOURS after the sign-in however busy it was, so a computer
shared at a reception desk is not signed in for days: that is `SessionLifetime`. Either
way the person is told why they are asked to sign in again: a session that ended while
idle leaves no trace on the server, so a cookie that says only "this browser was signed
in" (no name, no id) lets the sign-in page explain.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

from django.conf import settings
from django.contrib import messages
from django.contrib.auth import logout
from django.contrib.auth.views import redirect_to_login
from django.http import HttpRequest, HttpResponse
from django.http.response import HttpResponseBase
from django.shortcuts import redirect
from django.utils.translation import gettext as _

from accounts.services import password_change_required

# When the session's person signed in (seconds since the epoch).
SIGNED_IN_AT = "tisser_signed_in_at"
# "This browser was signed in": set while signed in, removed at sign-out.
WAS_SIGNED_IN = "tisser_was_signed_in"
# The pages that act as the signed-in person (the API answers keys, not sessions).
PERSON_PAGES = ("/app/", "/admin/")

Handler = Callable[[HttpRequest], HttpResponseBase]


def session_sign_in_stamp(sender: Any, request: HttpRequest, user: Any, **kwargs: Any) -> None:
    """`user_logged_in` receiver: the session's absolute lifetime starts now."""
    request.session[SIGNED_IN_AT] = int(time.time())


class SessionLifetime:
    """Signs out a session TISSER_SESSION_MAX_HOURS after its sign-in."""

    def __init__(self, get_response: Handler) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponseBase:
        was_signed_in = request.COOKIES.get(WAS_SIGNED_IN) == "1"
        if request.user.is_authenticated:
            # A session from before this check was deployed starts its clock now.
            started = request.session.setdefault(SIGNED_IN_AT, int(time.time()))
            if time.time() - started > settings.TISSER_SESSION_MAX_HOURS * 3600:
                logout(request)
                messages.info(request, _("Your session has ended: sign in again."))
                return self._forget(redirect_to_login(request.get_full_path()))
        elif was_signed_in and request.path.startswith(PERSON_PAGES):
            # The session ended while idle: the page will ask to sign in; say why.
            messages.info(request, _("Your session has ended: sign in again."))
        response = self.get_response(request)
        if request.user.is_authenticated and not was_signed_in:
            response.set_cookie(
                WAS_SIGNED_IN,
                "1",
                max_age=30 * 24 * 3600,
                secure=settings.SESSION_COOKIE_SECURE,
                httponly=True,
                samesite="Lax",
            )
        elif not request.user.is_authenticated and was_signed_in:
            self._forget(response)
        return response

    @staticmethod
    def _forget(response: HttpResponseBase) -> HttpResponseBase:
        response.delete_cookie(WAS_SIGNED_IN, samesite="Lax")
        return response


class FirstPasswordChange:
    """Sends a person who still has the password somebody else chose for them to the
    password page, from every page that acts as them, until they have chosen their own."""

    def __init__(self, get_response: Handler) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponseBase:
        if (
            request.path.startswith(PERSON_PAGES)
            and request.user.is_authenticated
            and password_change_required(user_id=request.user.pk)
        ):
            response: HttpResponse = redirect("password_change")
            return response
        return self.get_response(request)
