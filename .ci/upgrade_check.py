"""The upgrade check's two halves (called by .ci/upgrade-check; issue 23).

`fingerprint --out FILE`: run on a database filled by an older commit's `tisser demo`,
before the upgrade. Plain SQL only (sqlite3 or psycopg), so it reads the database the same
whatever the code's models: row counts of every table; the ids of referrals, slips, events
and API keys; each referral's placements, matches and slip; each slip's file and its
SHA-256; each key's role and owner.

`verify --fingerprint FILE`: run after this checkout's `tisser migrate`, with its code
(`django.setup()`). Fails (exit 1) on any loss: a table gone that had rows, a row count
changed (Django's bookkeeping tables may grow), an id missing, a row the ORM cannot load
or a relation it cannot resolve, a slip's file missing or changed, a referral the API does
not answer with a key made by the new code's own `api_key_create`. Models are found by
their table name, not by where they live. Prints a one-line JSON summary last.

Both read the database from the environment, as Tisser does: DATABASE_URL, or the
embedded SQLite file in TISSER_DATA_DIR.
"""

from __future__ import annotations

import argparse
import hashlib
import importlib
import json
import os
import re
import sys
import time
import uuid
from collections.abc import Iterable
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parent.parent

# Tables of the commit before the move: moved models keep these names.
REFERRAL_TABLE = "referrals_referral"
PLACEMENT_TABLE = "referrals_placement"
MATCH_TABLE = "referrals_match"
SLIP_TABLE = "referrals_slip"
EVENT_TABLE = "referrals_event"
API_KEY_TABLE = "referrals_apikey"
KEY_TABLES = {
    "referrals": REFERRAL_TABLE,
    "slips": SLIP_TABLE,
    "events": EVENT_TABLE,
    "api_keys": API_KEY_TABLE,
}
# Django's bookkeeping: migrating to new apps adds migrations, content types, permissions.
MAY_GROW = {"django_migrations", "django_content_type", "auth_permission"}


def norm(value: Any) -> str | None:
    """An id as text, the same on both backends (SQLite keeps UUIDs as 32 hex digits)."""
    if value is None:
        return None
    if isinstance(value, uuid.UUID):
        return value.hex
    text = str(value)
    if len(text) == 36 and text.count("-") == 4:
        return uuid.UUID(text).hex
    return text


def quote(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def tables_sql(vendor: str) -> str:
    if vendor == "sqlite":
        return (
            "SELECT name FROM sqlite_master WHERE type = 'table' "
            "AND name NOT LIKE 'sqlite\\_%' ESCAPE '\\' ORDER BY name"
        )
    return "SELECT tablename FROM pg_tables WHERE schemaname = current_schema() ORDER BY tablename"


def table_counts(cursor: Any, vendor: str) -> dict[str, int]:
    cursor.execute(tables_sql(vendor))
    names = [row[0] for row in cursor.fetchall()]
    counts = {}
    for name in names:
        cursor.execute(f"SELECT count(*) FROM {quote(name)}")  # noqa: S608 - a table's name
        counts[name] = int(cursor.fetchone()[0])
    return counts


def rows(cursor: Any, sql: str) -> list[dict[str, Any]]:
    cursor.execute(sql)
    columns = [c[0] for c in cursor.description]
    return [dict(zip(columns, row, strict=True)) for row in cursor.fetchall()]


def sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as f:
        for block in iter(lambda: f.read(1 << 16), b""):
            digest.update(block)
    return digest.hexdigest()


def data_dir() -> Path:
    value = os.environ.get("TISSER_DATA_DIR")
    if not value:
        sys.exit("upgrade_check: set TISSER_DATA_DIR (the demo's data directory)")
    return Path(value).expanduser().resolve()


def target() -> dict[str, Any]:
    """The database Tisser's settings would use, read from the environment the same way."""
    url = os.environ.get("DATABASE_URL", "")
    if not url:
        return {"vendor": "sqlite", "name": str(data_dir() / "tisser.sqlite3")}
    import dj_database_url

    config = dj_database_url.parse(url)
    if config["ENGINE"] == "django.db.backends.sqlite3":
        return {"vendor": "sqlite", "name": str(Path(str(config["NAME"])).resolve())}
    return {
        "vendor": "postgresql",
        "name": config["NAME"],
        "host": config.get("HOST") or "",
        "port": str(config.get("PORT") or ""),
        "user": config.get("USER") or "",
        "password": config.get("PASSWORD") or "",
    }


def connect(db: dict[str, Any]) -> Any:
    if db["vendor"] == "sqlite":
        import sqlite3

        if not Path(db["name"]).exists():
            sys.exit(f"upgrade_check: no database at {db['name']}")
        return sqlite3.connect(db["name"])
    import psycopg

    return psycopg.connect(
        dbname=db["name"],
        host=db["host"] or None,
        port=db["port"] or None,
        user=db["user"] or None,
        password=db["password"] or None,
    )


# --- fingerprint (old code's database, plain SQL) ---------------------------------------


def fingerprint(out: Path) -> None:
    db = target()
    media = data_dir() / "files"  # the old code's MEDIA_ROOT
    connection = connect(db)
    try:
        cursor = connection.cursor()
        counts = table_counts(cursor, db["vendor"])
        missing_tables = [t for t in KEY_TABLES.values() if t not in counts]
        if missing_tables:
            sys.exit(f"upgrade_check: the old database has no {', '.join(missing_tables)}")
        ids = {
            key: sorted(norm(r["id"]) or "" for r in rows(cursor, f"SELECT id FROM {table}"))  # noqa: S608
            for key, table in KEY_TABLES.items()
        }
        referrals = {
            norm(r["id"]): {
                "code": r["code"],
                "health_center": norm(r["health_center_id"]),
                "placements": 0,
                "matches": 0,
                "slip": None,
            }
            for r in rows(cursor, f"SELECT id, code, health_center_id FROM {REFERRAL_TABLE}")  # noqa: S608
        }
        for table, field in ((PLACEMENT_TABLE, "placements"), (MATCH_TABLE, "matches")):
            for r in rows(cursor, f"SELECT referral_id FROM {table}"):  # noqa: S608
                referrals[norm(r["referral_id"])][field] += 1
        slips = {}
        slip_sql = f"SELECT id, referral_id, file, size_bytes FROM {SLIP_TABLE}"  # noqa: S608
        for r in rows(cursor, slip_sql):
            path = media / r["file"]
            if not path.is_file():
                sys.exit(
                    f"upgrade_check: slip {r['id']}'s file {path} is missing before the upgrade"
                )
            slips[norm(r["id"])] = {
                "referral": norm(r["referral_id"]),
                "file": r["file"],
                "size": path.stat().st_size,
                "sha256": sha256(path),
            }
            referrals[norm(r["referral_id"])]["slip"] = norm(r["id"])
        key_sql = f"SELECT id, role, health_center_id, organization_id FROM {API_KEY_TABLE}"  # noqa: S608
        api_keys = {
            norm(r["id"]): {
                "role": r["role"],
                "health_center_id": norm(r["health_center_id"]),
                "organization_id": norm(r["organization_id"]),
            }
            for r in rows(cursor, key_sql)
        }
    finally:
        connection.close()
    empty = [key for key, values in ids.items() if not values]
    if empty:
        sys.exit(f"upgrade_check: the demo left no {', '.join(empty)}: nothing to check")
    db.pop("password", None)
    out.write_text(
        json.dumps(
            {
                "database": db,
                "taken_at": time.time(),
                "counts": counts,
                "ids": ids,
                "referrals": referrals,
                "slips": slips,
                "api_keys": api_keys,
            },
            indent=1,
        )
    )
    print(
        f"fingerprint: {len(counts)} tables, {sum(counts.values())} rows, "
        + ", ".join(f"{len(v)} {k}" for k, v in ids.items())
        + f" → {out}"
    )


# --- verify (new code, after `tisser migrate`) ------------------------------------------


class Check:
    """The problems found; each kind printed at most ten times, all of them counted."""

    SHOWN = 10

    def __init__(self) -> None:
        self.problems: list[str] = []
        self.kinds: dict[str, int] = {}

    def fail(self, message: str, kind: str | None = None) -> None:
        self.problems.append(message)
        kind = kind or message
        self.kinds[kind] = self.kinds.get(kind, 0) + 1
        if self.kinds[kind] <= self.SHOWN:
            print(f"LOSS: {message}", flush=True)
        elif self.kinds[kind] == self.SHOWN + 1:
            print(f"LOSS: … more of the kind {kind!r}, counted in the summary", flush=True)


def django_setup() -> None:
    sys.path.insert(0, str(REPO))
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")
    import django

    django.setup()


def models_by_table() -> dict[str, Any]:
    from django.apps import apps

    found: dict[str, Any] = {}
    for model in apps.get_models(include_auto_created=True):
        meta = model._meta
        if meta.proxy or meta.swapped:
            continue
        found.setdefault(meta.db_table, model)
    return found


def forward_relations(model: Any) -> list[Any]:
    return [
        f for f in model._meta.concrete_fields if f.is_relation and (f.many_to_one or f.one_to_one)
    ]


def field_by_column(model: Any, column: str) -> Any:
    for field in model._meta.concrete_fields:
        if field.column == column:
            return field
    raise LookupError(f"{model._meta.label} has no field for column {column}")


def load_all(check: Check, table: str, model: Any, expected: int) -> int:
    """Every row through the ORM with its foreign keys joined: each one loads, each
    relation resolves."""
    relations = forward_relations(model)
    label = f"{model._meta.label} ({table})"
    loaded = 0
    dangling = 0
    try:
        queryset = model._base_manager.select_related(*(f.name for f in relations)).order_by()
        for obj in queryset.iterator(chunk_size=2000):
            loaded += 1
            for field in relations:
                if getattr(obj, field.attname) is not None and getattr(obj, field.name) is None:
                    dangling += 1
    except Exception as exc:
        check.fail(f"{label}: the ORM cannot load its rows: {exc!r}", "ORM")
        return 0
    if loaded != expected:
        check.fail(f"{label}: {expected} rows in the table, {loaded} loaded through the ORM")
    if dangling:
        check.fail(f"{label}: {dangling} relations that do not resolve")
    return loaded


def api_key_create_function() -> Any:
    """The new code's own `api_key_create`, wherever the move put it."""
    skip = {"tests", "migrations", "node_modules", "__pycache__", "var"}
    pattern = re.compile(r"^def api_key_create\(", re.MULTILINE)
    for top, dirs, files in os.walk(REPO):
        dirs[:] = sorted(d for d in dirs if not d.startswith(".") and d not in skip)
        for name in sorted(f for f in files if f.endswith(".py")):
            path = Path(top) / name
            if pattern.search(path.read_text(encoding="utf-8", errors="replace")):
                module = ".".join(path.relative_to(REPO).with_suffix("").parts)
                return importlib.import_module(module).api_key_create, module
    raise LookupError("no `def api_key_create(` in this checkout")


def body(response: Any) -> bytes:
    if getattr(response, "streaming", False):
        return b"".join(response.streaming_content)
    return bytes(response.content)


# Columns of the match index that follow the calendar (a run of sessions begun, a
# schedule ended): compared only when the old database was made the same day.
_DATED = {"run_from", "run_until", "resumes_on", "starts_on", "slots", "weekdays", "refresh_on"}


def match_index_check(check: Check, taken_at: float | None) -> int:
    """Compare the migrated match index with a rebuild by the new code (rolled back);
    returns how many points there are."""
    from datetime import UTC, datetime

    from django.db import transaction
    from django.utils import timezone

    from matching.index import match_points_rebuild
    from matching.models import MatchPoint

    same_day = (
        taken_at is not None
        and timezone.localdate(datetime.fromtimestamp(taken_at, tz=UTC)) == timezone.localdate()
    )
    columns = [
        f.attname for f in MatchPoint._meta.concrete_fields if same_day or f.attname not in _DATED
    ]
    migrated = set(MatchPoint.objects.values_list(*columns))
    with transaction.atomic():
        match_points_rebuild()
        rebuilt = set(MatchPoint.objects.values_list(*columns))
        transaction.set_rollback(True)
    if migrated != rebuilt:
        differ = sorted(migrated ^ rebuilt, key=str)[:2]
        check.fail(f"the match index differs from a rebuild ({len(migrated ^ rebuilt)}): {differ}")
    return len(migrated)


def verify(fingerprint_path: Path, summary_path: Path | None) -> int:
    started = time.perf_counter()
    before = json.loads(fingerprint_path.read_text())
    django_setup()
    from django.conf import settings
    from django.db import connection
    from django.test import Client

    check = Check()
    db = before["database"]
    # The new code must read the very database the old one wrote, not a fresh one.
    live = settings.DATABASES["default"]
    if connection.vendor != db["vendor"]:
        check.fail(f"the new code uses {connection.vendor}, the old database is {db['vendor']}")
    elif db["vendor"] == "sqlite" and str(Path(str(live["NAME"])).resolve()) != db["name"]:
        check.fail(f"the new code reads {live['NAME']}, the old database is {db['name']}")
    elif db["vendor"] == "postgresql" and live["NAME"] != db["name"]:
        check.fail(f"the new code reads database {live['NAME']}, the old one is {db['name']}")
    if check.problems:
        return finish(check, {}, started, summary_path)

    # 1. Row counts: no table that had rows is gone, none has fewer or more rows.
    with connection.cursor() as cursor:
        after = table_counts(cursor, connection.vendor)
    for table, count in sorted(before["counts"].items()):
        if table not in after:
            if count:
                check.fail(f"table {table} ({count} rows) is gone")
        elif after[table] < count or (after[table] > count and table not in MAY_GROW):
            check.fail(f"table {table}: {count} rows before, {after[table]} after")
    added = sorted(set(after) - set(before["counts"]))

    # 2. Every old table's rows through the new code's models, found by table name.
    by_table = models_by_table()
    loaded_tables = 0
    loaded_rows = 0
    for table in sorted(before["counts"]):
        model = by_table.get(table)
        if model is None or table not in after:
            continue
        loaded_rows += load_all(check, table, model, after[table])
        loaded_tables += 1
    without_model = sorted(
        t for t, n in before["counts"].items() if n and t in after and t not in by_table
    )
    models: dict[str, Any] = {}
    for key, table in KEY_TABLES.items():
        if table in by_table:
            models[key] = by_table[table]
        else:
            check.fail(f"no model of the new code has the table {table} ({key})")
    for table in (PLACEMENT_TABLE, MATCH_TABLE):
        if table not in by_table:
            check.fail(f"no model of the new code has the table {table}")
    if len(models) < len(KEY_TABLES) or not {PLACEMENT_TABLE, MATCH_TABLE} <= set(by_table):
        return finish(check, {"tables_added": added}, started, summary_path)

    # 3. The same referrals, slips, events and keys, by id, through the ORM.
    for key, model in models.items():
        ids = {norm(pk) for pk in model._base_manager.values_list("pk", flat=True)}
        missing = sorted(set(before["ids"][key]) - ids)
        if missing:
            check.fail(f"{len(missing)} {key} gone: {', '.join(missing[:5])}")

    # 4. Each referral with its placements, matches and slip, through its relations.
    Referral = models["referrals"]
    relations = {
        rel.related_model._meta.db_table: rel
        for rel in Referral._meta.related_objects
        if rel.related_model._meta.db_table in (PLACEMENT_TABLE, MATCH_TABLE, SLIP_TABLE)
    }
    missing_relations = {PLACEMENT_TABLE, MATCH_TABLE, SLIP_TABLE} - set(relations)
    if missing_relations:
        check.fail(f"{Referral._meta.label} has no relation to {sorted(missing_relations)}")
        return finish(check, {"tables_added": added}, started, summary_path)
    placements = relations[PLACEMENT_TABLE].get_accessor_name()
    matches = relations[MATCH_TABLE].get_accessor_name()
    slip_accessor = relations[SLIP_TABLE].get_accessor_name()
    code_field = field_by_column(Referral, "code")
    center_field = field_by_column(Referral, "health_center_id")
    referrals = {
        norm(r.pk): r
        for r in Referral._base_manager.select_related(slip_accessor, center_field.name)
        .prefetch_related(placements, matches)
        .order_by()
    }
    for rid, old in before["referrals"].items():
        referral = referrals.get(rid)
        if referral is None:
            continue  # reported above
        now = {
            "code": getattr(referral, code_field.attname),
            "health_center": norm(getattr(getattr(referral, center_field.name), "pk", None)),
            "placements": len(getattr(referral, placements).all()),
            "matches": len(getattr(referral, matches).all()),
            "slip": norm(getattr(getattr(referral, slip_accessor, None), "pk", None)),
        }
        changed = {k: f"{old[k]} → {now[k]}" for k in old if old[k] != now[k]}
        if changed:
            check.fail(f"referral {rid} ({old['code']}): {changed}", "referral")

    # 5. Slips: the same files, found by the new code's storage.
    Slip = models["slips"]
    file_field = next(f for f in Slip._meta.concrete_fields if f.get_internal_type() == "FileField")
    for slip in Slip._base_manager.all().order_by():
        old = before["slips"].get(norm(slip.pk))
        if old is None:
            continue
        stored = getattr(slip, file_field.name)
        if stored.name != old["file"]:
            check.fail(f"slip {slip.pk}: file {old['file']} → {stored.name}", "slip file")
            continue
        if not stored.storage.exists(stored.name):
            check.fail(f"slip {slip.pk}: no file {stored.name}", "slip file")
            continue
        with stored.storage.open(stored.name, "rb") as f:
            digest = hashlib.sha256(f.read()).hexdigest()
        if digest != old["sha256"]:
            check.fail(f"slip {slip.pk}: its file changed", "slip file")

    # 6. API keys: every key, its role and owner (the demo prints none of its keys).
    ApiKey = models["api_keys"]
    role_field = field_by_column(ApiKey, "role")
    owners = [field_by_column(ApiKey, c) for c in ("health_center_id", "organization_id")]
    for key in ApiKey._base_manager.select_related(*(f.name for f in owners)).order_by():
        old = before["api_keys"].get(norm(key.pk))
        if old is None:
            continue
        now = {"role": getattr(key, role_field.attname)}
        for field in owners:
            owner = getattr(key, field.name)
            now[field.column] = norm(owner.pk) if owner is not None else None
        changed = {k: f"{old[k]} → {now[k]}" for k in old if old[k] != now[k]}
        if changed:
            check.fail(f"API key {key.pk}: {changed}", "API key")

    # 7. The API answers an old referral (and its slip) to a key made by the new code.
    api: dict[str, Any] = {}
    with_slip = [r for rid, r in referrals.items() if before["referrals"].get(rid, {}).get("slip")]
    if not with_slip:
        check.fail("no referral with a slip to ask the API for")
    else:
        referral = with_slip[0]
        center = getattr(referral, center_field.name)
        try:
            create, module = api_key_create_function()
            token = create(health_center=center, name="upgrade check")
            client = Client(headers={"Authorization": f"Bearer {token}"})
            url = f"/api/v1/referrals/{referral.pk}"
            response = client.get(url)
            api = {"key_function": f"{module}.api_key_create", "get": response.status_code}
            code = getattr(referral, code_field.attname)
            if response.status_code != 200:
                check.fail(f"GET {url}: {response.status_code} {body(response)[:300]!r}")
            elif response.json().get("code") != code:
                check.fail(f"GET {url}: code {response.json().get('code')!r}, not {code!r}")
            pdf = client.get(f"{url}/slip.pdf")
            api["slip_pdf"] = pdf.status_code
            old_slip = before["slips"][before["referrals"][norm(referral.pk)]["slip"]]
            if pdf.status_code != 200:
                check.fail(f"GET {url}/slip.pdf: {pdf.status_code}")
            elif hashlib.sha256(body(pdf)).hexdigest() != old_slip["sha256"]:
                check.fail(f"GET {url}/slip.pdf: not the slip the old code rendered")
        except Exception as exc:
            check.fail(f"the API check failed: {exc!r}")

    # 8. The match index, migrated, is the one the new code builds: a migration that adds
    #    a column to it fills that column for the points already there.
    index_points = match_index_check(check, before.get("taken_at"))

    return finish(
        check,
        {
            "tables": len(before["counts"]),
            "tables_added": added,
            "rows": sum(before["counts"].values()),
            "match_points": index_points,
            "orm_tables": loaded_tables,
            "orm_rows": loaded_rows,
            "tables_without_model": without_model,
            **{key: len(values) for key, values in before["ids"].items()},
            "models": {key: model._meta.label for key, model in models.items()},
            # Old tables whose model now lives in another app (found by table name).
            "moved": {
                table: model._meta.label
                for table, model in sorted(by_table.items())
                if table in before["counts"]
                and not table.startswith((f"{model._meta.app_label}_", "django_"))
            },
            "api": api,
        },
        started,
        summary_path,
    )


def finish(check: Check, summary: dict[str, Any], started: float, path: Path | None) -> int:
    from django.db import connection

    result = {
        "ok": not check.problems,
        "backend": connection.vendor,
        **summary,
        "problems": len(check.problems),
        "seconds": round(time.perf_counter() - started, 1),
    }
    line = json.dumps(result)
    if path is not None:
        path.write_text(line)
    print(line)
    return 0 if result["ok"] else 1


def main(argv: Iterable[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    commands = parser.add_subparsers(dest="command", required=True)
    first = commands.add_parser("fingerprint", help="before the upgrade: plain SQL")
    first.add_argument("--out", type=Path, required=True)
    second = commands.add_parser("verify", help="after `tisser migrate`: the new code")
    second.add_argument("--fingerprint", type=Path, required=True)
    second.add_argument("--summary", type=Path, help="also write the summary line here")
    args = parser.parse_args(list(argv) if argv is not None else None)
    if args.command == "fingerprint":
        fingerprint(args.out)
        return 0
    return verify(args.fingerprint, args.summary)


if __name__ == "__main__":
    sys.exit(main())
