"""Web forms an organisation keeps its activities current with."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from django import forms
from django.utils.translation import get_language
from django.utils.translation import gettext_lazy as _

from community_catalog.costs import text_cost_state
from community_catalog.labels import WEEKDAYS
from community_catalog.models import Location, Organization, Service
from community_catalog.selectors import postcode_position
from community_catalog.taxonomy import KIND_ROOTS, taxonomy_current
from core.forms import PlainForm, choices_set


def taxonomy_choices(*, keep: Iterable[str] = ()) -> list[tuple[str, str]]:
    return term_choices("activity", keep=keep) + term_choices("need", keep=keep)


class ServiceForm(PlainForm):
    name = forms.CharField(label=_("Name"), max_length=200)
    description = forms.CharField(
        label=_("What it is, in a sentence or two"),
        widget=forms.Textarea(attrs={"rows": 3}),
        max_length=2000,
    )
    taxonomy = forms.MultipleChoiceField(
        label=_("Kinds of activity, and the needs it helps with"),
        widget=forms.CheckboxSelectMultiple,
    )
    application_process = forms.CharField(
        label=_("How to join"),
        widget=forms.Textarea(attrs={"rows": 2}),
        max_length=1000,
        required=False,
    )
    what_to_bring = forms.CharField(label=_("What to bring"), max_length=500, required=False)
    cost = forms.ChoiceField(
        label=_("Cost"),
        choices=[
            (Service.Cost.FREE, _("Free")),
            (Service.Cost.PAID, _("There is a cost (say how much below)")),
            (Service.Cost.NOT_STATED, _("Not said: people are told to ask")),
            ("", _("Let Tisser read it from your prices and the text below")),
        ],
        widget=forms.RadioSelect,
        required=False,
    )
    fees_description = forms.CharField(
        label=_("What it costs, in your words (optional)"), max_length=500, required=False
    )
    status = forms.ChoiceField(
        label=_("State"),
        choices=[
            (Service.Status.ACTIVE, _("Running")),
            (Service.Status.TEMPORARILY_CLOSED, _("Closed for now")),
        ],
    )
    alert = forms.CharField(
        label=_("A short notice, e.g. why it is closed (optional)"),
        max_length=500,
        required=False,
    )

    def __init__(self, *args: Any, carried: Iterable[str] = (), **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        choices_set(self.fields["taxonomy"], taxonomy_choices(keep=carried))

    def clean(self) -> dict[str, Any]:
        data = super().clean() or {}
        if data.get("cost") == Service.Cost.FREE and (
            text_cost_state(data.get("fees_description") or "") == Service.Cost.PAID
        ):
            self.add_error(
                "fees_description",
                _("You said it is free, but this text mentions something to pay."),
            )
        return data

    @staticmethod
    def initial_of(service: Service) -> dict[str, Any]:
        return {
            "name": service.name,
            "description": service.description,
            "taxonomy": [t.code for t in service.taxonomy_terms.all()],
            "application_process": service.application_process,
            "what_to_bring": service.what_to_bring,
            # What they declared; nothing when Tisser reads it (a save must not turn what
            # Tisser read into a declaration).
            "cost": service.cost_declared,
            "fees_description": service.fees_description,
            "status": service.status,
            "alert": service.alert,
        }

    def changes(self) -> dict[str, Any]:
        """The HSDS fields to write (PATCH semantics)."""
        data = self.cleaned_data
        return {
            "name": data["name"],
            "description": data["description"],
            "taxonomy": data["taxonomy"],
            "application_process": data["application_process"],
            "what_to_bring": data["what_to_bring"],
            "fees_description": data["fees_description"],
            "cost": data["cost"] or None,
            "alert": data["alert"],
            "status": data.get("status", Service.Status.ACTIVE),
        }


class NewServiceForm(ServiceForm):
    location = forms.ChoiceField(label=_("Where it takes place"))

    def __init__(self, *args: Any, organization: Organization, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.locations = [
            (str(loc.id), loc.name or str(loc.id))
            for loc in Location.objects.filter(organization=organization).order_by("name")
        ]
        choices_set(self.fields["location"], self.locations)
        del self.fields["status"]

    def document(self) -> dict[str, Any]:
        return {
            **self.changes(),
            "service_at_locations": [{"location_id": self.cleaned_data["location"]}],
        }


class CapacityForm(PlainForm):
    available = forms.IntegerField(label=_("Places left"), min_value=0, required=False)
    maximum = forms.IntegerField(label=_("Places in all"), min_value=0, required=False)


class ScheduleForm(PlainForm):
    byday = forms.MultipleChoiceField(
        label=_("Days"), choices=WEEKDAYS, widget=forms.CheckboxSelectMultiple
    )
    opens_at = forms.TimeField(
        label=_("Starts at"), widget=forms.TimeInput(attrs={"type": "time"}, format="%H:%M")
    )
    closes_at = forms.TimeField(
        label=_("Ends at"), widget=forms.TimeInput(attrs={"type": "time"}, format="%H:%M")
    )
    interval = forms.TypedChoiceField(
        label=_("How often"),
        choices=[(1, _("Every week")), (2, _("Every other week"))],
        coerce=int,
        initial=1,
    )

    def clean(self) -> dict[str, Any]:
        data = super().clean() or {}
        opens, closes = data.get("opens_at"), data.get("closes_at")
        if opens and closes and closes <= opens:
            self.add_error("closes_at", _("It must end after it starts."))
        return data

    def document(self) -> dict[str, Any]:
        data = self.cleaned_data
        return {
            "freq": "WEEKLY",
            "interval": data["interval"],
            "byday": ",".join(data["byday"]),
            "opens_at": data["opens_at"].strftime("%H:%M"),
            "closes_at": data["closes_at"].strftime("%H:%M"),
        }


class LocationForm(PlainForm):
    name = forms.CharField(label=_("Name of the place"), max_length=200)
    address_1 = forms.CharField(label=_("Street and number"), max_length=200)
    postal_code = forms.CharField(label=_("Postcode"), max_length=16)
    city = forms.CharField(label=_("Town"), max_length=100)
    transportation = forms.CharField(
        label=_("How to get there (optional)"), max_length=500, required=False
    )
    is_confidential = forms.BooleanField(
        label=_("Keep the address private: people call to get it"), required=False
    )

    @staticmethod
    def initial_of(location: Location) -> dict[str, Any]:
        address = location.physical_address
        return {
            "name": location.name,
            "address_1": address.address_1 if address else "",
            "postal_code": address.postal_code if address else "",
            "city": address.city if address else "",
            "transportation": location.transportation,
            "is_confidential": location.is_confidential,
        }

    def changes(self, location: Location | None) -> dict[str, Any]:
        data = self.cleaned_data
        address = location.physical_address if location else None
        changes: dict[str, Any] = {
            "name": data["name"],
            "transportation": data["transportation"],
            "confidential": data["is_confidential"],
            "addresses": [
                {
                    **({"id": str(address.hsds_id)} if address else {}),
                    "address_1": data["address_1"],
                    "city": data["city"],
                    "postal_code": data["postal_code"],
                    "country": "FR",
                    "address_type": "physical",
                }
            ],
        }
        moved = address is None or address.postal_code != data["postal_code"]
        position = postcode_position(data["postal_code"]) if moved else None
        if position is not None:
            # Matching measures distances from here: the postcode's centre until the
            # organisation gives a finer position through the API or a file.
            changes["latitude"], changes["longitude"] = position
        return changes


class ImportForm(PlainForm):
    file = forms.FileField(
        label=_("HSDS file (JSON)"),
        help_text=_("An export from another directory, or from Tisser."),
    )


# --- An operator's taxonomy and crosswalks ---------------------------------------------


def _term_choices(kind: str | None = None, *, roots: bool = True) -> list[tuple[str, str]]:
    """Active terms (of a kind), labelled with their code; `roots`: the tops of the kinds
    too (as parents, not as things to choose)."""
    language = get_language() or "fr"
    terms = [
        t
        for t in taxonomy_current().terms.values()
        if t.active
        and (kind is None or t.kind == kind)
        and (roots or t.code not in KIND_ROOTS.values())
    ]
    return sorted(
        ((t.code, f"{t.label(language)} ({t.code})") for t in terms), key=lambda c: c[1].lower()
    )


class TermForm(PlainForm):
    """A term's labels, place and state; for a need, the kinds of activity answering it."""

    name_fr = forms.CharField(label=_("Label in French"), max_length=200)
    name_en = forms.CharField(label=_("Label in English"), max_length=200)
    description = forms.CharField(
        label=_("Description (optional)"),
        widget=forms.Textarea(attrs={"rows": 2}),
        max_length=2000,
        required=False,
    )
    parent = forms.ChoiceField(label=_("Under"), required=False)
    active = forms.BooleanField(
        label=_("In use (offered in forms, accepted in referrals, reached by matching)"),
        required=False,
    )
    activities = forms.MultipleChoiceField(
        label=_("Kinds of activity that answer this need"),
        widget=forms.CheckboxSelectMultiple,
        required=False,
    )

    def __init__(self, *args: Any, kind: str, code: str | None = None, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        parents = [(c, label) for c, label in _term_choices(kind) if c != code]
        choices_set(self.fields["parent"], [("", str(_("(the top of the tree)"))), *parents])
        if kind == "need":
            choices_set(self.fields["activities"], _term_choices("activity", roots=False))
        else:
            del self.fields["activities"]

    @staticmethod
    def initial_of(term: Any) -> dict[str, Any]:
        return {
            "name_fr": term.name,
            "name_en": term.name_en,
            "description": term.description,
            "parent": term.parent.code if term.parent else "",
            "active": term.active,
            "activities": [a.code for a in term.activities.all()],
        }


class NewTermForm(TermForm):
    code = forms.SlugField(
        label=_("Code"),
        max_length=64,
        help_text=_("For good: lower-case words joined by hyphens, as clients will send it."),
    )
    kind = forms.ChoiceField(
        label=_("Kind"), choices=[("activity", _("Kind of activity")), ("need", _("Need"))]
    )

    field_order = ["code", "kind", "name_fr", "name_en", "description", "parent"]

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, kind="activity", **kwargs)
        # Any parent at first; the service checks it is of the same kind.
        choices_set(
            self.fields["parent"], [("", str(_("(the top of its kind)"))), *_term_choices()]
        )
        del self.fields["active"]


class CrosswalkForm(PlainForm):
    """Map one term of another taxonomy: the person ticks the codes (suggestions are
    listed first, never ticked for them)."""

    taxonomy = forms.CharField(widget=forms.HiddenInput, required=False, max_length=300)
    code = forms.CharField(widget=forms.HiddenInput, max_length=200)
    label = forms.CharField(widget=forms.HiddenInput, required=False, max_length=300)
    tisser_codes = forms.MultipleChoiceField(label=_("Tisser codes it stands for"), required=False)
    none = forms.BooleanField(required=False, widget=forms.HiddenInput)

    def __init__(self, *args: Any, suggestions: Iterable[str] = (), **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        choices = _term_choices(roots=False)
        first = [c for c in choices if c[0] in set(suggestions)]
        first.sort(key=lambda c: list(suggestions).index(c[0]))
        choices_set(self.fields["tisser_codes"], first + [c for c in choices if c not in first])

    def clean(self) -> dict[str, Any]:
        data = super().clean() or {}
        if not data.get("tisser_codes") and not data.get("none"):
            self.add_error("tisser_codes", _("Choose at least one code."))
        return data


def term_choices(kind: str, *, keep: Iterable[str] = ()) -> list[tuple[str, str]]:
    """The active terms of a kind (not the kind's root), by label; `keep`: codes offered
    even when inactive (those a service already carries)."""
    language = get_language() or "fr"
    kept = set(keep)
    taxonomy = taxonomy_current()
    terms = taxonomy.choosable(kind) + [
        t
        for code in kept
        if (t := taxonomy.terms.get(code)) is not None and t.kind == kind and not t.active
    ]
    return sorted(((t.code, t.label(language)) for t in terms), key=lambda c: c[1].lower())
