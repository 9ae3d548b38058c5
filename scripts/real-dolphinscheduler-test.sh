#!/usr/bin/env bash
# Runs the end-to-end tests (tests/api/real_dolphinscheduler.rs) against a real DolphinScheduler
# that scripts/dolphinscheduler.sh starts from Maven Central, then stops it.
#
#   scripts/real-dolphinscheduler-test.sh [VERSION]   one version (default 3.1.1)
#   scripts/real-dolphinscheduler-test.sh all         every version of the supported lines; one
#                                                     that Maven Central does not publish is
#                                                     reported and left out, not counted as passed
#
# DolphinScheduler runs in Asia/Shanghai (its JVM's zone, as SPRING_JACKSON_TIME_ZONE sets it in
# its own start scripts) while this machine and the service's other zones differ, so that every
# date the service records is checked across zones.
set -euo pipefail
cd "$(dirname "$0")/.."

versions=("${1:-3.1.1}")
if [ "${versions[0]}" = all ]; then
  versions=(3.1.1 3.1.9 3.2.2 3.3.2 3.4.3)
fi
export SPRING_JACKSON_TIME_ZONE=Asia/Shanghai

scripts/ensure-mariadb.sh
# The tests' binary first, so that DolphinScheduler is not left waiting while it compiles.
cargo test --quiet --test api --no-run

ran=() unavailable=()
for version in "${versions[@]}"; do
  echo "==> DolphinScheduler $version"
  if ! scripts/dolphinscheduler.sh fetch "$version"; then
    unavailable+=("$version")
    continue
  fi
  dir=$(mktemp -d)
  # shellcheck disable=SC2064 # the directory of this iteration is meant
  trap "scripts/dolphinscheduler.sh stop --dir '$dir' --purge >/dev/null 2>&1 || true" EXIT
  scripts/dolphinscheduler.sh start "$version" --dir "$dir" >/dev/null
  # Not `( … ) || …`: errexit is off inside a subshell whose failure is handled that way, and a
  # failed test run would pass unnoticed.
  set +e
  (
    set -e
    set -a
    # shellcheck disable=SC1091
    . "$dir/env"
    set +a
    export PYDS_USER_TENANT="$(id -un)" DS_SERVER_TIMEZONE="$SPRING_JACKSON_TIME_ZONE" DS_E2E_HARNESS_DIR="$dir"
    # The outage test stops DolphinScheduler, so it runs alone, after the others.
    cargo test --quiet --test api real_dolphinscheduler:: -- --ignored --skip outage --test-threads=2
    cargo test --quiet --test api real_dolphinscheduler::sqlite::an_outage -- --ignored
    cargo test --quiet --test api real_dolphinscheduler::mariadb::an_outage -- --ignored
  )
  status=$?
  set -e
  if [ "$status" -ne 0 ]; then
    echo "real-dolphinscheduler-test: DolphinScheduler $version failed; its log ends:" >&2
    tail -n 60 "$(sed -n "s/^DS_LOG=//p" "$dir/env")" >&2 || true
    exit 1
  fi
  scripts/dolphinscheduler.sh stop --dir "$dir" --purge >/dev/null
  trap - EXIT
  ran+=("$version")
done

echo "real-dolphinscheduler-test: passed on ${ran[*]:-no version}"
if [ ${#unavailable[@]} -gt 0 ]; then
  echo "real-dolphinscheduler-test: not run (not published on Maven Central): ${unavailable[*]}"
fi
[ ${#ran[@]} -gt 0 ]
