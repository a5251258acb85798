"""Adding, changing and removing sources: one set of rules for the CLI, the API and the
admin."""

from __future__ import annotations

import re
import urllib.parse
from datetime import timedelta
from pathlib import Path
from typing import Any

from django.db import IntegrityError, transaction
from django.db.models import Q
from django.utils import timezone

from community_catalog.models import Service
from core.errors import FieldProblem, InvalidInput, NotFound, Problem
from harvest.feeds import is_url
from harvest.models import HarvestedObject, HarvestedRecord, HarvestSource

_NAME = re.compile(r"^[a-z0-9][a-z0-9-]{0,59}$")
# A source's token is read from an environment variable of this family only: any other
# (SECRET_KEY, DATABASE_URL…) would be sent to whichever URL the source names.
TOKEN_PREFIX = "TISSER_HARVEST_TOKEN_"  # noqa: S105 - a variable's name, not a secret
_ENV = re.compile(r"^TISSER_HARVEST_TOKEN_[A-Z0-9_]{1,80}$")
MAX_EVERY_HOURS = 24 * 365
# A run still marked running after this long died with its process: the source is free.
STALE_CLAIM = timedelta(hours=6)


class SourceBusy(Problem):
    status = 409
    code = "harvest_running"


def source_add(
    *,
    name: str,
    url: str,
    kind: str,
    every_hours: int = 24,
    token_env: str = "",
    label: str = "",
    paths_allowed: bool = False,
) -> HarvestSource:
    """A new source, due at once when it has a schedule. `paths_allowed`: the caller is
    an operator at the server's terminal, who may name a file or folder on it."""
    problems = source_problems(
        name=name,
        url=url,
        kind=kind,
        every_hours=every_hours,
        token_env=token_env,
        paths_allowed=paths_allowed,
        label=label,
    )
    if problems:
        raise InvalidInput("The source is not valid.", fields=problems)
    source = HarvestSource(
        name=name,
        url=url,
        kind=kind,
        every_hours=every_hours,
        token_env=token_env,
        label=label.strip(),
        next_run_at=timezone.now() if every_hours else None,
    )
    try:
        with transaction.atomic():
            source.save()
    except IntegrityError:
        raise InvalidInput(
            "The source is not valid.",
            fields=[FieldProblem("name", f"a source named {name!r} exists")],
        ) from None
    return source


def source_problems(
    *,
    name: str,
    url: str,
    kind: str,
    every_hours: int,
    token_env: str,
    paths_allowed: bool,
    label: str = "",
) -> list[FieldProblem]:
    problems = []
    if len(label) > 200 or "\x00" in label:
        problems.append(FieldProblem("label", "at most 200 characters"))
    if not _NAME.match(name):
        problems.append(FieldProblem("name", "1 to 60 lower-case letters, digits and dashes"))
    if kind not in HarvestSource.Kind.values:
        problems.append(FieldProblem("kind", "one of " + ", ".join(HarvestSource.Kind.values)))
    if not url or len(url) > 2000 or "\x00" in url:
        problems.append(FieldProblem("url", "required, at most 2000 characters"))
    elif is_url(url):
        if not _url_sound(url):
            problems.append(FieldProblem("url", "not a valid URL"))
    elif not paths_allowed:
        problems.append(FieldProblem("url", "an http:// or https:// URL"))
    elif kind == HarvestSource.Kind.HSDS_API:
        problems.append(FieldProblem("url", "an API is read over http:// or https://"))
    elif not Path(url).exists():
        problems.append(FieldProblem("url", "no such file or folder on this server"))
    if not 0 <= every_hours <= MAX_EVERY_HOURS:
        problems.append(FieldProblem("every_hours", f"0 (by hand only) to {MAX_EVERY_HOURS}"))
    if token_env and not _ENV.match(token_env):
        problems.append(
            FieldProblem(
                "token_env",
                f"the name of an environment variable beginning with {TOKEN_PREFIX} (A-Z, 0-9, _)",
            )
        )
    return problems


def _url_sound(url: str) -> bool:
    """A host, a port if any, and nothing a request line could not carry."""
    if any(c.isspace() or ord(c) < 32 for c in url):
        return False
    try:
        parts = urllib.parse.urlsplit(url)
        parts.port  # noqa: B018 - raises ValueError when out of range or not a number
    except ValueError:
        return False
    return bool(parts.hostname)


def source_get(name: str) -> HarvestSource:
    source = HarvestSource.objects.filter(name=name).first() if _NAME.match(name) else None
    if source is None:
        raise NotFound(f"No source named {name[:60]!r}.")
    return source


class SourceDisabled(Problem):
    status = 409
    code = "harvest_disabled"


def source_run_soon(source: HarvestSource) -> None:
    """Make `source` due now: the relay hands it to a worker at its next check."""
    if not source.enabled:
        raise SourceDisabled(
            f"The source {source.name!r} is disabled: enable it in the admin to run it."
        )
    free = Q(running_since__isnull=True) | Q(running_since__lt=timezone.now() - STALE_CLAIM)
    if not HarvestSource.objects.filter(free, id=source.id).update(next_run_at=timezone.now()):
        raise SourceBusy(f"The source {source.name!r} is being harvested; try again later.")


def source_remove(name: str) -> int:
    """Remove a source and its reports. Its services stay as they are, with their
    provenance: referrals point at them; an organisation may keep them current itself.
    Returns how many services it had brought."""
    source = source_get(name)
    brought = source.records.count()
    free = Q(running_since__isnull=True) | Q(running_since__lt=timezone.now() - STALE_CLAIM)
    with transaction.atomic():
        deleted, _ = HarvestSource.objects.filter(free, id=source.id).delete()
    if not deleted:
        raise SourceBusy(f"The source {name!r} is being harvested; remove it once the run ends.")
    return brought


def record_reviewed(record: HarvestedRecord) -> None:
    """Someone looked at a flagged service: the flags go, on it and on the organisation
    and places it shares (their fields stay Tisser's; a later change at the source flags
    them again)."""
    service = Service.objects.filter(id=record.service_id).first()
    shared: list[Any] = []
    if service is not None:
        shared = [
            service.organization_id,
            *service.service_at_locations.values_list("location_id", flat=True),
        ]
    with transaction.atomic():
        HarvestedRecord.objects.filter(id=record.id).update(review_fields=[])
        HarvestedObject.objects.filter(source_id=record.source_id, object_id__in=shared).update(
            changed_at_source=False
        )
