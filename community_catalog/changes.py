"""What follows a change to services' content without an event: a crosswalk that now
maps a term, a term that was renamed. Each app that keeps something derived from the
catalogue registers a hook (matching's index: matching.apps); the catalogue calls
`services_changed` in the transaction of the change, so the derived rows are never out
of date. (Changes that announce themselves with a `service` event reach the same hooks
through the outbox.)"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Iterable

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
