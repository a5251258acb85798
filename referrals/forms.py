"""The web form a clinician files a referral with: a few plain questions, turned into
the same `ReferralIn` the API takes."""

from __future__ import annotations

import uuid
from datetime import time
from typing import Any, cast

from babel import Locale
from django import forms
from django.utils import timezone
from django.utils.translation import get_language
from django.utils.translation import gettext_lazy as _

from community_catalog.forms import term_choices
from community_catalog.labels import ACCESSIBILITY, WEEKDAYS
from community_catalog.models import TaxonomyTerm
from core.forms import PlainForm, choices_set

# Languages people are most often referred in, here; the slip is printed in French or
# English, and in French with English under each text for any other.
LANGUAGES = ("fr", "en", "ar", "es", "pt", "it", "de", "tr", "ro", "ru", "uk", "zh", "fa", "ps")
# Parts of the day a person can say they are free.
DAY_PARTS = (
    ("morning", _("Morning"), time(8), time(12)),
    ("afternoon", _("Afternoon"), time(12), time(18)),
    ("evening", _("Evening"), time(18), time(22)),
)
DISTANCES = (1, 2, 5, 10, 20, 50)


def language_choices() -> list[tuple[str, str]]:
    """Each language named in the page's language (Babel's CLDR names)."""
    locale = Locale.parse(get_language() or "fr", sep="-")
    return [(code, (locale.languages.get(code) or code).capitalize()) for code in LANGUAGES]


WELLBEING_LABELS = {
    "life_satisfaction": _("Overall, how satisfied are you with your life nowadays?"),
    "worthwhile": _(
        "Overall, to what extent do you feel that the things you do in your life are worthwhile?"
    ),
    "happiness": _("Overall, how happy did you feel yesterday?"),
    "anxiety": _("Overall, how anxious did you feel yesterday?"),
}
WELLBEING_HELP = {
    "anxiety": _("0: not at all anxious; 10: completely anxious."),
}


def _score_field(question: str, *, required: bool) -> forms.TypedChoiceField:
    return forms.TypedChoiceField(
        label=WELLBEING_LABELS[question],
        help_text=WELLBEING_HELP.get(question, _("0: not at all; 10: completely.")),
        choices=[("", "\N{EM DASH}"), *((str(n), str(n)) for n in range(11))],
        coerce=int,
        empty_value=None,
        required=required,
    )


class WellbeingForm(PlainForm):
    """The four ONS personal wellbeing questions, all answered."""

    life_satisfaction = _score_field("life_satisfaction", required=True)
    worthwhile = _score_field("worthwhile", required=True)
    happiness = _score_field("happiness", required=True)
    anxiety = _score_field("anxiety", required=True)

    def scores(self) -> dict[str, int]:
        return {q: self.cleaned_data[q] for q in WELLBEING_LABELS}


class ReferralForm(PlainForm):
    first_name = forms.CharField(label=_("First name"), max_length=80)
    year_of_birth = forms.IntegerField(label=_("Year of birth"), min_value=1900)
    patient_ref = forms.CharField(
        label=_("Your reference for this person (optional)"),
        help_text=_("As in your practice software; never a social security number."),
        max_length=64,
        required=False,
    )
    preferred_language = forms.ChoiceField(label=_("Language the person reads best"))
    postcode = forms.CharField(label=_("Postcode where the person lives"), max_length=16)
    needs = forms.MultipleChoiceField(
        label=_("What the person is going through"),
        widget=forms.CheckboxSelectMultiple,
        required=False,
    )
    activities = forms.MultipleChoiceField(
        label=_("Kinds of activity that could suit them"),
        widget=forms.CheckboxSelectMultiple,
        required=False,
    )
    availability = forms.MultipleChoiceField(
        label=_("When the person is free"),
        help_text=_("Leave empty if any time suits."),
        required=False,
    )
    max_distance_km = forms.TypedChoiceField(
        label=_("How far they can travel"),
        choices=[(d, _("%(km)s km") % {"km": d}) for d in DISTANCES],
        coerce=int,
        initial=5,
    )
    accessibility_needs = forms.MultipleChoiceField(
        label=_("What the place must offer"),
        choices=list(ACCESSIBILITY.items()),
        widget=forms.CheckboxSelectMultiple,
        required=False,
    )
    free_only = forms.BooleanField(label=_("Only activities that cost nothing"), required=False)
    large_print = forms.BooleanField(label=_("Print the slip in large type"), required=False)
    note_for_patient = forms.CharField(
        label=_("A word for the person, printed on the slip (optional)"),
        max_length=1000,
        required=False,
        widget=forms.Textarea(attrs={"rows": 3}),
    )
    note_for_organization = forms.CharField(
        label=_("A word for the organisation that welcomes them (optional)"),
        help_text=_("The organisation sees it; write nothing medical."),
        max_length=1000,
        required=False,
        widget=forms.Textarea(attrs={"rows": 3}),
    )
    consent = forms.BooleanField(
        label=_(
            "The person agrees to be referred, and to their first name and needs being "
            "shared with the organisation that welcomes them."
        ),
        error_messages={"required": _("A referral needs the person's consent.")},
    )
    consent_method = forms.ChoiceField(
        label=_("How they agreed"),
        choices=[("verbal", _("Out loud")), ("written", _("In writing"))],
        initial="verbal",
    )
    # Staying in touch: optional, and a consent of its own.
    contact_email = forms.CharField(
        label=_("E-mail address (optional)"), max_length=254, required=False
    )
    contact_phone = forms.CharField(
        label=_("Mobile number (optional)"),
        help_text=_("For SMS, e.g. 06 12 34 56 78."),
        max_length=32,
        required=False,
    )
    messages_consent = forms.BooleanField(
        label=_(
            "The person agrees to get their own page and a few messages in their language "
            '(the page\'s link, a reminder before a session they choose, "did you go?").'
        ),
        required=False,
    )
    # Asked only where the health centre records wellbeing: all four, or none.
    life_satisfaction = _score_field("life_satisfaction", required=False)
    worthwhile = _score_field("worthwhile", required=False)
    happiness = _score_field("happiness", required=False)
    anxiety = _score_field("anxiety", required=False)
    # One token per form shown: submitting the same form twice files one referral.
    token = forms.UUIDField(widget=forms.HiddenInput)

    def __init__(self, *args: Any, wellbeing: bool = False, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.asks_wellbeing = wellbeing
        if not wellbeing:
            for question in WELLBEING_LABELS:
                del self.fields[question]
        choices_set(self.fields["preferred_language"], language_choices())
        choices_set(self.fields["needs"], term_choices(TaxonomyTerm.Kind.NEED))
        choices_set(self.fields["activities"], term_choices(TaxonomyTerm.Kind.ACTIVITY))
        choices_set(
            self.fields["availability"],
            [
                (f"{day}-{part}", f"{day_label} {part_label}")
                for day, day_label in WEEKDAYS
                for part, part_label, _start, _end in DAY_PARTS
            ],
        )
        year = timezone.localdate().year
        cast(forms.IntegerField, self.fields["year_of_birth"]).max_value = year
        self.fields["year_of_birth"].widget.attrs.update(
            {"min": 1900, "max": year, "inputmode": "numeric"}
        )
        self.fields["postcode"].widget.attrs.update({"autocomplete": "off", "inputmode": "numeric"})
        self.fields["first_name"].widget.attrs["autocomplete"] = "off"
        self.fields["contact_email"].widget.input_type = "email"
        self.fields["contact_email"].widget.attrs.update({"autocomplete": "off"})
        self.fields["contact_phone"].widget.input_type = "tel"
        self.fields["contact_phone"].widget.attrs.update({"autocomplete": "off"})
        if not self.is_bound:
            self.initial.setdefault("token", uuid.uuid4())
            self.initial.setdefault("preferred_language", "fr")

    def clean(self) -> dict[str, Any]:
        data = super().clean() or {}
        if not data.get("needs") and not data.get("activities"):
            self.add_error("needs", _("Tick at least one need or one kind of activity."))
        if (data.get("contact_email") or data.get("contact_phone")) and not data.get(
            "messages_consent"
        ):
            self.add_error(
                "messages_consent",
                _("Tick the box if the person agrees; without it, leave the address empty."),
            )
        if self.asks_wellbeing:
            given = [q for q in WELLBEING_LABELS if data.get(q) is not None]
            if given and len(given) < len(WELLBEING_LABELS):
                for question in WELLBEING_LABELS:
                    if data.get(question) is None:
                        self.add_error(
                            question, _("Answer all four questions, or leave all four empty.")
                        )
        return data

    def wellbeing_fields(self) -> list[forms.BoundField]:
        return [self[q] for q in WELLBEING_LABELS] if self.asks_wellbeing else []

    def day_part_labels(self) -> list[str]:
        return [str(label) for _part, label, _start, _end in DAY_PARTS]

    def availability_grid(self) -> list[dict[str, Any]]:
        """Rows of the availability grid: a day, and a checkbox per part of the day."""
        ticked = set(self["availability"].value() or [])
        return [
            {
                "day": day_label,
                "cells": [
                    {
                        "value": f"{day}-{part}",
                        "id": f"id_availability_{day}_{part}",
                        "label": f"{day_label}, {part_label}",
                        "checked": f"{day}-{part}" in ticked,
                    }
                    for part, part_label, _start, _end in DAY_PARTS
                ],
            }
            for day, day_label in WEEKDAYS
        ]

    def referral_document(self, *, clinician_name: str) -> dict[str, Any]:
        """The referral as the API's JSON body."""
        data = self.cleaned_data
        parts = {part: (start, end) for part, _label, start, end in DAY_PARTS}
        availability = []
        for value in data["availability"]:
            day, part = value.split("-")
            start, end = parts[part]
            availability.append(
                {"weekday": day, "start": start.isoformat(), "end": end.isoformat()}
            )
        return {
            "patient_ref": data["patient_ref"] or f"web-{data['token'].hex[:12]}",
            "first_name": data["first_name"],
            "year_of_birth": data["year_of_birth"],
            "preferred_language": data["preferred_language"],
            "postcode": data["postcode"],
            "needs": [*data["needs"], *data["activities"]],
            "availability": availability,
            "max_distance_km": data["max_distance_km"],
            "accessibility_needs": data["accessibility_needs"],
            "free_only": data["free_only"],
            "large_print": data["large_print"],
            "note_for_patient": data["note_for_patient"],
            "note_for_organization": data["note_for_organization"],
            "clinician_name": clinician_name,
            **(
                {"wellbeing": {q: data[q] for q in WELLBEING_LABELS}}
                if self.asks_wellbeing and data.get("life_satisfaction") is not None
                else {}
            ),
            "consent": {
                "given": True,
                "method": data["consent_method"],
                "at": timezone.now().isoformat(),
                "scope": "referral",
            },
            "contact": {
                "email": data["contact_email"],
                "phone": data["contact_phone"],
                "messages_consent": {
                    "given": data["messages_consent"],
                    "method": data["consent_method"],
                    "at": timezone.now().isoformat(),
                }
                if data["messages_consent"]
                else None,
            },
        }


class CancelForm(PlainForm):
    reason = forms.CharField(
        label=_("Why (optional, not shared with organisations)"), max_length=200, required=False
    )
