#!/usr/bin/env bash
# Creates clients/python/.venv (grpcio, grpcio-tools, grpcio-status, grpcio-health-checking,
# googleapis-common-protos, from requirements.txt) and generates the Python messages and stubs
# into clients/python/gen from ../../proto: every .proto under proto/dataportal (found with
# find, so new services are picked up without editing this file) and proto/google/api.
# Both .venv and gen are git-ignored. Safe to run again: it only redoes what changed.
#
#   clients/python/generate.sh           # PYTHON=python3.12 to choose the interpreter
#
# Health stubs come from grpcio-health-checking (grpc_health.v1), google.rpc.Status/ErrorInfo/
# BadRequest from googleapis-common-protos, rpc_status.from_call from grpcio-status.
set -euo pipefail
cd "$(dirname "$0")"
SELF=$(basename "$0")   # after the cd: "$0" may be relative to the caller's directory

PYTHON=${PYTHON:-python3}
PROTO_ROOT=${PROTO_ROOT:-../../proto}
VENV=.venv
OUT=gen

if [ ! -x "$VENV/bin/python" ] || ! cmp -s requirements.txt "$VENV/.requirements.installed"; then
  echo "generate.sh: setting up $VENV"
  [ -x "$VENV/bin/python" ] || "$PYTHON" -m venv "$VENV"
  "$VENV/bin/python" -m pip install -q --disable-pip-version-check -r requirements.txt
  cp requirements.txt "$VENV/.requirements.installed"
fi

[ -d "$PROTO_ROOT/dataportal" ] || { echo "generate.sh: no $PROTO_ROOT/dataportal" >&2; exit 1; }
mapfile -t PROTOS < <(cd "$PROTO_ROOT" && find dataportal google/api -name '*.proto' -type f | LC_ALL=C sort)

stamp=$(
  {
    cat requirements.txt "$SELF"
    (cd "$PROTO_ROOT" && printf '%s\0' "${PROTOS[@]}" | xargs -0 sha256sum)
  } | sha256sum | cut -d' ' -f1
)
if [ -f "$OUT/.inputs.sha256" ] && [ "$(cat "$OUT/.inputs.sha256")" = "$stamp" ]; then
  echo "generate.sh: $OUT is up to date (${#PROTOS[@]} protos)"
  exit 0
fi

rm -rf "$OUT"
mkdir -p "$OUT"
echo "generate.sh: grpc_tools.protoc on ${#PROTOS[@]} protos: ${PROTOS[*]}"
# python -m grpc_tools.protoc adds its bundled google/protobuf/*.proto to the import path.
"$VENV/bin/python" -m grpc_tools.protoc -I "$PROTO_ROOT" \
  --python_out="$OUT" --pyi_out="$OUT" --grpc_python_out="$OUT" "${PROTOS[@]}"
# No __init__.py files: dataportal and google stay namespace packages, so gen/google/api
# and the venv's google.protobuf / google.rpc are importable side by side.
echo "$stamp" > "$OUT/.inputs.sha256"
echo "generate.sh: wrote $(find "$OUT" -name '*.py' | wc -l) modules to $OUT"
