"""Pages of the sign-in: the password change (which ends a first password's
requirement) and the page of a sign-in refused by the throttle."""

from __future__ import annotations

from typing import Any

from axes.handlers.proxy import AxesProxyHandler
from django import forms
from django.conf import settings
from django.contrib.auth import logout
from django.contrib.auth.forms import PasswordChangeForm
from django.contrib.auth.signals import user_login_failed
from django.contrib.auth.views import PasswordChangeView
from django.http import HttpRequest, HttpResponse
from django.http.response import HttpResponseBase
from django.shortcuts import render
from django.urls import reverse_lazy
from django.utils.translation import gettext as _

from accounts.services import password_change_done, password_change_required


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
