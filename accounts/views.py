"""Pages of the sign-in: the password change (which ends a first password's
requirement) and the page of a sign-in refused by the throttle."""

from __future__ import annotations

import logging
import threading
from typing import Any

from axes.handlers.proxy import AxesProxyHandler
from axes.utils import reset as axes_reset
from django import forms
from django.conf import settings
from django.contrib.auth import logout
from django.contrib.auth.forms import PasswordChangeForm, PasswordResetForm, SetPasswordForm
from django.contrib.auth.signals import user_login_failed
from django.contrib.auth.tokens import default_token_generator
from django.contrib.auth.views import (
    PasswordChangeView,
    PasswordResetConfirmView,
    PasswordResetView,
)
from django.core.mail import send_mail
from django.db import connections
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.http.response import HttpResponseBase
from django.shortcuts import render
from django.template.loader import render_to_string
from django.urls import reverse, reverse_lazy
from django.utils.encoding import force_bytes
from django.utils.http import urlsafe_base64_encode
from django.utils.translation import gettext as _

from accounts.client_ip import client_ip
from accounts.services import password_change_done, password_change_required
from core.ratelimit import RateLimited, rate_limit_check

logger = logging.getLogger(__name__)


class OwnPasswordChangeForm(PasswordChangeForm):
    """A new password must differ from the current one: typing a first password again
    would keep a password somebody else knows."""

    def clean(self) -> dict[str, Any]:
        cleaned = super().clean() or {}
        password = cleaned.get("new_password1")
        if password and "new_password1" not in self.errors and self.user.check_password(password):
            self.add_error(
                "new_password1",
                forms.ValidationError(
                    _("Choose a new password, different from the current one."),
                    code="password_unchanged",
                ),
            )
        return cleaned


class PasswordChange(PasswordChangeView):
    """The password change. A wrong current password counts as a failed sign-in (the
    form would otherwise let whoever holds a session try passwords without limit); once
    that username is locked out, the session ends."""

    success_url = reverse_lazy("password_change_done")
    form_class = OwnPasswordChangeForm

    def _locked(self) -> bool:
        credentials = {"username": self.request.user.get_username()}
        return AxesProxyHandler.is_locked(self.request, credentials)

    def dispatch(self, request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponseBase:
        if request.user.is_authenticated and self._locked():
            logout(request)
            return signin_locked_out(request)
        return super().dispatch(request, *args, **kwargs)

    def form_invalid(self, form: PasswordChangeForm) -> HttpResponse:
        if "old_password" in form.errors:
            username = self.request.user.get_username()
            user_login_failed.send(
                sender=type(self), credentials={"username": username}, request=self.request
            )
            if self._locked():
                logout(self.request)
                return signin_locked_out(self.request)
        return super().form_invalid(form)

    def get_context_data(self, **kwargs: Any) -> dict[str, Any]:
        context = super().get_context_data(**kwargs)
        user = self.request.user  # signed in: the view requires it
        context["first_password"] = user.is_authenticated and password_change_required(
            user_id=user.pk
        )
        return context

    def form_valid(self, form: PasswordChangeForm) -> HttpResponse:
        response = super().form_valid(form)
        password_change_done(user_id=form.user.pk)
        return response


def signin_locked_out(
    request: HttpRequest,
    original_response: HttpResponse | None = None,
    credentials: dict[str, Any] | None = None,
) -> HttpResponse:
    """django-axes' lockout response (AXES_LOCKOUT_CALLABLE), for the people's sign-in
    page and the administration's: 429, what happened and how long it lasts."""
    minutes = settings.TISSER_SIGNIN_LOCKOUT_MINUTES
    response = render(request, "accounts/locked_out.html", {"minutes": minutes}, status=429)
    response["Retry-After"] = str(minutes * 60)
    return response


# --- A forgotten password, and invitations -------------------------------------------


# E-mails one address may be sent a minute: a form anyone can fill must not become a way
# to flood someone's inbox.
RESETS_PER_MINUTE = 2
# Requests one client may make a minute, whatever the address.
RESETS_PER_CLIENT = 5


def email_configured() -> bool:
    """Whether Tisser can send e-mail (TISSER_SMTP_URL): otherwise a forgotten password
    is the coordinator's to reset, and a new person's first password is printed."""
    return bool(settings.TISSER_SMTP_URL)


class PasswordReset(PasswordResetView):
    """Django's password reset by e-mail. The page says the same whether the address is
    known or not; the link in the e-mail is built on TISSER_PUBLIC_URL, never on the
    request's Host header; each address is sent at most RESETS_PER_MINUTE a minute."""

    template_name = "registration/password_reset_form.html"
    email_template_name = "registration/password_reset_email.txt"
    subject_template_name = "registration/password_reset_subject.txt"
    success_url = reverse_lazy("password_reset_done")

    def dispatch(self, request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponseBase:
        if not email_configured():
            return render(request, "registration/password_reset_unavailable.html")
        return super().dispatch(request, *args, **kwargs)

    def form_valid(self, form: PasswordResetForm) -> HttpResponse:
        done = HttpResponseRedirect(str(self.success_url))
        try:
            # Per client, whatever address it types: guessing addresses is slow.
            rate_limit_check(
                f"password-reset-ip:{client_ip(self.request) or '-'}", limit=RESETS_PER_CLIENT
            )
        except RateLimited:
            return done  # answered as if sent: the page never says what it did
        address = form.cleaned_data["email"]
        # Counted by the sign-ins the address reaches (as Django matches them, case and
        # Unicode folded), not by how it was typed.
        users = [
            user
            for user in form.get_users(address)
            if _under_limit(f"password-reset:user:{user.pk}", RESETS_PER_MINUTE)
        ]
        if users:
            context = {
                "public_url": settings.TISSER_PUBLIC_URL,
                "domain": "",
                "site_name": "Tisser",
                "protocol": "https",
            }
            # Sent beside the answer, so that a known address takes no longer to answer
            # than an unknown one (and a slow mail server holds no web thread).
            threading.Thread(target=_resets_send, args=(form, users, context), daemon=True).start()
        return done


def _under_limit(name: str, limit: int) -> bool:
    try:
        rate_limit_check(name, limit=limit)
    except RateLimited:
        return False
    return True


def _resets_send(form: PasswordResetForm, users: list[Any], context: dict[str, Any]) -> None:
    try:
        for user in users:
            form.send_mail(
                "registration/password_reset_subject.txt",
                "registration/password_reset_email.txt",
                {
                    **context,
                    "email": getattr(user, user.get_email_field_name()),
                    "uid": urlsafe_base64_encode(force_bytes(user.pk)),
                    "user": user,
                    "token": default_token_generator.make_token(user),
                },
                None,
                getattr(user, user.get_email_field_name()),
            )
    except Exception:  # the person sees "look in your e-mail" either way
        logger.exception("password reset e-mail not sent")
    finally:
        connections.close_all()


class PasswordResetConfirm(PasswordResetConfirmView):
    """The link's page: the person chooses their password. It is their own from then on,
    so a first password's requirement ends (an invitation comes this way too)."""

    template_name = "registration/password_reset_confirm.html"
    success_url = reverse_lazy("password_reset_complete")

    def form_valid(self, form: SetPasswordForm) -> HttpResponse:
        response = super().form_valid(form)
        password_change_done(user_id=form.user.pk)
        # Whoever guessed at this username locked it: the person who proved they read
        # its e-mail is let in again.
        axes_reset(username=form.user.get_username())
        return response


def invitation_send(user: Any, *, party: str) -> None:
    """An e-mail with a link to choose one's password (the reset link, valid
    PASSWORD_RESET_TIMEOUT, three days), instead of a printed first password."""
    path = reverse(
        "password_reset_confirm",
        kwargs={
            "uidb64": urlsafe_base64_encode(force_bytes(user.pk)),
            "token": default_token_generator.make_token(user),
        },
    )
    context = {
        "username": user.get_username(),
        "party": party,
        "link": f"{settings.TISSER_PUBLIC_URL}{path}",
        "days": settings.PASSWORD_RESET_TIMEOUT // 86400,
    }
    send_mail(
        render_to_string("registration/invitation_subject.txt", context).strip(),
        render_to_string("registration/invitation_email.txt", context),
        None,
        [user.email],
        fail_silently=False,
    )
