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
# uses (README, "Restore"). Exit status 0 when the backup restores whole: every table
# with as many rows, the same migrations, the newest referral with its needs,
# placements and slip; and the files archive readable, with every slip the database
# names (a slip erased while the backup ran is reported, not failed: it can be printed
# again).
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
cleanup() {
  dropdb --if-exists "$scratch" || echo "rehearsal: could not drop $scratch" >&2
  rm -f "$actual"
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

tables=$(grep -c "^rows " "$actual" || true)
rows=$(awk '$1 == "rows" { n += $3 } END { print n + 0 }' "$actual")
migrations=$(grep -c "^migration " "$actual" || true)
referral=$(awk '$1 == "referral" { print $3 " (" $4 ")" }' "$actual")
echo "rehearsal: $dump restores whole: $tables tables, $rows rows, $migrations migrations," \
  "newest referral ${referral:-none yet}"
