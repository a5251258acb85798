"""Adding, changing and removing sources: one set of rules for the CLI, the API and the
admin."""

from __future__ import annotations

import re
from datetime import timedelta
from pathlib import Path

from django.db import IntegrityError, transaction
from django.db.models import Q
from django.utils import timezone

from core.errors import FieldProblem, InvalidInput, NotFound, Problem
from harvest.feeds import is_url
from harvest.models import HarvestSource

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
        pass
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


def source_get(name: str) -> HarvestSource:
    source = HarvestSource.objects.filter(name=name).first()
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
    if not HarvestSource.objects.filter(id=source.id, running_since__isnull=True).update(
        next_run_at=timezone.now()
    ):
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
