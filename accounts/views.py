"""Pages of the sign-in: the password change (which ends a first password's
requirement) and the page of a sign-in refused by the throttle."""

from __future__ import annotations

from typing import Any

from axes.handlers.proxy import AxesProxyHandler
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
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.http.response import HttpResponseBase
from django.shortcuts import render
from django.template.loader import render_to_string
from django.urls import reverse, reverse_lazy
from django.utils.encoding import force_bytes
from django.utils.http import urlsafe_base64_encode
from django.utils.translation import gettext as _

from accounts.services import password_change_done, password_change_required
from core.ratelimit import RateLimited, rate_limit_check


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
        address = form.cleaned_data["email"].strip().lower()
        try:
            rate_limit_check(f"password-reset:{address}", limit=RESETS_PER_MINUTE)
        except RateLimited:
            # Answered as if sent: the page never says whether an address is known.
            return HttpResponseRedirect(str(self.success_url))
        self.extra_email_context = {"public_url": settings.TISSER_PUBLIC_URL}
        return super().form_valid(form)


class PasswordResetConfirm(PasswordResetConfirmView):
    """The link's page: the person chooses their password. It is their own from then on,
    so a first password's requirement ends (an invitation comes this way too)."""

    template_name = "registration/password_reset_confirm.html"
    success_url = reverse_lazy("password_reset_complete")

    def form_valid(self, form: SetPasswordForm) -> HttpResponse:
        response = super().form_valid(form)
        password_change_done(user_id=form.user.pk)
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
