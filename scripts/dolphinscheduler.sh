#!/usr/bin/env bash
# Runs a real Apache DolphinScheduler standalone server (API + master + worker + alert server and an
# embedded ZooKeeper, in one JVM) on this machine for end-to-end tests, resolved from Maven Central.
#
#   scripts/dolphinscheduler.sh fetch [VERSION]
#       Resolves dolphinscheduler-standalone-server VERSION (default 3.1.1) and its whole
#       dependency closure, plus com.mysql:mysql-connector-j, into a private Maven repository under
#       ${XDG_CACHE_HOME:-$HOME/.cache}/dataportal/dolphinscheduler/VERSION/, and extracts the
#       configuration files and SQL schema that the binary jars leave out from the -sources jars.
#       Prints the cache directory. Once complete (marker file .complete), it downloads nothing.
#
#   scripts/dolphinscheduler.sh start [VERSION] [--dir DIR] [--db-suffix SUFFIX]
#       Fetches if needed, then starts the server on free ports with its metadata in a fresh MariaDB
#       database ds_<VERSION with underscores>_<SUFFIX> (random SUFFIX unless given), loaded with the
#       release's sql/dolphinscheduler_mysql.sql. DIR (default: a new temporary directory) becomes
#       the state directory: logs/, the task data, and an `env` file with
#           DS_URL=http://127.0.0.1:<port>/dolphinscheduler
#           DS_VERSION=<major.minor, e.g. 3.1>
#           DS_PID=<the JVM's pid>
#           DS_LOG=<the server's log file>
#           DS_DATABASE=<database name>
#       which are also printed on stdout once the API accepts the default admin login
#       (admin / dolphinscheduler123) and a master and a worker are registered.
#       Given a DIR that an earlier start left, it starts the same server again: same ports, same
#       database (not reloaded), same time zone.
#
#   scripts/dolphinscheduler.sh stop --dir DIR [--purge]
#       Stops it: SIGTERM, then SIGKILL after 30 s, then whatever task processes it left behind.
#       --purge also drops the database and removes DIR.
#
# Environment:
#   TEST_MYSQL_URL           MySQL/MariaDB server, mysql://user[:password]@host:port
#                            (default mysql://root@127.0.0.1:3306, started by ensure-mariadb.sh)
#   SPRING_JACKSON_TIME_ZONE the JVM's and the API's time zone, as in DolphinScheduler's own start
#                            scripts (default UTC); recorded in DIR at the first start
#   DS_START_TIMEOUT         seconds to wait for readiness (default 240)
#   DS_JAVA_OPTS             extra JVM options (e.g. a bigger -Xmx)
#
# Only 3.1.1 works: it is the only release with a complete standalone server on Maven Central (and
# even it misses two parent poms, see scripts/dolphinscheduler/stand-in-poms/). Tenants: tasks run
# as the user running this script, so a tenant's code must be that user's name (`id -un`).
set -euo pipefail

here="$(cd "$(dirname "$0")" && pwd)"
assets="$here/dolphinscheduler"
default_version=3.1.1
mysql_driver_version=8.0.33
central=https://repo.maven.apache.org/maven2
cache_root="${XDG_CACHE_HOME:-$HOME/.cache}/dataportal/dolphinscheduler"

die() { echo "dolphinscheduler.sh: $*" >&2; exit 1; }
say() { echo "dolphinscheduler.sh: $*" >&2; }

usage() {
  sed -n '2,/^set -euo/p' "$0" | sed '$d; s/^# \{0,1\}//' >&2
  exit 2
}

# ---------------------------------------------------------------------------------------------
# fetch

# The pom of an org.apache.dolphinscheduler artifact on Maven Central.
ds_pom_url() { echo "$central/org/apache/dolphinscheduler/$1/$2/$1-$2.pom"; }

# Fails early, with the reason, for a release that Maven Central does not carry whole.
check_published() {
  local version=$1 code
  code=$(curl -s -o /dev/null -w '%{http_code}' "$(ds_pom_url dolphinscheduler-standalone-server "$version")") || code=000
  case $code in
    200) ;;
    404) die "Maven Central lacks org.apache.dolphinscheduler:dolphinscheduler-standalone-server:$version ($(ds_pom_url dolphinscheduler-standalone-server "$version") answers 404); 3.1.1 is the only release whose standalone server is published there" ;;
    *) die "could not reach Maven Central to check dolphinscheduler-standalone-server $version (HTTP $code)" ;;
  esac
}

mvn_ds() {
  # A private local repository: the cache is self-contained (its size is the download) and
  # deleting it deletes everything. -ntp keeps the download progress out of the logs.
  # Its output goes to stderr (fetch prints only the cache path), without the colour escapes that
  # Maven 3.8 emits even in batch mode.
  mvn -B -ntp -q -f "$assets/pom.xml" -Dmaven.repo.local="$1/m2" \
    -Dds.version="$2" -Dmysql.version="$mysql_driver_version" "${@:3}" 2>&1 \
    | sed $'s/\e\\[[0-9;]*m//g' >&2
}

# Java 17 and Maven come with this kind of machine; a bare Debian gets them from its packages.
ensure_java() {
  command -v java >/dev/null && command -v mvn >/dev/null && return
  say "installing a JDK and Maven"
  DEBIAN_FRONTEND=noninteractive apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq openjdk-17-jdk-headless maven >/dev/null
}

fetch() {
  local version=$1 cache="$cache_root/$1"
  ensure_java
  if [ -f "$cache/.complete" ]; then
    echo "$cache"
    return
  fi
  check_published "$version"
  # Parallel test runs may fetch at once: one resolves, the others wait for it.
  mkdir -p "$cache/m2"
  exec 9>"$cache/.lock"
  flock 9
  if [ -f "$cache/.complete" ]; then
    echo "$cache"
    return
  fi
  say "resolving DolphinScheduler $version from Maven Central into $cache"

  # The release names parent poms it never published (dolphinscheduler-registry-plugins,
  # dolphinscheduler-scheduler-plugin for 3.1.1); Maven cannot read the children's dependencies
  # without them. A pom placed in the local repository without a _remote.repositories file counts
  # as locally installed, so stand-ins written for this script fill the gaps - only where
  # Maven Central really lacks the pom.
  local standin name target
  for standin in "$assets"/stand-in-poms/*.pom; do
    name=$(basename "$standin" .pom)
    target="$cache/m2/org/apache/dolphinscheduler/$name/$version/$name-$version.pom"
    [ -f "$target" ] && continue
    if [ "$(curl -s -o /dev/null -w '%{http_code}' "$(ds_pom_url "$name" "$version")")" = 404 ]; then
      mkdir -p "$(dirname "$target")"
      sed "s/@DS_VERSION@/$version/g" "$standin" >"$target"
    fi
  done

  mvn_ds "$cache" "$version" dependency:build-classpath -Dmdep.outputFile="$cache/classpath.txt.tmp" \
    || die "Maven could not resolve DolphinScheduler $version (see above)"
  # The binary jars are built without their config files and SQL (excluded by the release's
  # maven-jar-plugin settings); the -sources jars carry them.
  rm -rf "$cache/sources"
  mvn_ds "$cache" "$version" dependency:copy-dependencies -Dclassifier=sources \
    -DincludeGroupIds=org.apache.dolphinscheduler \
    -DincludeArtifactIds=dolphinscheduler-standalone-server,dolphinscheduler-api,dolphinscheduler-dao,dolphinscheduler-common \
    -DoutputDirectory="$cache/sources" \
    || die "Maven could not fetch the -sources jars of DolphinScheduler $version"

  # conf/ goes first on the classpath. Its common.properties must win over the one that
  # aliyun-sdk-oss also ships at the root of its jar.
  local conf="$cache/conf" src="$cache/sources"
  rm -rf "$conf"
  mkdir -p "$conf/sql"
  unzip -p "$src/dolphinscheduler-standalone-server-$version-sources.jar" application.yaml >"$conf/application.yaml"
  unzip -p "$src/dolphinscheduler-standalone-server-$version-sources.jar" logback-spring.xml >"$conf/logback-spring.xml"
  # Read by the API's TaskTypeConfiguration (@PropertySource): it does not start without it.
  unzip -p "$src/dolphinscheduler-api-$version-sources.jar" task-type-config.yaml >"$conf/task-type-config.yaml"
  unzip -p "$src/dolphinscheduler-common-$version-sources.jar" common.properties >"$conf/common.properties"
  unzip -p "$src/dolphinscheduler-dao-$version-sources.jar" sql/dolphinscheduler_mysql.sql >"$conf/sql/dolphinscheduler_mysql.sql"
  unzip -p "$src/dolphinscheduler-dao-$version-sources.jar" sql/soft_version >"$conf/sql/soft_version"

  mv "$cache/classpath.txt.tmp" "$cache/classpath.txt"
  touch "$cache/.complete"
  say "fetched: $(du -sh "$cache" | cut -f1) in $cache"
  echo "$cache"
}

# ---------------------------------------------------------------------------------------------
# start / stop

free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'; }
# Whether a server could listen on PORT again. With SO_REUSEADDR, as Jetty and Netty set it, so
# that the TIME_WAIT connections a stopped server leaves do not count.
port_free() {
  python3 -c 'import socket, sys
s = socket.socket()
s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
s.bind(("0.0.0.0", int(sys.argv[1])))' "$1" 2>/dev/null
}

# TEST_MYSQL_URL (mysql://user[:password]@host:port), as ensure-mariadb.sh and the tests read it.
db_user="" db_password="" db_host="" db_port=""
parse_mysql_url() {
  eval "$(python3 - "${TEST_MYSQL_URL:-mysql://root@127.0.0.1:3306}" <<'EOF'
import shlex, sys, urllib.parse
u = urllib.parse.urlsplit(sys.argv[1])
for k, v in (("db_user", u.username or "root"), ("db_password", urllib.parse.unquote(u.password or "")),
             ("db_host", u.hostname or "127.0.0.1"), ("db_port", str(u.port or 3306))):
    print("%s=%s" % (k, shlex.quote(v)))
EOF
)"
}

# The mariadb client, with the password in its environment rather than on its command line.
sql() { MYSQL_PWD="$db_password" mariadb --protocol=TCP -h "$db_host" -P "$db_port" -u "$db_user" "$@"; }

# True when PID is the JVM started for state directory DIR (guards against a recycled pid).
is_our_jvm() {
  local pid=$1 dir=$2
  [ -n "$pid" ] && [ -r "/proc/$pid/cmdline" ] && tr '\0' '\n' <"/proc/$pid/cmdline" | grep -qxF -- "-Ddataportal.ds.dir=$dir"
}

# The server's log, and the JVM's own output: errors from before logging starts (bad JVM options,
# the embedded ZooKeeper) land only there. Long lines are cut: ZooKeeper logs the whole classpath.
print_log_tail() {
  local dir=$1
  echo "---- last 80 lines of $dir/logs/dolphinscheduler-standalone.log ----" >&2
  tail -n 80 "$dir/logs/dolphinscheduler-standalone.log" 2>/dev/null | cut -c1-1000 >&2 || true
  echo "---- last 20 lines of $dir/jvm.out ----" >&2
  tail -n 20 "$dir/jvm.out" 2>/dev/null | cut -c1-1000 >&2 || true
}

# Logs in as the default admin; prints the session id (empty when the API is not up yet).
login() {
  curl -s --max-time 5 -X POST "$1/login" --data 'userName=admin&userPassword=dolphinscheduler123' 2>/dev/null \
    | python3 -c 'import json, sys
try:
    print(json.load(sys.stdin)["data"]["sessionId"])
except Exception:
    pass' || true
}

# True when GET $1 (with session $2) lists at least one server.
registered() {
  curl -s --max-time 5 -H "sessionId: $2" "$1" 2>/dev/null \
    | python3 -c 'import json, sys
sys.exit(0 if json.load(sys.stdin).get("data") else 1)' 2>/dev/null
}

listens() { (: </dev/tcp/127.0.0.1/"$1") 2>/dev/null; }

start() {
  local version=$1 dir=$2 db_suffix=$3 fresh=0
  if [ -n "$dir" ] && [ -f "$dir/state" ]; then
    dir=$(cd "$dir" && pwd)
    # A restart: everything comes from the first start.
    local requested=$version
    # shellcheck disable=SC1091
    . "$dir/state"
    if [ -n "$requested" ] && [ "$requested" != "$version" ]; then
      die "$dir holds DolphinScheduler $version, not $requested"
    fi
    if [ -f "$dir/env" ]; then
      local old_pid
      old_pid=$(sed -n 's/^DS_PID=//p' "$dir/env")
      if is_our_jvm "$old_pid" "$dir"; then
        die "DolphinScheduler already runs for $dir (pid $old_pid); stop it first"
      fi
    fi
  else
    fresh=1
    version=${version:-$default_version}
    [[ $version =~ ^[0-9]+\.[0-9]+\.[0-9]+$ ]] || die "not a release version: $version"
    [[ $db_suffix =~ ^[A-Za-z0-9_]*$ ]] || die "the database suffix may hold letters, digits and _ only"
    db_suffix=${db_suffix:-$(python3 -c 'import secrets; print(secrets.token_hex(4))')}
    database="ds_${version//./_}_$db_suffix"
    api_port=$(free_port)
    master_port=$(free_port)
    worker_port=$(free_port)
    alert_port=$(free_port)
    time_zone=${SPRING_JACKSON_TIME_ZONE:-UTC}
  fi

  # Before anything is created: fails early for a release Maven Central lacks.
  local cache
  cache=$(fetch "$version")
  if [ -z "$dir" ]; then
    dir=$(mktemp -d "${TMPDIR:-/tmp}/dolphinscheduler.XXXXXX")
  fi
  mkdir -p "$dir"
  dir=$(cd "$dir" && pwd)

  "$here/ensure-mariadb.sh" >&2
  parse_mysql_url
  if [ "$fresh" = 1 ]; then
    # utf8mb4_bin only matters for case-sensitive names; DolphinScheduler's own docs create the
    # database with utf8 / utf8_general_ci.
    sql -e "CREATE DATABASE \`$database\` DEFAULT CHARACTER SET utf8mb4 COLLATE utf8mb4_general_ci" \
      || die "could not create database $database"
    sql "$database" <"$cache/conf/sql/dolphinscheduler_mysql.sql" || die "could not load the schema into $database"
    cat >"$dir/state" <<EOF
version=$version
database=$database
api_port=$api_port
master_port=$master_port
worker_port=$worker_port
alert_port=$alert_port
time_zone=$time_zone
EOF
  else
    sql -e "USE \`$database\`" 2>/dev/null || die "database $database of $dir is gone"
    local port
    for port in "$api_port" "$master_port" "$worker_port" "$alert_port"; do
      port_free "$port" || die "port $port of $dir is taken by another process"
    done
  fi

  # tmp/ holds only what the last run left (a SIGKILL leaves ZooKeeper's data there).
  rm -rf "$dir/tmp"
  mkdir -p "$dir/conf" "$dir/logs" "$dir/data" "$dir/tmp"
  sed -e "s/@API_PORT@/$api_port/g" -e "s/@MASTER_PORT@/$master_port/g" \
    -e "s/@WORKER_PORT@/$worker_port/g" -e "s/@ALERT_PORT@/$alert_port/g" \
    -e "s/@DB_HOST@/$db_host/g" -e "s/@DB_PORT@/$db_port/g" -e "s/@DB_NAME@/$database/g" \
    -e "s#@TIME_ZONE@#$time_zone#g" \
    "$assets/application-e2e.yaml" >"$dir/conf/application-e2e.yaml"

  local java_opts=(
    # Measured: ~140 MB of heap in use after a few workflows, RSS ~330 MB when ready and ~420 MB
    # after five workflows, against ~550 and ~700 MB with G1, C2 and -Xmx1g. C1 alone (tiered level
    # 1) also starts faster on two cores; peak speed does not matter here.
    -server -Xms128m -Xmx768m -XX:+UseSerialGC -XX:TieredStopAtLevel=1 -XX:ReservedCodeCacheSize=64m
    # Java 17 closes the JDK's internals that 3.1 (built for 8/11) reaches into:
    # AbstractCommandExecutor reads ProcessImpl.pid by reflection; without this every task's
    # pid is 0 (it could never be killed) and its output never reaches the task log.
    --add-opens java.base/java.lang=ALL-UNNAMED
    # MyBatis-Plus's ReflectLambdaMeta reads SerializedLambda.capturingClass.
    --add-opens java.base/java.lang.invoke=ALL-UNNAMED
    # As DolphinScheduler's start scripts do. This zone is the one that matters: the API prints
    # dates in it (3.1.1 ignores spring.jackson.time-zone there), and the database's DATETIME
    # columns hold wall-clock times in it - hence the same zone on every restart.
    "-Duser.timezone=$time_zone"
    # ZooKeeper's data directory (Curator's TestingServer) and Jetty's scratch files stay in DIR.
    "-Djava.io.tmpdir=$dir/tmp"
    # PropertyUtils lets system properties override common.properties: run tasks as this user
    # (no `sudo -u <tenant>`), and keep their working directories in DIR.
    -Dsudo.enable=false
    "-Ddata.basedir.path=$dir/data"
    # Marks the process as this state directory's, for stop.
    "-Ddataportal.ds.dir=$dir"
  )
  # shellcheck disable=SC2206
  java_opts+=(${DS_JAVA_OPTS:-})

  # The log goes to logs/ relative to the working directory (logback-spring.xml's log.base), and so
  # do the task logs that GET /log/detail reads. setsid makes the JVM lead its own process group,
  # so that stop can also end the task processes it started. The JVM is not a job of this shell:
  # its pid is that of setsid, which execs java.
  (
    cd "$dir"
    SPRING_DATASOURCE_USERNAME="$db_user" SPRING_DATASOURCE_PASSWORD="$db_password" \
      exec setsid java "${java_opts[@]}" -cp "$cache/conf:$(cat "$cache/classpath.txt")" \
      org.apache.dolphinscheduler.StandaloneServer \
      "--spring.config.additional-location=file:$dir/conf/application-e2e.yaml" \
      </dev/null >"$dir/jvm.out" 2>&1
  ) &
  local pid=$! started=$SECONDS
  local url="http://127.0.0.1:$api_port/dolphinscheduler"
  local timeout=${DS_START_TIMEOUT:-240}
  {
    echo "DS_URL=$url"
    echo "DS_VERSION=${version%.*}"
    echo "DS_PID=$pid"
    echo "DS_LOG=$dir/logs/dolphinscheduler-standalone.log"
    echo "DS_DATABASE=$database"
  } >"$dir/env"

  # Ready: the admin can log in (so the API and its database work), a master and a worker are
  # registered in ZooKeeper (GET /monitor/masters and /monitor/workers list them), and the alert
  # server, started last (on ApplicationReadyEvent), listens.
  local session=""
  while :; do
    if ! kill -0 "$pid" 2>/dev/null; then
      print_log_tail "$dir"
      die "DolphinScheduler exited during startup (state in $dir)"
    fi
    if [ $((SECONDS - started)) -ge "$timeout" ]; then
      print_log_tail "$dir"
      stop "$dir" >/dev/null 2>&1 || true
      die "DolphinScheduler was not ready after ${timeout}s (state in $dir)"
    fi
    [ -n "$session" ] || session=$(login "$url")
    if [ -n "$session" ] && registered "$url/monitor/masters" "$session" \
      && registered "$url/monitor/workers" "$session" && listens "$alert_port"; then
      break
    fi
    sleep 1
  done
  say "ready after $((SECONDS - started))s (state in $dir)"
  cat "$dir/env"
}

stop() {
  local dir=$1 purge=${2:-0}
  [ -d "$dir" ] || die "no state directory $dir"
  dir=$(cd "$dir" && pwd)
  local pid=""
  [ -f "$dir/env" ] && pid=$(sed -n 's/^DS_PID=//p' "$dir/env")
  if is_our_jvm "$pid" "$dir"; then
    # SIGTERM lets Spring close the servers and unregister them, and the TestingServer remove its
    # data; a stuck JVM gets SIGKILL after 30 s.
    kill -TERM "$pid" 2>/dev/null || true
    local waited=0
    while kill -0 "$pid" 2>/dev/null && [ $waited -lt 300 ]; do
      sleep 0.1
      waited=$((waited + 1))
    done
    if kill -0 "$pid" 2>/dev/null; then
      say "no exit 30 s after SIGTERM; sending SIGKILL to $pid"
      kill -KILL "$pid" 2>/dev/null || true
      while kill -0 "$pid" 2>/dev/null; do sleep 0.1; done
    fi
  fi
  # Task processes (shell scripts...) can outlive the JVM in its process group; end them too, once
  # one of them shows it belongs to DIR (their command files live in DIR/data).
  local member
  if [ -n "$pid" ]; then
    for member in $(pgrep -g "$pid" || true); do
      if tr '\0' ' ' <"/proc/$member/cmdline" 2>/dev/null | grep -qF -- "$dir/"; then
        kill -KILL -- "-$pid" 2>/dev/null || true
        break
      fi
    done
  fi
  if [ "$purge" = 1 ]; then
    if [ -f "$dir/state" ]; then
      local database
      database=$(sed -n 's/^database=//p' "$dir/state")
      parse_mysql_url
      sql -e "DROP DATABASE IF EXISTS \`$database\`" || say "could not drop database $database"
    fi
    rm -rf "$dir"
  fi
}

# ---------------------------------------------------------------------------------------------

command=${1:-}
[ $# -gt 0 ] && shift
version="" dir="" db_suffix="" purge=0
while [ $# -gt 0 ]; do
  case $1 in
    --dir) [ $# -ge 2 ] || usage; dir=$2; shift 2 ;;
    --dir=*) dir=${1#--dir=}; shift ;;
    --db-suffix) [ $# -ge 2 ] || usage; db_suffix=$2; shift 2 ;;
    --purge) purge=1; shift ;;
    -h | --help) usage ;;
    -*) die "unknown option $1" ;;
    *) [ -z "$version" ] || usage; version=$1; shift ;;
  esac
done

case $command in
  fetch) fetch "${version:-$default_version}" ;;
  start) start "$version" "$dir" "$db_suffix" ;;
  stop) [ -n "$dir" ] || die "stop needs --dir DIR"; stop "$dir" "$purge" ;;
  *) usage ;;
esac
