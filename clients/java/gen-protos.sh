#!/usr/bin/env bash
# Generates the Java message classes and gRPC stubs. Run by Maven (exec-maven-plugin,
# phase generate-sources); the pom passes every setting below as an environment variable.
# It can also be run by hand from clients/java: `bash gen-protos.sh`.
#
#   PROTOC            protoc binary (default: protoc, Debian protobuf-compiler 3.21.12)
#   GRPC_JAVA_PLUGIN  protoc-gen-grpc-java (default: /usr/bin/grpc_java_plugin, Debian 1.41.3)
#   PROTO_ROOT        the API's import root (default: ../../proto); every .proto under
#                     $PROTO_ROOT/dataportal is compiled, found with find, never listed by hand
#   GRPC_PROTO_DIR    root holding grpc/health/v1/health.proto (default: /usr/share/grpc-proto,
#                     Debian package grpc-proto)
#   OUT               output directory (default: target/generated-sources/protoc)
#   ERRORINFO_COMPAT  auto|true|false: also compile src/main/proto-compat (google.rpc.ErrorInfo).
#                     auto = only when COMMON_PROTOS_JAR lacks com/google/rpc/ErrorInfo.class
#   COMMON_PROTOS_JAR the proto-google-common-protos jar the build uses (for auto)
#   JAR_TOOL          the JDK's jar tool (for auto; default: jar)
#   PROTOBUF_JAVA_JAR the protobuf-java jar the build uses. Maven Central's has the well-known
#                     types' .proto files (google/protobuf/timestamp.proto, ...): they are
#                     extracted and put on the import path, for a protoc that has no include
#                     directory of its own (-Pcentral-protoc). Debian's jar has none; Debian's
#                     protoc finds them in /usr/include (package libprotobuf-dev).
#
# google/api/*.proto is only an import path: com.google.api.AnnotationsProto and HttpRule come
# from the proto-google-common-protos jar, so they are not generated here (no duplicate classes).
set -euo pipefail
cd "$(dirname "$0")"

PROTOC=${PROTOC:-protoc}
GRPC_JAVA_PLUGIN=${GRPC_JAVA_PLUGIN:-/usr/bin/grpc_java_plugin}
PROTO_ROOT=${PROTO_ROOT:-../../proto}
GRPC_PROTO_DIR=${GRPC_PROTO_DIR:-/usr/share/grpc-proto}
OUT=${OUT:-target/generated-sources/protoc}
ERRORINFO_COMPAT=${ERRORINFO_COMPAT:-auto}
COMMON_PROTOS_JAR=${COMMON_PROTOS_JAR:-}
JAR_TOOL=${JAR_TOOL:-jar}
PROTOBUF_JAVA_JAR=${PROTOBUF_JAVA_JAR:-}
COMPAT_ROOT=src/main/proto-compat
HEALTH=grpc/health/v1/health.proto

die() { echo "gen-protos.sh: $*" >&2; exit 1; }
# Binaries fetched by -Pcentral-protoc arrive without the executable bit.
for b in "$PROTOC" "$GRPC_JAVA_PLUGIN"; do
  if [ -f "$b" ] && [ ! -x "$b" ]; then chmod +x "$b"; fi
done
command -v "$PROTOC" >/dev/null || die "protoc not found ('$PROTOC'); apt-get install protobuf-compiler, or -Dprotoc=/path/to/protoc"
[ -x "$GRPC_JAVA_PLUGIN" ] || command -v "$GRPC_JAVA_PLUGIN" >/dev/null \
  || die "grpc-java plugin not found ('$GRPC_JAVA_PLUGIN'); apt-get install protobuf-compiler-grpc-java-plugin, or -Dgrpc.java.plugin=/path"
[ -d "$PROTO_ROOT/dataportal" ] || die "no $PROTO_ROOT/dataportal (set -Dproto.root=...)"
[ -f "$GRPC_PROTO_DIR/$HEALTH" ] || die "no $GRPC_PROTO_DIR/$HEALTH; apt-get install grpc-proto, or -Dgrpc.proto.dir=<a grpc-proto checkout>"

# Every API proto, found afresh on each build (new services are picked up automatically).
mapfile -t API_PROTOS < <(cd "$PROTO_ROOT" && find dataportal -name '*.proto' -type f | LC_ALL=C sort)
[ "${#API_PROTOS[@]}" -gt 0 ] || die "no .proto files under $PROTO_ROOT/dataportal"

case "$ERRORINFO_COMPAT" in
  true|false) compat=$ERRORINFO_COMPAT ;;
  auto)
    if [ -n "$COMMON_PROTOS_JAR" ] && [ -f "$COMMON_PROTOS_JAR" ] \
       && "$JAR_TOOL" tf "$COMMON_PROTOS_JAR" | grep -x 'com/google/rpc/ErrorInfo.class' >/dev/null; then
      compat=false
    else
      compat=true
    fi ;;
  *) die "ERRORINFO_COMPAT must be auto, true or false, not '$ERRORINFO_COMPAT'" ;;
esac

# Skip the work when nothing that goes into the output changed (keeps a second build fast and
# lets the compiler plugin see unchanged sources).
stamp_file="$OUT/.inputs.sha256"
stamp=$(
  {
    printf '%s\n' "$PROTOC" "$GRPC_JAVA_PLUGIN" "$compat" "$(basename "${PROTOBUF_JAVA_JAR:-none}")"
    "$PROTOC" --version
    (cd "$PROTO_ROOT" && LC_ALL=C find . -name '*.proto' -type f -print0 | LC_ALL=C sort -z | xargs -0 sha256sum)
    sha256sum <"$GRPC_PROTO_DIR/$HEALTH"
    sha256sum <"${BASH_SOURCE[0]}"
    if [ "$compat" = true ]; then find "$COMPAT_ROOT" -name '*.proto' -print0 | LC_ALL=C sort -z | xargs -0 sha256sum; fi
  } | sha256sum | cut -d' ' -f1
)
if [ -f "$stamp_file" ] && [ "$(cat "$stamp_file")" = "$stamp" ]; then
  echo "gen-protos.sh: generated sources are up to date (${#API_PROTOS[@]} API protos)"
  exit 0
fi

rm -rf "$OUT"
mkdir -p "$OUT"

# The well-known types from the protobuf-java jar, when it has them (see PROTOBUF_JAVA_JAR).
WKT_INCLUDE=()
if [ -n "$PROTOBUF_JAVA_JAR" ] && [ -f "$PROTOBUF_JAVA_JAR" ] \
   && "$JAR_TOOL" tf "$PROTOBUF_JAVA_JAR" | grep -x 'google/protobuf/timestamp.proto' >/dev/null; then
  wkt_dir="$(dirname "$OUT")/protobuf-wkt"
  rm -rf "$wkt_dir"
  mkdir -p "$wkt_dir"
  jar_abs=$(cd "$(dirname "$PROTOBUF_JAVA_JAR")" && pwd)/$(basename "$PROTOBUF_JAVA_JAR")
  mapfile -t wkt_files < <("$JAR_TOOL" tf "$jar_abs" | grep '^google/protobuf/.*\.proto$')
  (cd "$wkt_dir" && "$JAR_TOOL" xf "$jar_abs" "${wkt_files[@]}")
  WKT_INCLUDE=(-I "$wkt_dir")
  echo "gen-protos.sh: well-known types from $(basename "$PROTOBUF_JAVA_JAR")"
fi
GRPC_OUT=(--plugin=protoc-gen-grpc-java="$(command -v "$GRPC_JAVA_PLUGIN")" --grpc-java_out="$OUT")

echo "gen-protos.sh: $PROTOC ($("$PROTOC" --version)) on ${#API_PROTOS[@]} protos: ${API_PROTOS[*]}"
"$PROTOC" -I "$PROTO_ROOT" "${WKT_INCLUDE[@]}" --java_out="$OUT" "${GRPC_OUT[@]}" "${API_PROTOS[@]}"

echo "gen-protos.sh: health stubs from $GRPC_PROTO_DIR/$HEALTH"
"$PROTOC" -I "$GRPC_PROTO_DIR" --java_out="$OUT" "${GRPC_OUT[@]}" "$HEALTH"

if [ "$compat" = true ]; then
  echo "gen-protos.sh: google.rpc.ErrorInfo from $COMPAT_ROOT (the common-protos jar has no ErrorInfo)"
  mapfile -t COMPAT_PROTOS < <(cd "$COMPAT_ROOT" && find . -name '*.proto' -type f | sed 's|^\./||' | LC_ALL=C sort)
  "$PROTOC" -I "$COMPAT_ROOT" "${WKT_INCLUDE[@]}" --java_out="$OUT" "${COMPAT_PROTOS[@]}"
fi

echo "$stamp" > "$stamp_file"
echo "gen-protos.sh: wrote $(find "$OUT" -name '*.java' | wc -l) Java files to $OUT"
