# shellcheck shell=bash
# Shared code for tests/infra/up and tests/infra/down. Not meant to be run directly.
#
# Everything lives under $CAAS_INFRA_HOME (default ~/.cache/caas-infra):
#   bin/                      go-built binaries (ferretdb, versitygw, grpcurl)
#   kafka-<v>/lib/            Kafka jars (kafka_2.13 + runtime deps from Maven Central)
#   apicurio-registry-<v>/    Apicurio Registry Quarkus app (Maven Central "all" tar.gz)
#   elasticsearch-<v>/        Elasticsearch integ-test-zip (Maven Central)
#   install-logs/             output of the install steps
#   run/<server>/             data, config, logs and pid file of each server
#   env                       sourceable `export VAR=value` lines written by `up`

set -euo pipefail

CAAS_INFRA_HOME="${CAAS_INFRA_HOME:-${HOME:-/root}/.cache/caas-infra}"
H="$CAAS_INFRA_HOME"
RUN="$H/run"
BIN="$H/bin"
ILOG="$H/install-logs"

# ---- versions: tests/infra/versions.env (the servers' overridable with env vars) ------------
# shellcheck source=versions.env
source "$(dirname "${BASH_SOURCE[0]}")/versions.env"
KAFKA_VERSION="${CAAS_KAFKA_VERSION:-$KAFKA_VERSION}"
APICURIO_VERSION="${CAAS_APICURIO_VERSION:-$APICURIO_VERSION}"
ES_VERSION="${CAAS_ES_VERSION:-$ES_VERSION}"
FERRETDB_VERSION="${CAAS_FERRETDB_VERSION:-$FERRETDB_VERSION}"
VERSITYGW_VERSION="${CAAS_VERSITYGW_VERSION:-$VERSITYGW_VERSION}"
GRPCURL_VERSION="${CAAS_GRPCURL_VERSION:-$GRPCURL_VERSION}"

# ---- ports / credentials --------------------------------------------------------------------
# Kafka's ports (node i of a 3-broker cluster: these + 10*(i-1)); overridable to run a second
# Kafka beside the shared one (another CAAS_INFRA_HOME, other ports).
KAFKA_PORT="${CAAS_INFRA_KAFKA_PORT:-19092}"
KAFKA_CONTROLLER_PORT="${CAAS_INFRA_KAFKA_CONTROLLER_PORT:-19093}"
# 1 (default): one KRaft node, replication factor 1. 3: three combined broker+controller nodes,
# replication factor 3 and min.insync.replicas 2, as docker-compose.yml runs them.
KAFKA_NODES="${CAAS_KAFKA_BROKERS_COUNT:-1}"
[[ "$KAFKA_NODES" == 1 || "$KAFKA_NODES" == 3 ]] || { printf '[caas-infra] ERROR: CAAS_KAFKA_BROKERS_COUNT=%s: 1 or 3\n' "$KAFKA_NODES" >&2; exit 1; }
SR_PORT=18081
SR_MGMT_PORT=18082
# FerretDB and its PostgreSQL: overridable like Kafka's, to run a second pair beside the shared one.
FERRET_PORT="${CAAS_INFRA_FERRET_PORT:-27018}"
FERRET_DEBUG_PORT="${CAAS_INFRA_FERRET_DEBUG_PORT:-18088}"
PG_PORT="${CAAS_INFRA_PG_PORT:-15432}"
PG_MAJOR="${CAAS_PG_MAJOR:-$PG_MAJOR}"
PG_BIN="/usr/lib/postgresql/$PG_MAJOR/bin"
REDIS_PORT=16379
ES_HTTP_PORT=19200
ES_TRANSPORT_PORT=19300
S3_PORT=17070
S3_ACCESS_KEY="${CAAS_S3_ACCESS_KEY:-caasaccess}"
S3_SECRET_KEY="${CAAS_S3_SECRET_KEY:-caassecret12345}"
ES_USER=caas-es

# postgres before ferretdb: FerretDB stores its data in it (and `up ferretdb` starts it too).
ALL_SERVERS=(kafka schema-registry postgres ferretdb redis elasticsearch versitygw grpcurl)

log() { printf '[caas-infra] %s\n' "$*" >&2; }
die() { printf '[caas-infra] ERROR: %s\n' "$*" >&2; exit 1; }
now() { date +%s.%N; }
since() { awk -v a="$1" -v b="$(now)" 'BEGIN{printf "%.1f", b-a}'; }

# Canonical server name (accepts a few aliases).
canon() {
  case "$1" in
    kafka) echo kafka ;;
    schema-registry|schemaregistry|sr|apicurio) echo schema-registry ;;
    ferretdb|ferret|mongo|mongodb) echo ferretdb ;;
    postgres|postgresql|pg) echo postgres ;;
    redis) echo redis ;;
    elasticsearch|es|elastic) echo elasticsearch ;;
    versitygw|s3|minio) echo versitygw ;;
    grpcurl) echo grpcurl ;;
    *) return 1 ;;
  esac
}

# fn name for a server: schema-registry -> schema_registry
fn() { echo "${1//-/_}"; }

port_open() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }

pidfile() { echo "$RUN/$1/pid"; }

# Marker that must appear in /proc/<pid>/cmdline for the pid to be considered ours
# (protects against a stale pid file whose pid was reused by something else).
marker() {
  echo "$RUN/$1"
  # redis rewrites its process title to "redis-server 127.0.0.1:16379"
  [[ "$1" != redis ]] || echo "127.0.0.1:$REDIS_PORT"
}

# pid_alive <pid>: running and not a zombie (orphans may wait a while for PID 1 to reap them).
pid_alive() {
  local st
  st="$(sed 's/.*) //' "/proc/$1/stat" 2>/dev/null | cut -d' ' -f1)" || return 1
  [[ -n "$st" && "$st" != Z && "$st" != X ]]
}

# Prints the pid if the server's pid file points at a live process of ours.
live_pid() {
  local s="$1" pf pid
  pf="$(pidfile "$s")"
  [[ -s "$pf" ]] || return 1
  pid="$(tr -dc '0-9' < "$pf")"
  [[ -n "$pid" ]] && pid_alive "$pid" || return 1
  tr '\0' ' ' < "/proc/$pid/cmdline" | grep -qF -f <(marker "$s") || return 1
  echo "$pid"
}

# spawn <server> <logfile> cmd... : start cmd in its own session, pid written by the child itself.
spawn() {
  local s="$1" logf="$2"; shift 2
  local pf; pf="$(pidfile "$s")"
  rm -f "$pf"
  # 9>&-: do not hand the lock fd of up/down to the server (it would hold the lock forever)
  setsid bash -c 'echo $$ > "$0"; exec "$@"' "$pf" "$@" </dev/null >>"$logf" 2>&1 9>&- &
  LAUNCHER_PID=$!
}

rotate_log() { [[ -f "$1" ]] && mv -f "$1" "$1.1"; return 0; }

# grant_traverse <user> <path>: lets a service user reach <path> when an ancestor (typically
# /root, mode 700) blocks it, by granting only that user search (x) permission with a POSIX ACL.
grant_traverse() {
  local u="$1" d="$2"
  local dirs=()
  while [[ "$d" != / ]]; do dirs=("$d" "${dirs[@]}"); d="$(dirname "$d")"; done
  for d in "${dirs[@]}"; do
    [[ -d "$d" ]] || continue
    if ! runuser -u "$u" -- test -x "$d" 2>/dev/null; then
      if ! command -v setfacl >/dev/null; then
        log "installing the 'acl' package (setfacl) so that $u can traverse $d"
        apt_install acl
      fi
      log "granting $u search permission on $d (setfacl -m u:$u:x)"
      setfacl -m "u:$u:x" "$d" || die "setfacl on $d failed; set CAAS_INFRA_HOME to a directory $u can reach"
    fi
  done
}

# apt_install <pkg>...: apt-get install, running `apt-get update` first if the lists are stale.
apt_install() {
  local logf="$ILOG/apt.log"
  export DEBIAN_FRONTEND=noninteractive
  apt-get install -y --no-install-recommends "$@" >>"$logf" 2>&1 && return 0
  apt-get update >>"$logf" 2>&1 || true
  apt-get install -y --no-install-recommends "$@" >>"$logf" 2>&1 && return 0
  tail -n 20 "$logf" >&2
  die "apt-get install $* failed (log: $logf)"
}

mvn_q() { mvn -B -q -Dstyle.color=never "$@"; }

# Throwaway pom for Maven downloads.
write_pom() {
  local dir="$1" deps="$2"
  mkdir -p "$dir"
  cat > "$dir/pom.xml" <<EOF
<project xmlns="http://maven.apache.org/POM/4.0.0">
  <modelVersion>4.0.0</modelVersion>
  <groupId>caas.infra</groupId><artifactId>fetch</artifactId><version>1</version>
  <packaging>pom</packaging>
  <dependencies>
$deps
  </dependencies>
</project>
EOF
}

# fetch_artifact <G:A:V:type[:classifier]> <outdir> <logfile>
fetch_artifact() {
  local art="$1" out="$2" logf="$3" tmp
  tmp="$(mktemp -d)"
  write_pom "$tmp" ""
  mkdir -p "$out"
  if ! (cd "$tmp" && mvn_q "$MVN_DEP_PLUGIN:copy" -Dartifact="$art" -DoutputDirectory="$out" -Dmdep.overWriteReleases=true) >>"$logf" 2>&1; then
    rm -rf "$tmp"; tail -n 20 "$logf" >&2; die "could not fetch $art from Maven Central (log: $logf)"
  fi
  rm -rf "$tmp"
}

java21_home() {
  local cand
  for cand in "${CAAS_JAVA21_HOME:-}" /usr/lib/jvm/temurin-25-jdk-amd64 /usr/lib/jvm/*; do
    [[ -n "$cand" && -x "$cand/bin/java" && -f "$cand/release" ]] || continue
    local v; v="$(sed -n 's/^JAVA_VERSION="\([0-9]*\).*/\1/p' "$cand/release")"
    if [[ -n "$v" && "$v" -ge 21 ]]; then echo "$cand"; return 0; fi
  done
  return 1
}
