#!/usr/bin/env bash
# Starts the service on free ports with a throwaway SQLite database, publishing to a fake
# DolphinScheduler, waits until it is SERVING, runs the given command with the gRPC address as
# its last argument (and the REST address in REST_ADDRESS), and stops the service again
# (whatever the command's outcome).
set -euo pipefail
cd "$(dirname "$0")/.."

cargo build --quiet --bin dataportal
cargo build --quiet -p fake-dolphinscheduler --example serve
# Cargo's target directory may live elsewhere (CARGO_TARGET_DIR, or a config file).
target=$(cargo metadata --format-version 1 --no-deps | python3 -c 'import json, sys; print(json.load(sys.stdin)["target_directory"])')
free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'; }
port=$(free_port)
rest_port=$(free_port)
data=$(mktemp -d)
log="$data/server.log"

# A fake DolphinScheduler (3.3+) to publish to; it prints DS_URL and DS_TOKEN.
"$target/debug/examples/serve" --family 3.3 --port "$(free_port)" >"$data/fake.env" 2>"$data/fake.log" &
fake=$!
server=
# Stops what runs; their exit codes (the fake dies of SIGTERM) must not become this script's.
cleanup() {
  kill $server "$fake" 2>/dev/null || true
  wait $server "$fake" 2>/dev/null || true
  rm -rf "$data"
}
trap cleanup EXIT
for _ in $(seq 1 100); do
  grep -q '^DS_TOKEN=' "$data/fake.env" 2>/dev/null && break
  sleep 0.05
done
set -a
# shellcheck disable=SC1091
. "$data/fake.env"
set +a

DATABASE_URL="sqlite://$data/portal.db" DATA_DIR="$data" DS_DEFAULT_DATASOURCE=warehouse \
  "$target/debug/dataportal" serve --host 127.0.0.1 --port "$port" --rest-port "$rest_port" >"$log" 2>&1 &
server=$!

for _ in $(seq 1 100); do
  if .tools/venv/bin/grpcurl -plaintext "127.0.0.1:$port" grpc.health.v1.Health/Check 2>/dev/null | grep -q SERVING; then
    break
  fi
  if ! kill -0 "$server" 2>/dev/null; then
    cat "$log" >&2
    echo "with-server: the service exited" >&2
    exit 1
  fi
  sleep 0.1
done

set +e
REST_ADDRESS="127.0.0.1:$rest_port" "$@" "127.0.0.1:$port"
status=$?
set -e
if [ $status -ne 0 ]; then
  echo "with-server: server log follows" >&2
  tail -n 50 "$log" >&2
fi
exit $status
