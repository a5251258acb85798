"""Sources read over real HTTP (tests/harvest/feeds.py): another directory's HSDS API,
data·inclusion's API behind a token, and the limits every fetch keeps (size, time, the
address guard), local edits kept and flagged, and the schedule (leases, backoff, one
failing source never holding the others).

The directory served is issue 21's Grenoble export (17 services of 12 organisations),
each service given a `last_modified` by the server. Expected outcomes, written before
running:

- first run of the API: 17 created; the pages asked with `full=true`, no service
  fetched one by one;
- second run, nothing changed: pages asked with `minimal=true`, 17 unchanged, no
  service fetched, no event;
- one service edited at the source: exactly that one fetched (`/services/{id}`), 1
  updated, its `service.updated` event; one removed: 1 deactivated;
- a server that refuses `full` and `minimal` (400): read without them, each service
  fetched once on the first run (17 created) and none on the second (17 unchanged);
- a field an organisation edited in Tisser is kept when the source changes it too, the
  run counts 1 kept locally and the record lists the field for review; a field only the
  source changed is taken from the source.
"""

from __future__ import annotations

import json
import shutil
import socket
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from django.utils import timezone

from community_catalog.models import Organization, Service, ServiceProvenance
from community_catalog.services import location_save, service_update
from events.models import Event
from harvest import runs
from harvest.feeds import HttpStatus, fetcher
from harvest.models import HarvestedRecord, HarvestRun, HarvestSource
from harvest.runs import harvest_run, leased_run
from harvest.schedule import harvest_leases_take
from harvest.sources import SourceBusy, source_add, source_remove, source_run_soon
from tests.community_catalog.test_real_directory import CAUSERIE, LECTURES, directory
from tests.harvest.feeds import DataInclusionApi, HsdsApi

pytestmark = pytest.mark.django_db

DATA_INCLUSION = Path(__file__).resolve().parent / "data_inclusion_lyon"


@pytest.fixture
def grenoble() -> Iterator[HsdsApi]:
    with HsdsApi(directory()["contents"]).running() as server:
        yield server  # type: ignore[misc]


def _id_of(server: HsdsApi, name: str) -> str:
    [found] = [i for i, s in server.services.items() if s["name"] == name]
    return found


def _source(server: HsdsApi, name: str = "grenoble", **fields: Any) -> HarvestSource:
    return source_add(name=name, url=server.base + "/api", kind="hsds-api", every_hours=0, **fields)


def _harvested(record_id: str) -> Service:
    return Service.objects.get(id=HarvestedRecord.objects.get(record_id=record_id).service_id)


# --- An HSDS API ------------------------------------------------------------------------


def test_an_api_is_read_in_full_once_then_only_what_moved(grenoble: HsdsApi) -> None:
    source = _source(grenoble)

    first = harvest_run(source)

    assert (first.status, first.created, first.invalid) == ("succeeded", 17, 0), first.problems
    assert set(grenoble.paths()) == {"/api/services"}
    assert all(query.get("full") == "true" for _, query, _ in grenoble.requests)
    causerie = _id_of(grenoble, CAUSERIE)
    provenance = ServiceProvenance.objects.get(service=_harvested(causerie))
    assert (provenance.source_name, provenance.record_id) == ("grenoble", causerie)

    grenoble.requests.clear()
    events = Event.objects.count()
    second = harvest_run(source)

    assert (second.created, second.updated, second.unchanged) == (0, 0, 17)
    assert set(grenoble.paths()) == {"/api/services"}
    assert all(query.get("minimal") == "true" for _, query, _ in grenoble.requests)
    assert Event.objects.count() == events

    grenoble.requests.clear()
    grenoble.edit(causerie, lambda s: s.update(description="Le jeudi, autour d'un thé."))
    lectures = _id_of(grenoble, LECTURES)
    del grenoble.services[lectures]
    third = harvest_run(source)

    assert (third.updated, third.unchanged, third.deactivated) == (1, 15, 1)
    assert [p for p in grenoble.paths() if p != "/api/services"] == [f"/api/services/{causerie}"]
    service = _harvested(causerie)
    assert service.description == "Le jeudi, autour d'un thé."
    assert Event.objects.filter(aggregate_id=service.id, type="service.updated").exists()
    assert _harvested(lectures).status == "inactive"


def test_a_server_that_refuses_the_parameters_is_read_without_them() -> None:
    with HsdsApi(directory()["contents"], strict=True).running() as server:
        source = _source(server)  # type: ignore[arg-type]
        first = harvest_run(source)
        details = [p for p in server.paths() if p != "/api/services"]
        server.requests.clear()
        second = harvest_run(source)

    assert (first.status, first.created) == ("succeeded", 17), (first.error, first.problems)
    assert len(details) == len(set(details)) == 17  # each service fetched once
    assert (second.unchanged, second.updated) == (17, 0)
    assert set(server.paths()) == {"/api/services"}


def test_an_edit_made_in_tisser_is_kept_and_flagged_when_the_source_changes_it_too(
    grenoble: HsdsApi,
) -> None:
    source = _source(grenoble)
    harvest_run(source)
    causerie = _id_of(grenoble, CAUSERIE)
    service = _harvested(causerie)
    service_update(
        organization=service.organization,
        service_id=service.id,
        changes={"description": "Écrit par l'association dans Tisser."},
    )

    def at_the_source(document: dict[str, Any]) -> None:
        document["description"] = "Écrit par l'annuaire."
        document["fees_description"] = "Gratuit, sans inscription"

    grenoble.edit(causerie, at_the_source)
    run = harvest_run(source)

    service.refresh_from_db()
    assert service.description == "Écrit par l'association dans Tisser."
    assert service.fees_description == "Gratuit, sans inscription"
    assert (run.updated, run.kept_local) == (1, 1)
    record = HarvestedRecord.objects.get(record_id=causerie)
    assert record.review_fields == ["description"]

    # The next run, with nothing new at the source, neither overwrites nor counts again.
    again = harvest_run(source)
    service.refresh_from_db()
    assert service.description == "Écrit par l'association dans Tisser."
    assert (again.kept_local, again.updated) == (0, 0)

    # The field stays Tisser's when the source changes it once more.
    grenoble.edit(causerie, lambda d: d.update(description="Réécrit par l'annuaire."))
    later = harvest_run(source)
    service.refresh_from_db()
    assert service.description == "Écrit par l'association dans Tisser."
    assert (later.updated, later.unchanged) == (0, 17)  # Tisser's value: nothing to write
    assert HarvestedRecord.objects.get(record_id=causerie).review_fields == ["description"]


# --- Limits -----------------------------------------------------------------------------


def test_an_answer_larger_than_the_limit_fails_the_run(grenoble: HsdsApi, settings: Any) -> None:
    settings.TISSER_HARVEST_MAX_BYTES = 4000
    run = harvest_run(_source(grenoble))

    assert run.status == "failed"
    assert "larger than 4000 bytes" in run.error
    assert not ServiceProvenance.objects.exists()


def test_a_server_too_slow_fails_the_run_within_the_timeout(
    grenoble: HsdsApi, settings: Any
) -> None:
    settings.TISSER_HARVEST_TIMEOUT_SECONDS = 0.5
    grenoble.delay = 2
    run = harvest_run(_source(grenoble))

    assert run.status == "failed"
    assert "no complete answer within 0.5 s" in run.error
    assert run.finished_at is not None
    assert (run.finished_at - run.started_at).total_seconds() < 2


def test_private_addresses_are_refused_unless_the_host_is_listed(
    grenoble: HsdsApi, settings: Any
) -> None:
    settings.TISSER_HARVEST_ALLOW_PRIVATE = False
    settings.TISSER_HARVEST_PRIVATE_HOSTS = []
    source = _source(grenoble)

    refused = harvest_run(source)

    assert refused.status == "failed"
    assert "URL refused" in refused.error, refused.error
    assert grenoble.requests == []

    settings.TISSER_HARVEST_PRIVATE_HOSTS = ["127.0.0.1"]
    allowed = harvest_run(source)
    assert (allowed.status, allowed.created) == ("succeeded", 17)


def test_a_run_report_never_shows_a_query_s_values(settings: Any) -> None:
    settings.TISSER_HARVEST_TIMEOUT_SECONDS = 2
    port = _closed_port()
    source = source_add(
        name="secret",
        url=f"http://user:pw@127.0.0.1:{port}/feed.json?api_key=hunter2",
        kind="hsds-file",
        every_hours=0,
    )
    run = harvest_run(source)

    assert run.status == "failed"
    assert "hunter2" not in run.error, run.error
    assert "pw" not in run.error, run.error
    assert f"127.0.0.1:{port}/feed.json" in run.error


# --- data·inclusion's API -------------------------------------------------------------------


def _data_inclusion_api(token: str) -> DataInclusionApi:
    return DataInclusionApi(
        json.loads((DATA_INCLUSION / "structures.json").read_text(encoding="utf-8")),
        json.loads((DATA_INCLUSION / "services.json").read_text(encoding="utf-8")),
        token=token,
    )


def test_data_inclusion_s_api_is_read_page_by_page_with_its_token(
    monkeypatch: pytest.MonkeyPatch, settings: Any
) -> None:
    # A token goes over plain HTTP only to a host listed as the operator's own network.
    settings.TISSER_HARVEST_PRIVATE_HOSTS = frozenset({"127.0.0.1"})
    monkeypatch.setenv("TISSER_HARVEST_TOKEN_DATA_INCLUSION", "a-token-of-the-territory")
    with _data_inclusion_api("a-token-of-the-territory").running() as server:
        source = source_add(
            name="di",
            url=server.base + "/api/v1",
            kind="data-inclusion",
            every_hours=0,
            token_env="TISSER_HARVEST_TOKEN_DATA_INCLUSION",
        )
        run = harvest_run(source)

    assert (run.status, run.created, run.invalid) == ("succeeded", 9, 4), run.error
    assert {p for p in server.paths()} == {"/api/v1/structures", "/api/v1/services"}

    monkeypatch.setenv("TISSER_HARVEST_TOKEN_DATA_INCLUSION", "a wrong one")
    with _data_inclusion_api("a-token-of-the-territory").running() as server:
        source.url = server.base + "/api/v1"
        source.save()
        refused = harvest_run(source)
    assert refused.status == "failed"
    assert "HTTP 403" in refused.error, refused.error

    settings.TISSER_HARVEST_PRIVATE_HOSTS = frozenset()
    unlisted = harvest_run(source)
    assert "only sent over https://" in unlisted.error

    monkeypatch.delenv("TISSER_HARVEST_TOKEN_DATA_INCLUSION")
    unset = harvest_run(source)
    assert "TISSER_HARVEST_TOKEN_DATA_INCLUSION is not set" in unset.error


# --- The schedule -----------------------------------------------------------------------


def _closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def test_one_failing_source_never_holds_the_others_and_retries_back_off(
    grenoble: HsdsApi, settings: Any
) -> None:
    settings.TISSER_HARVEST_RETRY_SECONDS = 300
    good = source_add(name="good", url=grenoble.base + "/api", kind="hsds-api", every_hours=24)
    down = source_add(
        name="down", url=f"http://127.0.0.1:{_closed_port()}/api", kind="hsds-api", every_hours=24
    )

    leases = harvest_leases_take()

    assert sorted(source_id for source_id, _ in leases) == sorted([str(good.id), str(down.id)])
    assert harvest_leases_take() == []  # leased: not handed over twice
    started = timezone.now()
    runs = {source_id: leased_run(source_id, lease) for source_id, lease in leases}
    good_run, down_run = runs[str(good.id)], runs[str(down.id)]
    assert good_run is not None
    assert good_run.created == 17
    assert down_run is not None
    assert down_run.status == "failed"
    # The same message delivered twice does nothing.
    assert [leased_run(source_id, lease) for source_id, lease in leases] == [None, None]

    good.refresh_from_db()
    down.refresh_from_db()
    assert good.failures == 0
    assert good.next_run_at is not None
    assert abs(good.next_run_at - (started + timedelta(hours=24))) < timedelta(minutes=1)
    assert down.failures == 1
    assert down.next_run_at is not None
    assert abs(down.next_run_at - (started + timedelta(seconds=300))) < timedelta(minutes=1)

    # Due again: a second failure in a row waits twice as long.
    HarvestSource.objects.filter(id=down.id).update(next_run_at=timezone.now())
    [(source_id, lease)] = harvest_leases_take()
    leased_run(source_id, lease)
    down.refresh_from_db()
    assert down.failures == 2
    assert down.next_run_at is not None
    expected = timezone.now() + timedelta(seconds=600)
    assert abs(down.next_run_at - expected) < timedelta(minutes=1)
    assert HarvestRun.objects.filter(source=down, status="failed").count() == 2


def test_a_source_run_by_hand_waits_for_the_running_one(grenoble: HsdsApi) -> None:
    source = _source(grenoble)
    HarvestSource.objects.filter(id=source.id).update(running_since=timezone.now())

    with pytest.raises(SourceBusy):
        harvest_run(source)

    # A claim left by a process that died long ago is taken over.
    HarvestSource.objects.filter(id=source.id).update(
        running_since=timezone.now() - timedelta(hours=7)
    )
    assert harvest_run(source).status == "succeeded"


def test_an_official_hsds_example_file_is_harvested_then_unchanged(tmp_path: Path) -> None:
    examples = Path(__file__).resolve().parents[1] / "community_catalog" / "hsds_examples"
    shutil.copy(examples / "service_full.json", tmp_path / "service_full.json")
    source = source_add(
        name="official",
        url=str(tmp_path / "service_full.json"),
        kind="hsds-file",
        every_hours=0,
        paths_allowed=True,
    )

    run = harvest_run(source)

    assert (run.status, run.created, run.invalid) == ("succeeded", 1, 0), run.problems
    again = harvest_run(source)
    assert again.unchanged == 1


# --- What review found (reproduced first, each failed before its fix) ---------------------


def test_a_source_removed_then_added_again_takes_its_services_back(grenoble: HsdsApi) -> None:
    harvest_run(_source(grenoble))
    before = Service.objects.count()
    source_remove("grenoble")

    again = harvest_run(_source(grenoble))

    assert again.status == "succeeded"
    assert again.created == 0
    assert Service.objects.count() == before


def test_an_organisation_record_edited_in_tisser_is_kept(grenoble: HsdsApi) -> None:
    source = _source(grenoble)
    harvest_run(source)
    causerie = _id_of(grenoble, CAUSERIE)
    organization = _harvested(causerie).organization
    Organization.objects.filter(id=organization.id).update(name="Maison des Habitants (MdH)")

    grenoble.edit(causerie, lambda d: d.update(description="Changé à la source."))
    run = harvest_run(source)

    organization.refresh_from_db()
    assert organization.name == "Maison des Habitants (MdH)"
    assert _harvested(causerie).description == "Changé à la source."
    assert run.status == "succeeded"


def test_records_without_a_usable_id_are_refused_one_by_one(grenoble: HsdsApi) -> None:
    grenoble.services[""] = {**next(iter(grenoble.services.values())), "id": ""}
    source = _source(grenoble)

    run = harvest_run(source)

    assert run.status == "succeeded", run.error
    assert (run.created, run.invalid) == (17, 1)
    assert run.problems[0]["field"] == "id"


def test_a_service_page_naming_another_id_is_refused(grenoble: HsdsApi) -> None:
    source = _source(grenoble)
    harvest_run(source)
    causerie, lectures = _id_of(grenoble, CAUSERIE), _id_of(grenoble, LECTURES)
    grenoble.edit(causerie, lambda d: None)  # listed as changed…
    real = fetcher(source)

    def fetch(url: str) -> Any:  # …and its page is another service's
        return real(url.replace(causerie, lectures))

    run = harvest_run(source, fetch=fetch)

    assert run.status == "succeeded"
    assert run.invalid == 1
    assert run.problems == [
        {"record": causerie, "field": "id", "message": "the service's page names another id"}
    ]


def test_a_run_interrupted_by_the_worker_s_time_limit_is_a_failure(grenoble: HsdsApi) -> None:
    class TimeLimit(BaseException):  # as dramatiq's TimeLimitExceeded and Shutdown are
        pass

    def fetch(url: str) -> Any:
        raise TimeLimit

    source = _source(grenoble)
    with pytest.raises(TimeLimit):
        harvest_run(source, fetch=fetch)

    run = HarvestRun.objects.get(source=source)
    assert run.status == "failed"
    assert "interrupted" in run.error
    source.refresh_from_db()
    assert (source.failures, source.running_since) == (1, None)


def test_a_server_that_ignores_the_page_is_not_walked_forever(grenoble: HsdsApi) -> None:
    pages = {"contents": [{"id": "a", "name": "A", "last_modified": "2026-11-01"}]}
    asked: list[str] = []

    def fetch(url: str) -> Any:
        asked.append(url)
        return pages  # no total_pages, no last_page, and always the same page

    run = harvest_run(_source(grenoble), fetch=fetch)

    assert run.status == "failed"
    assert "ignores `page`" in run.error
    assert len(asked) <= 3


def test_a_token_is_never_sent_over_plain_http_to_a_public_host(
    monkeypatch: pytest.MonkeyPatch, settings: Any
) -> None:
    settings.TISSER_HARVEST_ALLOW_PRIVATE = False
    settings.TISSER_HARVEST_PRIVATE_HOSTS = []
    monkeypatch.setenv("TISSER_HARVEST_TOKEN_X", "secret-token")
    source = source_add(
        name="plain",
        url="http://annuaire.example.org/api",
        kind="hsds-api",
        every_hours=0,
        token_env="TISSER_HARVEST_TOKEN_X",
    )

    run = harvest_run(source)

    assert run.status == "failed"
    assert "only sent over https://" in run.error


# --- What the second review found (each failed before its fix) -----------------------------


def _shared_organization(server: HsdsApi) -> list[str]:
    """The ids of the services of an organisation that runs several."""
    by: dict[str, list[str]] = {}
    for service_id, service in server.services.items():
        by.setdefault(service["organization"]["id"], []).append(service_id)
    return max(by.values(), key=len)


def test_an_organisation_shared_across_batches_takes_every_change_from_the_source(
    grenoble: HsdsApi, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(runs, "BATCH", 1)  # each service written on its own
    source = _source(grenoble)
    harvest_run(source)
    ids = _shared_organization(grenoble)
    assert len(ids) >= 2

    for service_id in ids:
        grenoble.edit(service_id, lambda d: d["organization"].update(description="v2"))
    second = harvest_run(source)

    assert second.kept_local == 0
    assert all(HarvestedRecord.objects.get(record_id=i).review_fields == [] for i in ids)

    del grenoble.services[ids[0]]
    grenoble.edit(ids[1], lambda d: d["organization"].update(description="v3", name="Renommée"))
    harvest_run(source)

    organization = _harvested(ids[1]).organization
    assert (organization.name, organization.description) == ("Renommée", "v3")


def test_a_place_shared_by_two_services_is_kept_when_edited_in_tisser(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    """data·inclusion: the Restos' two services meet at their structure's place."""
    monkeypatch.setattr(runs, "BATCH", 1)
    folder = tmp_path / "export"
    shutil.copytree(DATA_INCLUSION, folder)
    source = source_add(
        name="lyon", url=str(folder), kind="data-inclusion", every_hours=0, paths_allowed=True
    )
    harvest_run(source)
    epicerie = _harvested("soliguide--epicerie-solidaire-lyon7")
    repas = _harvested("soliguide--repas-partage-lyon7")
    [place] = {sal.location for s in (epicerie, repas) for sal in s.service_at_locations.all()}

    # The structure moves at the source: both services follow, nothing is flagged.
    structures = json.loads((folder / "structures.json").read_text(encoding="utf-8"))
    for structure in structures:
        if structure["id"] == "soliguide--restos-lyon7":
            structure["adresse"] = "14 rue Béchevelin"
    (folder / "structures.json").write_text(json.dumps(structures), encoding="utf-8")
    moved = harvest_run(source)
    assert moved.kept_local == 0
    assert place.addresses.get().address_1 == "14 rue Béchevelin"

    # Its organisation corrects the place in Tisser; the source changes it again.
    location_save(
        organization=place.organization,
        location_id=place.id,
        changes={"transportation": "Tram T1, arrêt Saint-André"},
    )
    for structure in structures:
        if structure["id"] == "soliguide--restos-lyon7":
            structure["adresse"] = "16 rue Béchevelin"
    (folder / "structures.json").write_text(json.dumps(structures), encoding="utf-8")
    third = harvest_run(source)

    place.refresh_from_db()
    assert place.transportation == "Tram T1, arrêt Saint-André"
    assert place.addresses.get().address_1 == "14 rue Béchevelin"  # Tisser's version kept
    flags = {r.record_id: r.review_fields for r in HarvestedRecord.objects.filter(source=source)}
    assert third.kept_local == 2, (third.kept_local, third.updated, third.unchanged, flags)
    for record_id in ("soliguide--epicerie-solidaire-lyon7", "soliguide--repas-partage-lyon7"):
        assert HarvestedRecord.objects.get(record_id=record_id).review_fields == [
            "service_at_locations"
        ]


def test_a_service_closed_in_tisser_stays_closed_when_it_comes_back(grenoble: HsdsApi) -> None:
    source = _source(grenoble)
    harvest_run(source)
    closed_here, left = list(grenoble.services)[:2]
    service = _harvested(closed_here)
    service_update(
        organization=service.organization, service_id=service.id, changes={"status": "inactive"}
    )
    away = {i: grenoble.services.pop(i) for i in (closed_here, left)}
    harvest_run(source)
    grenoble.services.update(away)
    for service_id in away:
        grenoble.edit(service_id, lambda d: None)

    harvest_run(source)

    assert _harvested(closed_here).status == "inactive"  # closed by its organisation
    assert _harvested(left).status == "active"  # closed by the harvest: back


def test_a_source_run_by_hand_only_is_not_scheduled_after_a_failure() -> None:
    source = source_add(
        name="by-hand", url=f"http://127.0.0.1:{_closed_port()}/api", kind="hsds-api", every_hours=0
    )

    run = harvest_run(source)

    source.refresh_from_db()
    assert run.status == "failed"
    assert (source.failures, source.next_run_at) == (1, None)


def test_a_claim_left_by_a_dead_worker_does_not_block_run_now() -> None:
    source = source_add(name="m", url="https://example.org/api", kind="hsds-api", every_hours=0)
    HarvestSource.objects.filter(id=source.id).update(
        running_since=timezone.now() - timedelta(days=30)
    )
    source.refresh_from_db()

    source_run_soon(source)

    source.refresh_from_db()
    assert source.next_run_at is not None


def test_a_service_gone_between_the_listing_and_its_page_is_one_invalid_record(
    grenoble: HsdsApi,
) -> None:
    source = _source(grenoble)
    harvest_run(source)
    causerie = _id_of(grenoble, CAUSERIE)
    grenoble.edit(causerie, lambda d: None)
    real = fetcher(source)

    def fetch(url: str) -> Any:
        if url.endswith(f"/services/{causerie}"):
            raise HttpStatus(404, "gone")
        return real(url)

    run = harvest_run(source, fetch=fetch)

    assert run.status == "succeeded"
    assert (run.invalid, run.unchanged) == (1, 16)
