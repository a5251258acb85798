#!/usr/bin/env bash
# Back up Tisser: the database, what it holds, and the slips' files.
#
#   deploy/backup.sh DIRECTORY
#
# The database is libpq's: PGHOST, PGPORT, PGUSER, PGPASSWORD and PGDATABASE (compose's
# `backup` service sets them: `docker compose run --rm backup`). TISSER_FILES_DIR, when
# set, is the slips' directory (TISSER_DATA_DIR/files); TISSER_ERASURE_LEDGER, when set,
# the erasure ledger. In DIRECTORY it writes:
#
#   tisser-<UTC time>.dump            the database (pg_dump's custom format)
#   tisser-<UTC time>.fingerprint     what the dump holds: the rows of every table, the
#                                     migrations, the newest referral (fingerprint.sql)
#   tisser-<UTC time>-files.tar.gz    the slips, when TISSER_FILES_DIR is set
#   tisser-<UTC time>.erasures.csv    a copy of the erasure ledger, when there is one: a
#                                     restore never puts it back, but a new server, its
#                                     own ledger lost, reads it (`tisser erasures-reapply
#                                     --ledger`)
#
# They hold everyone's personal data: DIRECTORY is made 0700 and every file 0600, for
# the user who runs this (root, in compose) only.
#
# The dump and its fingerprint read one snapshot of the database, so they agree while
# Tisser runs; restore-rehearsal.sh checks a restored dump against its fingerprint. The
# files are archived after the snapshot: a slip the dump names is in the archive unless
# it was erased meanwhile. Files appear under their final names only once complete.
set -euo pipefail
umask 077

directory=${1:?usage: backup.sh DIRECTORY}
database=${PGDATABASE:?set PGDATABASE (and PGHOST, PGUSER, PGPASSWORD) to the database}
here=$(cd "$(dirname "$0")" && pwd)
base="$directory/tisser-$(date -u +%Y%m%dT%H%M%SZ)"
mkdir -p "$directory"
# A folder that existed (Docker makes a bind mount's missing folder 0755) is narrowed.
chmod 700 "$directory" || echo "backup: $directory could not be made 0700 (its files are 0600)" >&2
trap 'rm -f "$base".*.partial "$base"-files.tar.gz.partial' EXIT

# 1. A read-only transaction in a psql of its own keeps the snapshot open while pg_dump
#    and the fingerprint read it.
coproc SNAPSHOT { psql -X -q -A -t -v ON_ERROR_STOP=1 -d "$database"; }
to_snapshot=${SNAPSHOT[1]} from_snapshot=${SNAPSHOT[0]} snapshot_pid=$SNAPSHOT_PID
printf '%s\n' "BEGIN ISOLATION LEVEL REPEATABLE READ, READ ONLY;" \
  "SELECT pg_export_snapshot();" >&"$to_snapshot"
if ! IFS= read -r -t 60 snapshot <&"$from_snapshot" || [ -z "$snapshot" ]; then
  echo "backup: could not open a snapshot of $database" >&2
  exit 1
fi

# 2. The dump.
pg_dump --snapshot="$snapshot" --format=custom --file="$base.dump.partial" "$database"

# 3. Its fingerprint, in the same transaction.
{ cat "$here/fingerprint.sql"; echo "SELECT 'end-of-fingerprint';"; } >&"$to_snapshot"
complete=no
while IFS= read -r -t 600 line <&"$from_snapshot"; do
  if [ "$line" = end-of-fingerprint ]; then complete=yes; break; fi
  printf '%s\n' "$line"
done >"$base.fingerprint.partial"
if [ "$complete" != yes ]; then
  echo "backup: the fingerprint of $database could not be read" >&2
  exit 1
fi
printf 'COMMIT;\n\\q\n' >&"$to_snapshot"
wait "$snapshot_pid"

# 4. The slips.
if [ -n "${TISSER_FILES_DIR:-}" ]; then
  # Before the first slip there is no folder yet: archive an empty one.
  [ -d "$TISSER_FILES_DIR" ] || TISSER_FILES_DIR=$(mktemp -d)
  tar -C "$TISSER_FILES_DIR" -czf "$base-files.tar.gz.partial" .
  mv "$base-files.tar.gz.partial" "$base-files.tar.gz"
fi

# 5. The erasure ledger, as it is now: beside the dump, never in the files' archive.
ledger=${TISSER_ERASURE_LEDGER:-}
if [ -n "$ledger" ] && [ -f "$ledger" ]; then
  cp "$ledger" "$base.erasures.csv.partial"
  mv "$base.erasures.csv.partial" "$base.erasures.csv"
fi
mv "$base.fingerprint.partial" "$base.fingerprint"
mv "$base.dump.partial" "$base.dump"

tables=$(grep -c "^rows " "$base.fingerprint" || true)
rows=$(awk '$1 == "rows" { n += $3 } END { print n + 0 }' "$base.fingerprint")
echo "backup: $base.dump ($tables tables, $rows rows)"
[ -z "${TISSER_FILES_DIR:-}" ] || echo "backup: $base-files.tar.gz"
[ ! -f "$base.erasures.csv" ] || echo "backup: $base.erasures.csv"
