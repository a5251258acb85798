"""The registry of what a process keeps for a while to spare the database on every request:
API keys (10 s), the taxonomy and crosswalks (until they change), postcode positions (an
hour), the catalogue rows slips print (until the catalogue changes), the database's gauges
of `/metrics` (a few seconds) and, in Django's cache, the public activity pages (5 minutes).
Each is safe to be a little late. Each module that keeps one registers how to forget it
here (`cache_register`), so this lowest layer never reaches into the apps above it;
`process_caches_clear` forgets them all at once, for tests whose database is rebuilt
under them."""

from __future__ import annotations

from collections.abc import Callable

_forgets: list[Callable[[], None]] = []


def cache_register(forget: Callable[[], None]) -> Callable[[], None]:
    """Register a function that empties one process cache; usable as a decorator."""
    if forget not in _forgets:
        _forgets.append(forget)
    return forget


def process_caches_clear() -> None:
    from django.core.cache import cache

    for forget in list(_forgets):
        forget()
    cache.clear()
