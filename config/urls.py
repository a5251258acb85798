from __future__ import annotations

from django.contrib import admin
from django.contrib.auth import views as auth_views
from django.urls import include, path, re_path
from django.views.generic import RedirectView

from accounts.views import PasswordChange, PasswordReset, PasswordResetConfirm
from community_catalog import hsds_api, public, web_taxonomy
from community_catalog import web as catalog_web
from config.api import api, api_not_found
from config.health import healthz, readyz
from config.metrics import metrics_view
from harvest import web as harvest_web
from outreach import page as personal
from outreach import web as personal_web
from referrals import web_center, web_inbox
from referrals.web import home, root
from reports import web as web_reports
from slips import web as slips_web

# Admin pages of models that moved to the app of their concern keep working from old
# bookmarks: /admin/referrals/event/… is now /admin/events/event/… (a permanent redirect).
MOVED_ADMIN = {
    "healthcenter": "accounts",
    "apikey": "accounts",
    "event": "events",
    "webhooksubscription": "events",
    "webhookdelivery": "events",
    "slip": "slips",
}
moved_admin = [
    re_path(
        rf"^admin/referrals/{model}/(?P<rest>.*)$",
        RedirectView.as_view(
            url=f"/admin/{app}/{model}/%(rest)s", permanent=True, query_string=True
        ),
    )
    for model, app in MOVED_ADMIN.items()
]

urlpatterns = [
    path("api/v1/", api.urls),
    re_path(r"^api(?:/(?P<rest>.*))?$", api_not_found),  # a JSON 404, not a page
    # The catalogue as Open Referral's HSDS 3.0 API: public, read-only.
    path("hsds", hsds_api.api_root),
    path("hsds/", include(hsds_api.urlpatterns)),
    re_path(r"^hsds(?:/(?P<rest>.*))?$", hsds_api.not_found),
    *moved_admin,
    path("admin/", admin.site.urls),
    path("healthz", healthz),
    path("readyz", readyz),
    path("metrics", metrics_view),
    # Web pages for people (sign-in created by `tisser create-user`).
    path("", root),
    # What the QR code on a slip opens: public, no sign-in.
    path("a/<uuid:sal_id>", public.activity_page, name="public-activity"),
    path("a/<uuid:sal_id>/", public.activity_page),
    # The person's own page (outreach): reached from the slip's second QR code and the
    # messages they agreed to; the token is its only key.
    path("p/<str:token>", personal.personal_page, name="personal-page"),
    path("p/<str:token>/choose", personal.choose_view, name="personal-page-choose"),
    path("p/<str:token>/answer", personal.answer_view, name="personal-page-answer"),
    path("p/<str:token>/other", personal.other_view, name="personal-page-other"),
    path("p/<str:token>/stop", personal.stop_view, name="personal-page-stop"),
    path("app/", home, name="web-home"),
    path("app/reports/", web_reports.reports, name="web-reports"),
    path("app/reports/<slug:table>.csv", web_reports.report_csv, name="web-report-csv"),
    # A clinician's pages.
    path("app/referrals/", web_center.referral_list, name="web-referrals"),
    path("app/referrals/new/", web_center.referral_new, name="web-referral-new"),
    path("app/referrals/<uuid:referral_id>/", web_center.referral_detail, name="web-referral"),
    path(
        "app/referrals/<uuid:referral_id>/slip.pdf",
        slips_web.referral_slip,
        name="web-referral-slip",
    ),
    path(
        "app/referrals/<uuid:referral_id>/cancel/",
        web_center.referral_cancel_view,
        name="web-referral-cancel",
    ),
    path(
        "app/referrals/<uuid:referral_id>/consent/withdraw/",
        web_center.referral_consent_withdraw_view,
        name="web-referral-consent-withdraw",
    ),
    path("app/notifications/", personal_web.notifications_view, name="web-notifications"),
    path(
        "app/referrals/<uuid:referral_id>/messages/withdraw/",
        personal_web.messages_withdraw_view,
        name="web-referral-messages-withdraw",
    ),
    path(
        "app/referrals/<uuid:referral_id>/wellbeing/<uuid:placement_id>/",
        web_center.referral_wellbeing_view,
        name="web-referral-wellbeing",
    ),
    path("app/slips/today.pdf", slips_web.slips_today, name="web-slips-today"),
    # An organisation's pages.
    path(
        "app/inbox/<uuid:placement_id>/wellbeing/",
        web_inbox.placement_wellbeing,
        name="web-inbox-wellbeing",
    ),
    path("app/inbox/", web_inbox.inbox, name="web-inbox"),
    path(
        "app/inbox/<uuid:placement_id>/<slug:action>/",
        web_inbox.placement_answer,
        name="web-inbox-answer",
    ),
    path("app/activities/", catalog_web.activities, name="web-activities"),
    path("app/activities/new/", catalog_web.activity_new, name="web-activity-new"),
    path("app/activities/<uuid:service_id>/", catalog_web.activity_edit, name="web-activity"),
    path(
        "app/activities/<uuid:service_id>/confirm/",
        catalog_web.activity_confirm,
        name="web-activity-confirm",
    ),
    path(
        "app/capacity/<uuid:sal_id>/",
        catalog_web.capacity_save,
        name="web-capacity",
    ),
    path(
        "app/capacity/<uuid:sal_id>/<slug:state>/",
        catalog_web.capacity_quick,
        name="web-capacity-quick",
    ),
    path(
        "app/sessions/<uuid:sal_id>/",
        catalog_web.schedule_add,
        name="web-schedule-add",
    ),
    path(
        "app/sessions/<uuid:sal_id>/<uuid:schedule_id>/delete/",
        catalog_web.schedule_delete,
        name="web-schedule-delete",
    ),
    path("app/places/", catalog_web.places, name="web-places"),
    path("app/places/new/", catalog_web.place_edit, name="web-place-new"),
    path("app/places/<uuid:location_id>/", catalog_web.place_edit, name="web-place"),
    path("app/import/", catalog_web.catalog_import, name="web-import"),
    # An operator's pages (staff accounts).
    path("app/taxonomy/", web_taxonomy.taxonomy, name="web-taxonomy"),
    path("app/taxonomy/new/", web_taxonomy.taxonomy_term_new, name="web-taxonomy-new"),
    path("app/taxonomy/term/<slug:code>/", web_taxonomy.taxonomy_term, name="web-taxonomy-term"),
    path("app/crosswalks/", web_taxonomy.crosswalk_page, name="web-crosswalks"),
    path("app/crosswalks/set/", web_taxonomy.crosswalk_set, name="web-crosswalk-set"),
    path("app/crosswalks/remove/", web_taxonomy.crosswalk_remove, name="web-crosswalk-remove"),
    path("app/harvest/", harvest_web.sources_page, name="web-harvest"),
    path("app/harvest/<slug:name>/", harvest_web.source_page, name="web-harvest-source"),
    path("app/harvest/<slug:name>/run/", harvest_web.source_run_now, name="web-harvest-run"),
    path(
        "app/harvest/<slug:name>/reviewed/<int:record>/",
        harvest_web.record_reviewed,
        name="web-harvest-reviewed",
    ),
    path("app/import/apply/", catalog_web.catalog_import_apply, name="web-import-apply"),
    path(
        "accounts/login/",
        auth_views.LoginView.as_view(redirect_authenticated_user=True),
        name="login",
    ),
    path("accounts/logout/", auth_views.LogoutView.as_view(), name="logout"),
    # A forgotten password, by e-mail (TISSER_SMTP_URL); an invitation's link is the same.
    path("accounts/password/reset/", PasswordReset.as_view(), name="password_reset"),
    path(
        "accounts/password/reset/sent/",
        auth_views.PasswordResetDoneView.as_view(),
        name="password_reset_done",
    ),
    path(
        "accounts/password/reset/<uidb64>/<token>/",
        PasswordResetConfirm.as_view(),
        name="password_reset_confirm",
    ),
    path(
        "accounts/password/reset/done/",
        auth_views.PasswordResetCompleteView.as_view(),
        name="password_reset_complete",
    ),
    path("accounts/password/", PasswordChange.as_view(), name="password_change"),
    path(
        "accounts/password/done/",
        auth_views.PasswordChangeDoneView.as_view(),
        name="password_change_done",
    ),
    path("i18n/", include("django.conf.urls.i18n")),
]
