from __future__ import annotations

from django.apps import AppConfig


class AccountsConfig(AppConfig):
    name = "accounts"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        from django.contrib.auth.signals import user_logged_in

        from accounts.middleware import session_sign_in_stamp
        from accounts.services import sign_in_failures_clear

        # Django's own hook for "a sign-in happened": the session's clock starts there,
        # and the failures counted against that username end.
        user_logged_in.connect(session_sign_in_stamp, dispatch_uid="accounts.sign_in_stamp")
        user_logged_in.connect(sign_in_failures_clear, dispatch_uid="accounts.failures_clear")
