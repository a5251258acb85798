"""What follows a change to services' content without an event: a crosswalk that now
maps a term, a term that was renamed. Each app that keeps something derived from the
catalogue registers a hook (matching's index: matching.apps); the catalogue calls
`services_changed` in the transaction of the change, so the derived rows are never out
of date. (Changes that announce themselves with a `service` event reach the same hooks
through the outbox.)"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from contextvars import ContextVar
from typing import Any

from django.db.models import Model

ServicesHook = Callable[[Iterable[uuid.UUID]], object]
_hooks: list[ServicesHook] = []


def services_changed_register(hook: ServicesHook) -> None:
    if hook not in _hooks:
        _hooks.append(hook)


def services_changed(service_ids: Iterable[uuid.UUID]) -> None:
    """Tell every registered hook, in the caller's transaction."""
    ids = list(service_ids)
    if ids:
        for hook in _hooks:
            hook(ids)


# Rows an import wrote, by model, as `{attname: value}` (what `core.bulk.values_insert`
# was given), while it announces them.
WrittenRows = Mapping[type[Model], Sequence[Mapping[str, Any]]]
_written: ContextVar[WrittenRows | None] = ContextVar("catalog_rows_written", default=None)


@contextmanager
def rows_written(rows: WrittenRows) -> Iterator[None]:
    """Within the block, `rows_written_now()` gives the rows an import wrote in this
    transaction: every row of each service it created (its places but those that were
    already there, schedules, languages, terms), none changed since. What derives from
    the catalogue (matching's index) builds from them instead of reading them back."""
    token = _written.set(rows)
    try:
        yield
    finally:
        _written.reset(token)


def rows_written_now() -> WrittenRows | None:
    return _written.get()
