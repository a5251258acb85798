"""What a process keeps for a while to spare the database on every request: API keys
(`referrals.services`, 10 s), the taxonomy and crosswalks (`community_catalog.taxonomy`,
until they change), postcode positions (an hour), the catalogue rows slips print
(`workers.slip_content`, until the catalogue changes) and the public activity pages
(`community_catalog.public`, in Django's cache, 5 minutes) and the database's gauges of
`/metrics` (`config.metrics`, a few seconds). Each is safe to be a little late; this
forgets them all at once, for tests whose database is rebuilt under them."""

from __future__ import annotations


def process_caches_clear() -> None:
    from django.core.cache import cache

    from community_catalog import selectors
    from community_catalog.taxonomy import taxonomy_forget
    from config.metrics import database_gauges_forget
    from referrals import services
    from workers.slip_content import catalogue_forget

    with services._api_keys_lock:
        services._api_keys.clear()
    with selectors._postcode_lock:
        selectors.postcode_positions.clear()
    taxonomy_forget()
    catalogue_forget()
    database_gauges_forget()
    cache.clear()
