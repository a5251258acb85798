"""Examples of the catalogue API's bodies, shown in the OpenAPI document: the schemas of
`community_catalog.schemas` name theirs; the HSDS objects the organisation endpoints read
and answer are given by each operation, with the refusals each answers with, as the
views raise them. tests/config/test_openapi.py checks each against its schema.

The people and numbers are made up: names say "Exemple", and phone numbers are in the
ranges ARCEP keeps for fiction (01 99 00 xx xx to 01 99 99 xx xx, 06 39 98 xx xx)."""

from __future__ import annotations

from typing import Any

ORGANIZATION_ID = "7a27f858-e8ef-5754-b98e-8dc1877e8d2d"
SERVICE_ID = "0966e553-e317-5248-bfa7-4232b20ff9ba"
SAL_ID = "22ed0584-0028-569e-aa6b-0d6e86385647"
LOCATION_ID = "656aed9c-9fe6-5933-ac9f-21d117f3b973"
SCHEDULE_ID = "e9cdab00-7d6d-5f6a-a04d-661e0e11631e"
_APPLY = "Appelez ou venez à la première séance en disant que vous venez de la part de votre "
_APPLY += "centre de santé."
_EN = {
    "en": {
        "name": "Nature walk in Parilly",
        "description": "A 4 km loop in the Parilly woods, every other week.",
        "application_process": "Call, or come to the first session and say your health "
        "centre sent you.",
        "what_to_bring": "Comfortable shoes and a bottle of water.",
    }
}

# --- Taxonomy and crosswalks ---------------------------------------------------------

TERM: dict[str, Any] = {
    "id": "6864b20e-0115-413d-8727-24685a3be54e",
    "code": "walking-group",
    "kind": "activity",
    "name_fr": "Groupe de marche",
    "name_en": "Walking group",
    "description": "",
    "active": True,
    "activities": [],
    "children": [],
}
TAXONOMY: dict[str, Any] = {
    "taxonomy": "tisser",
    "version": "2026.1",
    "terms": [
        {
            "id": "ac652f8e-e9a1-47ee-b0cd-66dc523ba5b5",
            "code": "needs",
            "kind": "need",
            "name_fr": "Besoins",
            "name_en": "Needs",
            "description": "",
            "active": True,
            "activities": [],
            "children": [
                {
                    "id": "b1e6a7c2-4f0d-4e59-9d7a-2c3b8e1f0a55",
                    "code": "isolation",
                    "kind": "need",
                    "name_fr": "Isolement",
                    "name_en": "Loneliness and isolation",
                    "description": "",
                    "active": True,
                    "activities": ["talk-group", "walking-group"],
                    "children": [],
                }
            ],
        },
        {
            "id": "8996abbf-7a6d-4d98-9c40-58ac91f31b3e",
            "code": "activities",
            "kind": "activity",
            "name_fr": "Activités",
            "name_en": "Activities",
            "description": "",
            "active": True,
            "activities": [],
            "children": [TERM],
        },
    ],
}
TERM_CREATE_IN = {
    "code": "walking-group",
    "kind": "activity",
    "name_fr": "Groupe de marche",
    "name_en": "Walking group",
    "parent": "physical-activity",
}
# On a need: its English label, and the kinds of activity that answer it.
TERM_PATCH_IN = {
    "name_en": "Loneliness and isolation",
    "activities": ["talk-group", "walking-group"],
}

CROSSWALK_IN = {
    "taxonomy": "https://example.org/taxonomy",
    "code": "lonely",
    "tisser_codes": ["isolation"],
    "label": "Loneliness",
}
CROSSWALK: dict[str, Any] = {
    "id": "4248a6c1-583f-4dc7-9630-2fa9f24c16ba",
    "taxonomy": "https://example.org/taxonomy",
    "code": "lonely",
    "label": "Loneliness",
    "tisser_codes": ["isolation"],
    "automatic": False,
    "services": 3,
}
CROSSWALK_SET = {**CROSSWALK, "services_updated": 3}
CROSSWALK_LIST = {"total": 1, "limit": 50, "offset": 0, "items": [CROSSWALK]}
UNMAPPED_LIST: dict[str, Any] = {
    "total": 1,
    "limit": 50,
    "offset": 0,
    "items": [
        {
            "taxonomy": "https://example.org/taxonomy",
            "code": "walks",
            "label": "Group walks",
            "services": 2,
            "suggestions": ["walking-group"],
        }
    ],
}

# --- Search --------------------------------------------------------------------------

CAPACITY = {
    "status": "has-capacity",
    "available": 4,
    "maximum": 12,
    "updated": "2026-11-24T17:45:00Z",
}
ACTIVITY_LIST: dict[str, Any] = {
    "total": 16,
    "limit": 20,
    "offset": 0,
    "items": [
        {
            "service_at_location_id": "580f8330-471f-51b3-96a9-977bdef8f662",
            "service_id": "3d5c6889-1a39-5fcc-9348-65352698bd78",
            "name": "Café papote",
            "description": "Un café, des biscuits et une heure pour parler de tout et de rien.",
            "translations": {
                "en": {
                    "name": "Chat café",
                    "description": "Coffee, biscuits and an hour to talk about anything.",
                }
            },
            "organization": {
                "id": "6f719370-160a-5e00-81be-fc1bac720a2b",
                "name": "Maison de quartier de la Guillotière",
            },
            "taxonomy": ["isolation", "new-to-area", "talk-group"],
            "languages": ["ar", "en", "fr"],
            "interpretation_services": "",
            "cost": {
                "state": "free",
                "free": True,
                "fees_description": "",
                "options": [{"option": "Gratuit", "amount": "0.00", "currency": "EUR"}],
            },
            "minimum_age": None,
            "maximum_age": None,
            "application_process": _APPLY,
            "what_to_bring": "Rien, venez comme vous êtes.",
            "contacts": [{"name": "Claude Exemple", "phones": ["+33199004455"], "email": ""}],
            "place": {
                "id": "af781255-2a6b-5944-88a2-44473f1de257",
                "name": "Maison de quartier de la Guillotière",
                "confidential": False,
                "address": {
                    "address_1": "12 rue Sébastien Gryphe",
                    "address_2": "",
                    "postal_code": "69007",
                    "city": "Lyon",
                    "country": "FR",
                },
                "latitude": 45.7536,
                "longitude": 4.8432,
                "transportation": "Tram T1 ou métro D, arrêt Guillotière",
                "accessibility": ["Entrée de plain-pied"],
            },
            "distance_km": 0.99,
            "next_sessions": [
                {"starts_at": "2026-12-10T10:00:00+01:00", "ends_at": "2026-12-10T11:30:00+01:00"}
            ],
            "capacity": CAPACITY,
            "assured_date": "2026-11-02",
            "stale": False,
        }
    ],
}

# --- HSDS objects --------------------------------------------------------------------

SCHEDULE_IN = {"freq": "MONTHLY", "byday": "2TU", "opens_at": "14:00", "closes_at": "16:00"}
SCHEDULE_PATCH = {"opens_at": "14:30", "closes_at": "16:30"}
SCHEDULE: dict[str, Any] = {
    "id": SCHEDULE_ID,
    "freq": "WEEKLY",
    "interval": 2,
    "byday": "SA",
    "bymonthday": "",
    "byweekno": "",
    "byyearday": "",
    "wkst": None,
    "count": None,
    "opens_at": "10:00:00",
    "closes_at": "12:00:00",
    "valid_from": None,
    "valid_to": None,
    "dtstart": None,
    "until": None,
    "timezone": None,
    "description": "",
    "schedule_link": "",
    "attending_type": "",
    "notes": "",
}
LOCATION_IN: dict[str, Any] = {
    "name": "Parc de Parilly, entrée principale",
    "transportation": "Métro D, arrêt Parilly",
    "latitude": 45.7196,
    "longitude": 4.9064,
    "addresses": [
        {
            "address_1": "Boulevard Émile Bollaert",
            "city": "Bron",
            "postal_code": "69500",
            "country": "FR",
        }
    ],
}
LOCATION_PATCH = {"transportation": "Métro D or tram T2, stop Parilly"}
LOCATION: dict[str, Any] = {
    "id": LOCATION_ID,
    "location_type": "physical",
    "url": "",
    "name": "Parc de Parilly, entrée principale",
    "alternate_name": "",
    "description": "",
    "transportation": "Métro D, arrêt Parilly",
    "latitude": 45.7196,
    "longitude": 4.9064,
    "languages": [],
    "addresses": [
        {
            "id": "21895e26-9508-5f00-8b9d-98a2462e11ca",
            "attention": "",
            "address_1": "Boulevard Émile Bollaert",
            "address_2": "",
            "city": "Bron",
            "region": "",
            "state_province": "",
            "postal_code": "69500",
            "country": "FR",
            "address_type": "physical",
        }
    ],
    "accessibility": [],
    "phones": [],
    "contacts": [],
    "schedules": [],
    "confidential": False,
}
SAL_IN: dict[str, Any] = {
    "location_id": LOCATION_ID,
    "description": "Meet at the main gate.",
    "schedules": [SCHEDULE_IN],
    "capacity": {"status": "has-capacity", "maximum": 12},
}
SAL_PATCH = {"description": "Meet at the main gate, by the bus stop."}
SAL: dict[str, Any] = {
    "id": SAL_ID,
    "description": "",
    "contacts": [],
    "phones": [],
    "schedules": [SCHEDULE],
    "location": LOCATION,
    "location_id": LOCATION_ID,
    "capacity": {"status": "has-capacity", "available": None, "maximum": None, "updated": None},
}
SERVICE_IN: dict[str, Any] = {
    "name": "Marche nature à Parilly",
    "description": "Une boucle de 4 km dans les bois de Parilly, tous les quinze jours.",
    "status": "active",
    "application_process": _APPLY,
    "what_to_bring": "De bonnes chaussures et une bouteille d'eau.",
    "taxonomy": ["walking-group", "physical-activity"],
    "cost_options": [{"option": "Gratuit", "amount": 0, "currency": "EUR"}],
    "contacts": [{"name": "Dominique Exemple", "phones": [{"number": "+33639981234"}]}],
    "service_at_locations": [
        {
            "location_id": LOCATION_ID,
            "schedules": [
                {
                    "freq": "WEEKLY",
                    "interval": 2,
                    "byday": "SA",
                    "opens_at": "10:00",
                    "closes_at": "12:00",
                }
            ],
        }
    ],
    "translations": _EN,
}
SERVICE_PATCH = {"what_to_bring": "De bonnes chaussures, une bouteille d'eau et un k-way."}
SERVICE: dict[str, Any] = {
    "id": SERVICE_ID,
    "name": "Marche nature à Parilly",
    "alternate_name": "",
    "description": "Une boucle de 4 km dans les bois de Parilly, tous les quinze jours.",
    "url": "",
    "email": "",
    "status": "active",
    "interpretation_services": "",
    "application_process": _APPLY,
    "what_to_bring": "De bonnes chaussures et une bouteille d'eau.",
    "fees_description": "",
    "wait_time": "",
    "eligibility_description": "",
    "minimum_age": None,
    "maximum_age": None,
    "assured_date": "2026-11-02",
    "alert": "",
    "last_modified": "2026-11-02T09:12:45Z",
    "organization": {
        "id": ORGANIZATION_ID,
        "name": "Marche Solidaire Lyon",
        "alternate_name": "",
        "description": "Randonnées urbaines douces.",
        "email": "bonjour@marche-solidaire.example.org",
        "website": "https://marche-solidaire.example.org",
    },
    "organization_id": ORGANIZATION_ID,
    "phones": [],
    "schedules": [],
    "service_at_locations": [SAL],
    "languages": [],
    "cost_options": [
        {
            "id": "8ee17339-9fb0-5f8f-8751-3c3dfc3e720c",
            "valid_from": None,
            "valid_to": None,
            "option": "Gratuit",
            "currency": "EUR",
            "amount": "0",
            "amount_description": "",
        }
    ],
    "contacts": [
        {
            "id": "47b8a679-2d9a-5f38-ace5-053d7c394567",
            "name": "Dominique Exemple",
            "title": "",
            "department": "",
            "email": "",
            "phones": [
                {
                    "id": "51be7eec-74dc-5684-a60d-a30eaee0f3f5",
                    "number": "+33639981234",
                    "extension": "",
                    "type": "",
                    "description": "",
                    "languages": [],
                }
            ],
        }
    ],
    "attributes": [
        {
            "id": "0cb6cb75-648f-5cbd-8172-24ffa2772589",
            "taxonomy_term": {
                "id": "6864b20e-0115-413d-8727-24685a3be54e",
                "code": "walking-group",
                "name": "Groupe de marche",
                "taxonomy": "tisser",
                "taxonomy_id": None,
                "taxonomy_detail": None,
            },
        }
    ],
    "translations": _EN,
    "cost": None,
}
SERVICE_CLOSED = {
    **SERVICE,
    "status": "temporarily closed",
    "alert": "Closed for the winter; back on 1 March.",
}
# An HSDS page of services, as the organisation's list and the export answer.
SERVICE_PAGE: dict[str, Any] = {
    "total_items": 4,
    "size": 1,
    "page_number": 1,
    "total_pages": 4,
    "first_page": True,
    "last_page": False,
    "empty": False,
    "contents": [SERVICE],
}
SERVICE_DELETED = {
    "deleted": False,
    "status": "inactive",
    "live_referrals": 2,
    "message": "Not deleted: 2 referral(s) point at this service, so it was set inactive "
    "instead and is no longer proposed.",
}
CLOSE_IN = {"alert": SERVICE_CLOSED["alert"]}
CAPACITY_IN = {"available": 0}

# An HSDS 3.0 file to import: here one service, with its organisation and place.
IMPORT_FILE: list[dict[str, Any]] = [
    {
        "id": SERVICE_ID,
        "organization_id": ORGANIZATION_ID,
        "name": "Marche nature à Parilly",
        "description": "Une boucle de 4 km dans les bois de Parilly, tous les quinze jours.",
        "status": "active",
        "application_process": _APPLY,
        "service_at_locations": [
            {
                "id": SAL_ID,
                "service_id": SERVICE_ID,
                "location_id": LOCATION_ID,
                "schedules": [
                    {
                        "id": SCHEDULE_ID,
                        "freq": "WEEKLY",
                        "interval": 2,
                        "byday": "SA",
                        "opens_at": "10:00:00",
                        "closes_at": "12:00:00",
                    }
                ],
                "location": {
                    "id": LOCATION_ID,
                    "location_type": "physical",
                    "name": "Parc de Parilly, entrée principale",
                    "latitude": 45.7196,
                    "longitude": 4.9064,
                    "addresses": [
                        {
                            "id": "21895e26-9508-5f00-8b9d-98a2462e11ca",
                            "address_1": "Boulevard Émile Bollaert",
                            "city": "Bron",
                            "state_province": "",
                            "postal_code": "69500",
                            "country": "FR",
                            "address_type": "physical",
                        }
                    ],
                },
            }
        ],
        "cost_options": [
            {
                "id": "8ee17339-9fb0-5f8f-8751-3c3dfc3e720c",
                "option": "Gratuit",
                "currency": "EUR",
                "amount": 0,
            }
        ],
        "translations": _EN,
    }
]
IMPORT_REPORT: dict[str, Any] = {
    "dry_run": True,
    "created": 0,
    "updated": 1,
    "unchanged": 0,
    "skipped": 0,
    "services": [
        {
            "record": 0,
            "id": SERVICE_ID,
            "name": "Marche nature à Parilly",
            "action": "updated",
            "changes": ["description"],
        }
    ],
    "errors": [],
    "more_invalid_records": 0,
    "warnings": [],
    "more_warnings": 0,
    "unmapped_terms": [],
}
# The whole catalogue as HSDS: one page of `service_list`, as the import reads it back.
EXPORT: dict[str, Any] = {
    "total_items": 1,
    "total_pages": 1,
    "page_number": 1,
    "size": 1,
    "first_page": True,
    "last_page": True,
    "empty": False,
    "contents": IMPORT_FILE,
}
