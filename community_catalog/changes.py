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
from dataclasses import dataclass, field
from types import SimpleNamespace
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


@dataclass(eq=False)
class WrittenRows:
    """Rows an import wrote in this transaction, by model, as `{attname: value}` (what
    `core.bulk.values_insert` was given): every row of each service it created, of the
    tables that what derives from the catalogue reads (`ImportRows.KEPT`), none changed
    since. Rows of other services may be among them: a reader takes those of the
    services whose `Service` row is here."""

    rows: Mapping[type[Model], Sequence[Mapping[str, Any]]]
    # What readers make of the rows once (grouped by service…), for the block's length.
    derived: dict[str, Any] = field(default_factory=dict)


_written: ContextVar[WrittenRows | None] = ContextVar("catalog_rows_written", default=None)


@contextmanager
def rows_written(rows: Mapping[type[Model], Sequence[Mapping[str, Any]]]) -> Iterator[None]:
    """Within the block, `rows_written_now()` gives the rows an import wrote (see
    `WrittenRows`): what derives from the catalogue (matching's index) builds from them
    instead of reading them back."""
    token = _written.set(WrittenRows(rows))
    try:
        yield
    finally:
        _written.reset(token)


def rows_written_now() -> WrittenRows | None:
    return _written.get()


def row_completed(model: type[Model]) -> Callable[[Mapping[str, Any]], SimpleNamespace]:
    """A row as written, with the columns it left out at their defaults (as stored), as
    an object whose attributes are its columns (`service_id`, not `service`)."""
    defaults = {
        f.attname: f.get_default() for f in model._meta.concrete_fields if not f.primary_key
    }
    return lambda row: SimpleNamespace(**{**defaults, **row})
