#!/usr/bin/env bash
# Rehearse a restore: restore a backup into a scratch database beside the real one,
# check that it holds what the backup's fingerprint says, then drop it. The real
# database is not touched.
#
#   deploy/restore-rehearsal.sh DIRECTORY/tisser-<time>.dump
#
# The dump is one backup.sh wrote, with its .fingerprint beside it (and its
# -files.tar.gz, when there is one). The server is libpq's (PGHOST, PGPORT, PGUSER,
# PGPASSWORD); the user may create databases. Restores with the flags the real restore
# uses (docs/production.md, "Restore"). Exit status 0 when the backup restores whole:
# every table with as many rows, the same migrations, the newest referral with its needs,
# placements and slip; and the files archive readable, with every slip the database
# names (a slip erased while the backup ran is reported, not failed: it can be printed
# again).
#
# With TISSER_ERASURE_LEDGER (the erasure ledger; compose's `backup` service sets it), it
# counts the referrals erased since the backup that the restored copy holds in full.
# Where there is a tisser command (TISSER_COMMAND, e.g. `uv run tisser`, or `tisser` on
# the PATH) it runs `tisser erasures-reapply` on the copy, as a restore does, and fails
# unless every one of them is erased again; compose's backup container has none, and
# says how many a restore's `tisser erasures-reapply` will erase.
set -euo pipefail

dump=${1:?usage: restore-rehearsal.sh DUMP}
here=$(cd "$(dirname "$0")" && pwd)
base=${dump%.dump}
expected="$base.fingerprint"
for file in "$dump" "$expected"; do
  [ -f "$file" ] || { echo "rehearsal: $file is missing" >&2; exit 1; }
done
scratch="tisser_rehearsal_$(date -u +%Y%m%d%H%M%S)_$$"
actual=$(mktemp)
work=$(mktemp -d)
cleanup() {
  dropdb --if-exists "$scratch" || echo "rehearsal: could not drop $scratch" >&2
  rm -rf "$actual" "$work"
}
trap cleanup EXIT

# 1. Restore into the scratch database: all of it or nothing, as the real restore does.
createdb "$scratch"
pg_restore --single-transaction --no-owner --no-privileges --dbname="$scratch" "$dump"

# 2. What it holds, against what the backup held.
psql -X -q -A -t -v ON_ERROR_STOP=1 -d "$scratch" -f "$here/fingerprint.sql" >"$actual"
if ! diff -u --label backup --label restored "$expected" "$actual" >&2; then
  echo "rehearsal: FAILED: the restored database is not what $dump held (above)" >&2
  exit 1
fi

# 3. The slips.
archive="$base-files.tar.gz"
if [ -f "$archive" ]; then
  listing=$(mktemp)
  tar -tzf "$archive" | sed -e 's|^\./||' -e '/^$/d' | sort >"$listing"
  missing=$(psql -X -q -A -t -v ON_ERROR_STOP=1 -d "$scratch" \
    -c "SELECT file FROM referrals_slip WHERE file <> '' ORDER BY 1" \
    | sort | comm -23 - "$listing" | wc -l)
  echo "rehearsal: $archive: $(grep -vc '/$' "$listing" || true) files"
  rm -f "$listing"
  if [ "$missing" -gt 0 ]; then
    echo "rehearsal: $missing slip(s) the database names are not in $archive" >&2
  fi
fi

# 4. Who was erased since the backup: a restore brings them back.
unerased() {  # how many referrals the ledger names the scratch database holds unerased
  local uuid='[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}'
  grep -E "^[^,]+,(consent_withdrawn|retention),$uuid\$" "$1" >"$work/erasures.csv" || true
  psql -X -q -A -t -v ON_ERROR_STOP=1 -d "$scratch" <<SQL
CREATE TEMP TABLE erasure (at text, kind text, referral uuid);
\copy erasure FROM '$work/erasures.csv' WITH (FORMAT csv)
SELECT count(DISTINCT r.id) FROM referrals_referral r JOIN erasure e ON e.referral = r.id
 WHERE (e.kind = 'consent_withdrawn' AND r.consent_withdrawn_at IS NULL)
    OR (e.kind = 'retention' AND r.purged_at IS NULL);
SQL
}
ledger=${TISSER_ERASURE_LEDGER:-}
erasures=""
if [ -n "$ledger" ] && [ ! -f "$ledger" ]; then
  erasures="none recorded yet ($ledger)"
elif [ -n "$ledger" ]; then
  back=$(unerased "$ledger")
  tisser=${TISSER_COMMAND:-$(command -v tisser || true)}
  if [ -z "$tisser" ]; then
    erasures="$back referral(s) erased since this backup are back in it:"
    erasures+=" after a restore, run \`tisser erasures-reapply\` (no tisser command here)"
  else
    # On the scratch database only: a copy of the ledger (erasing appends to it), no
    # broker, a data directory of its own (no real slip is touched).
    cp "$ledger" "$work/ledger.csv"
    mkdir "$work/data"
    host=${PGHOST:-localhost}
    host=${host//\//%2F}  # a socket's folder
    read -r -a command <<<"$tisser"
    if ! env -u TISSER_METRICS_DIR -u PROMETHEUS_MULTIPROC_DIR TISSER_ENV=development \
      DATABASE_URL="postgres://${PGUSER:-$(id -un)}@$host:${PGPORT:-5432}/$scratch" \
      REDIS_URL="" TISSER_DATA_DIR="$work/data" TISSER_ERASURE_LEDGER="$work/ledger.csv" \
      "${command[@]}" erasures-reapply; then
      echo "rehearsal: FAILED: \`tisser erasures-reapply\` failed on the restored copy" >&2
      exit 1
    fi
    left=$(unerased "$ledger")
    if [ "$left" -ne 0 ]; then
      echo "rehearsal: FAILED: $left referral(s) erased since this backup are still there" \
        "after \`tisser erasures-reapply\`" >&2
      exit 1
    fi
    erasures="$back referral(s) erased since this backup were back in it;"
    erasures+=" tisser erasures-reapply erased them again"
  fi
fi
[ -z "$erasures" ] || echo "rehearsal: erasures: $erasures"

tables=$(grep -c "^rows " "$actual" || true)
rows=$(awk '$1 == "rows" { n += $3 } END { print n + 0 }' "$actual")
migrations=$(grep -c "^migration " "$actual" || true)
referral=$(awk '$1 == "referral" { print $3 " (" $4 ")" }' "$actual")
echo "rehearsal: $dump restores whole: $tables tables, $rows rows, $migrations migrations," \
  "newest referral ${referral:-none yet}"
