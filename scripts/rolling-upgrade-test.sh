#!/usr/bin/env bash
# A rolling upgrade from the previous release to this tree, on MariaDB and on SQLite: two replicas
# of the old binary under callback and catalog load are replaced one at a time by the new one
# (scripts/rolling_upgrade.py checks that nothing acknowledged is lost, no request failed, and
# lineage agrees on every replica).
#
# The previous release is OLD_REF, by default the commit before the newest migration file,
# so that the new binary migrates a database the old replicas are serving. It is built in a git
# worktree under a temporary directory, with its own target directory kept between runs in
# ROLLING_UPGRADE_TARGET (default ~/.cache/dataportal-rolling-upgrade/target).
#
#   scripts/rolling-upgrade-test.sh                     # both databases
#   BACKENDS=mariadb OLD_REF=v0.3.0 scripts/rolling-upgrade-test.sh
set -euo pipefail
cd "$(dirname "$0")/.."

backends="${BACKENDS:-mariadb sqlite}"
old_ref="${OLD_REF:-$(git rev-parse "$(git log -1 --format=%H -- 'migrations/*/*.sql')^")}"
target="${ROLLING_UPGRADE_TARGET:-${XDG_CACHE_HOME:-$HOME/.cache}/dataportal-rolling-upgrade/target}"
work="$(mktemp -d)"
cleanup() {
  git worktree remove --force "$work/old" >/dev/null 2>&1 || true
  rm -rf "$work"
}
trap cleanup EXIT

echo "rolling-upgrade: previous release $(git log -1 --format='%h %s' "$old_ref" | cut -c1-80)"
git worktree add --detach "$work/old" "$old_ref" >/dev/null
(cd "$work/old" && CARGO_TARGET_DIR="$target" cargo build --quiet --bin dataportal)
cargo build --quiet --bin dataportal
new_binary="$(cargo metadata --format-version 1 --no-deps | python3 -c 'import json,sys; print(json.load(sys.stdin)["target_directory"])')/debug/dataportal"

for backend in $backends; do
  mkdir -p "$work/$backend"
  case "$backend" in
    mariadb)
      scripts/ensure-mariadb.sh
      server="${TEST_MYSQL_URL:-mysql://root@127.0.0.1:3306}"
      name="dp_rolling_$(date +%s)_$$"
      mariadb --protocol=TCP -h 127.0.0.1 -uroot -e "CREATE DATABASE $name"
      url="$server/$name"
      ;;
    sqlite) url="sqlite://$work/$backend/portal.db" ;;
    *) echo "unknown backend $backend" >&2; exit 2 ;;
  esac
  echo "rolling-upgrade: $backend"
  status=0
  python3 scripts/rolling_upgrade.py --old "$target/debug/dataportal" --new "$new_binary" \
    --database-url "$url" --work "$work/$backend" || status=$?
  if [ "$backend" = mariadb ]; then
    mariadb --protocol=TCP -h 127.0.0.1 -uroot -e "DROP DATABASE IF EXISTS $name"
  fi
  if [ "$status" -ne 0 ]; then
    tail -n 20 "$work/$backend"/*.log >&2 || true
    exit "$status"
  fi
done
