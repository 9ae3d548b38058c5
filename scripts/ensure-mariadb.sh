#!/usr/bin/env bash
# Makes sure a MariaDB server answers on 127.0.0.1:3306 with root and an empty password over TCP,
# as the integration tests expect (TEST_MYSQL_URL overrides the server). Installs and starts it
# on a fresh Debian machine; does nothing when it already answers.
set -euo pipefail

url="${TEST_MYSQL_URL:-mysql://root@127.0.0.1:3306}"
if [ "$url" != "mysql://root@127.0.0.1:3306" ]; then
  echo "ensure-mariadb: using TEST_MYSQL_URL as given"
  exit 0
fi

answers() { mariadb --protocol=TCP -h 127.0.0.1 -P 3306 -uroot -e 'SELECT 1' >/dev/null 2>&1; }
socket_auth() { mariadb -uroot -N -e "SHOW CREATE USER 'root'@'localhost'" 2>/dev/null | grep -q unix_socket; }

if answers && ! socket_auth; then
  exit 0
fi
if ! command -v mariadbd >/dev/null 2>&1 && [ ! -x /usr/sbin/mariadbd ]; then
  echo "ensure-mariadb: installing mariadb-server"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq mariadb-server >/dev/null
fi
if ! mariadb-admin ping >/dev/null 2>&1; then
  echo "ensure-mariadb: starting mariadbd"
  mkdir -p /run/mysqld && chown mysql:mysql /run/mysqld
  start-stop-daemon --start --oknodo --background --pidfile /run/mysqld/mysqld.pid \
    --exec /usr/sbin/mariadbd -- --user=mysql
  for _ in $(seq 1 60); do mariadb-admin ping >/dev/null 2>&1 && break; sleep 1; done
fi
# A fresh install lets root in only through the socket; the tests connect over TCP. Root gets
# the empty password with mysql_native_password alone: with `unix_socket OR …`, a TCP login goes
# through an authentication switch that some clients (sqlx among them) answer wrongly.
if ! answers || socket_auth; then
  mariadb -uroot -e "ALTER USER 'root'@'localhost' IDENTIFIED VIA mysql_native_password USING PASSWORD('')"
fi
answers || { echo "ensure-mariadb: MariaDB does not answer on 127.0.0.1:3306" >&2; exit 1; }
