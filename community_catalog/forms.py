"""Web forms an organisation keeps its activities current with."""

from __future__ import annotations

from typing import Any

from django import forms
from django.utils.translation import gettext_lazy as _

from community_catalog.models import Location, Organization, Service
from community_catalog.selectors import postcode_position
from referrals.forms import PlainForm, choices_set, term_choices
from referrals.labels import WEEKDAYS


def taxonomy_choices() -> list[tuple[str, str]]:
    return term_choices("activity") + term_choices("need")


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
    is_free = forms.BooleanField(label=_("It costs nothing"), required=False)
    fees_description = forms.CharField(label=_("Cost, if any"), max_length=500, required=False)
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

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        choices_set(self.fields["taxonomy"], taxonomy_choices())

    @staticmethod
    def initial_of(service: Service) -> dict[str, Any]:
        return {
            "name": service.name,
            "description": service.description,
            "taxonomy": [t.code for t in service.taxonomy_terms.all()],
            "application_process": service.application_process,
            "what_to_bring": service.what_to_bring,
            "is_free": service.is_free,
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
