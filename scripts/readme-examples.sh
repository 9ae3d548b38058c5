#!/usr/bin/env bash
# Runs every grpcurl and curl example of the README's operator section, in order, against the
# server at ADDRESS (gRPC) and REST_ADDRESS (REST; a fresh database), so the README stays true.
# The mariadb lines among them (a demo warehouse database on the local MariaDB) run too. Fails
# on the first example that fails.
#   REST_ADDRESS=127.0.0.1:8080 scripts/readme-examples.sh 127.0.0.1:50051
set -euo pipefail
cd "$(dirname "$0")/.."
address=${1:?usage: $0 HOST:PORT}
rest_address=${REST_ADDRESS:?set REST_ADDRESS to the REST HOST:PORT}
grpcurl_bin="$PWD/.tools/venv/bin/grpcurl"

# The first ```bash block after the grpcurl heading holds the examples.
examples=$(awk '/^## Operating it with grpcurl/ {section=1} section && /^```bash/ {inblock=1; next} inblock && /^```/ {exit} inblock' README.md)
count=0
while IFS= read -r line; do
  # grpcurl and curl calls, and the mariadb commands that prepare a demo warehouse database.
  case "$line" in grpcurl* | curl* | mariadb*) ;; *) continue ;; esac
  command=${line//localhost:8081/$address}
  command=${command//localhost:8080/$rest_address}
  command=${command/#grpcurl/$grpcurl_bin}
  echo "+ ${line:0:110}"
  if ! bash -c "$command" >/dev/null; then
    echo "readme-examples: failed: $line" >&2
    exit 1
  fi
  count=$((count + 1))
done <<< "$examples"
[ "$count" -ge 15 ] || { echo "readme-examples: found only $count examples" >&2; exit 1; }
echo "readme-examples: $count passed, 0 failed"
