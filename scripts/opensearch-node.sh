#!/usr/bin/env bash
# A single local OpenSearch node for the integration tests.
#
#   scripts/opensearch-node.sh fetch          download (Maven) and unpack the distribution and plugins, once
#   scripts/opensearch-node.sh start STATE    start a node on 127.0.0.1, a free port; prints OPENSEARCH_URL=...
#   scripts/opensearch-node.sh stop STATE     stop the node started with that STATE directory and remove it
#
# Artifacts come from Maven Central: the integ-test distribution (core server and transport modules only: no
# painless, analysis-common or mapper-extras), the ingest-common module (the `set` processor of the audit indices'
# final pipeline; Maven has its jars, not the module, so it is assembled here with its grok and dissect libraries),
# job-scheduler and index-management (ISM). Downloads and the unpacked
# node are cached in .cache/opensearch (override with OPENSEARCH_CACHE_DIR). When index-management cannot be had,
# the node starts without it and the ISM tests say why they skip.
#
# Needs Java 17+ (OPENSEARCH_JAVA_HOME, JAVA_HOME, or the system's JDK 17) and Maven (`mvn`).
# With OPENSEARCH_URL set, `start` starts nothing and prints that URL: the tests use that node (Docker, a cluster).
set -euo pipefail

# 2.19.4: the newest 2.19 whose integ-test distribution AND job-scheduler plugin are both on Maven Central
# (integ-test-zip 2.19.5 exists, job-scheduler 2.19.5.0 does not; a plugin must match the core version exactly).
OPENSEARCH_VERSION="${OPENSEARCH_VERSION:-2.19.4}"
PLUGIN_VERSION="${OPENSEARCH_VERSION}.0"
DEPENDENCY_PLUGIN="org.apache.maven.plugins:maven-dependency-plugin:3.6.1"
ROOT="$(cd "$(dirname "$0")/.." && pwd)"
CACHE="${OPENSEARCH_CACHE_DIR:-$ROOT/.cache/opensearch}"
DOWNLOADS="$CACHE/downloads"
HOME_DIR="$CACHE/opensearch-$OPENSEARCH_VERSION"
HEAP="${OPENSEARCH_HEAP:-768m}"

die() {
  echo "opensearch-node: $*" >&2
  exit 1
}

find_java_home() {
  local candidate
  for candidate in "${OPENSEARCH_JAVA_HOME:-}" "${JAVA_HOME:-}" /usr/lib/jvm/java-17-openjdk-* /usr/lib/jvm/java-1.17.0-openjdk-*; do
    if [ -n "$candidate" ] && [ -x "$candidate/bin/java" ]; then
      local major
      major="$("$candidate/bin/java" -version 2>&1 | sed -n 's/.*version "\([0-9]*\).*/\1/p' | head -1)"
      if [ -n "$major" ] && [ "$major" -ge 17 ] && [ "$major" -le 23 ]; then
        echo "$candidate"
        return 0
      fi
    fi
  done
  if command -v java >/dev/null 2>&1; then
    local java_bin
    java_bin="$(readlink -f "$(command -v java)")"
    echo "$(dirname "$(dirname "$java_bin")")"
    return 0
  fi
  return 1
}

maven_copy() { # groupId:artifactId:version:zip file-name [extra mvn arguments]
  local artifact="$1" name="$2"
  shift 2
  if [ -s "$DOWNLOADS/$name" ]; then return 0; fi
  mkdir -p "$DOWNLOADS"
  local log="$DOWNLOADS/$name.log"
  if mvn -B -q -Dstyle.color=never "$@" "$DEPENDENCY_PLUGIN:copy" -Dartifact="$artifact" -DoutputDirectory="$DOWNLOADS" \
    -Dmdep.overWriteReleases=false >"$log" 2>&1; then
    rm -f "$log"
    return 0
  fi
  return 1
}

fetch() {
  command -v mvn >/dev/null 2>&1 || die "Maven (mvn) is needed to fetch OpenSearch: install it (apt-get install maven) or point OPENSEARCH_URL at a running node"
  maven_copy "org.opensearch.distribution.integ-test-zip:opensearch:$OPENSEARCH_VERSION:zip" "opensearch-$OPENSEARCH_VERSION.zip" \
    || die "could not fetch org.opensearch.distribution.integ-test-zip:opensearch:$OPENSEARCH_VERSION:zip: $(grep -m1 ERROR "$DOWNLOADS/opensearch-$OPENSEARCH_VERSION.zip.log" || true)"
  maven_copy "org.opensearch.plugin:opensearch-job-scheduler:$PLUGIN_VERSION:zip" "opensearch-job-scheduler-$PLUGIN_VERSION.zip" \
    || die "could not fetch org.opensearch.plugin:opensearch-job-scheduler:$PLUGIN_VERSION:zip: $(grep -m1 ERROR "$DOWNLOADS/opensearch-job-scheduler-$PLUGIN_VERSION.zip.log" || true)"
  local ism_note="$CACHE/index-management.unavailable"
  # -U: ask Central again each run (a cached "not found" would hide a later release and the real error).
  if maven_copy "org.opensearch.plugin:opensearch-index-management:$PLUGIN_VERSION:zip" \
    "opensearch-index-management-$PLUGIN_VERSION.zip" -U; then
    rm -f "$ism_note"
  else
    sed 's/\x1b\[[0-9;]*m//g' "$DOWNLOADS/opensearch-index-management-$PLUGIN_VERSION.zip.log" | grep -m1 "ERROR" >"$ism_note" \
      || echo "unknown Maven error" >"$ism_note"
    echo "opensearch-node: index-management $PLUGIN_VERSION is not available from Maven, the node runs without ISM: $(cat "$ism_note")" >&2
  fi

  if [ ! -x "$HOME_DIR/bin/opensearch" ]; then
    local unpack="$CACHE/unpack.$$"
    rm -rf "$unpack" && mkdir -p "$unpack"
    unzip -q "$DOWNLOADS/opensearch-$OPENSEARCH_VERSION.zip" -d "$unpack"
    rm -rf "$HOME_DIR"
    mv "$unpack/opensearch-$OPENSEARCH_VERSION" "$HOME_DIR"
    rm -rf "$unpack"
  fi
  local java_home
  java_home="$(find_java_home)" || die "Java 17 is needed to run OpenSearch: install it (apt-get install openjdk-17-jdk-headless) or point OPENSEARCH_URL at a running node"
  install_ingest_common
  install_plugin "$java_home" opensearch-job-scheduler
  if [ -s "$DOWNLOADS/opensearch-index-management-$PLUGIN_VERSION.zip" ]; then
    install_plugin "$java_home" opensearch-index-management
  fi
}

# The ingest-common module as the full distribution ships it (modules/ingest-common): its jar and the libraries it
# loads, and a descriptor. Painless is not on the node, so it does not extend lang-painless (that only adds the
# processors' helper methods to Painless scripts).
INGEST_COMMON_JARS=(
  "org.opensearch.plugin:ingest-common:$OPENSEARCH_VERSION:jar"
  "org.opensearch:opensearch-grok:$OPENSEARCH_VERSION:jar"
  "org.opensearch:opensearch-dissect:$OPENSEARCH_VERSION:jar"
  "org.jruby.joni:joni:2.2.1:jar"
  "org.jruby.jcodings:jcodings:1.0.61:jar"
)

install_ingest_common() {
  local module="$HOME_DIR/modules/ingest-common"
  if [ -s "$module/plugin-descriptor.properties" ]; then return 0; fi
  local artifact artifact_id version
  for artifact in "${INGEST_COMMON_JARS[@]}"; do
    IFS=: read -r _ artifact_id version _ <<<"$artifact"
    maven_copy "$artifact" "$artifact_id-$version.jar" \
      || die "could not fetch $artifact: $(grep -m1 ERROR "$DOWNLOADS/$artifact_id-$version.jar.log" || true)"
  done
  local assemble="$CACHE/ingest-common.$$"
  rm -rf "$assemble" && mkdir -p "$assemble"
  for artifact in "${INGEST_COMMON_JARS[@]}"; do
    IFS=: read -r _ artifact_id version _ <<<"$artifact"
    cp "$DOWNLOADS/$artifact_id-$version.jar" "$assemble/"
  done
  cat >"$assemble/plugin-descriptor.properties" <<PROPERTIES
description=Module for ingest processors that do not require additional security permissions or have large dependencies and resources
version=$OPENSEARCH_VERSION
name=ingest-common
classname=org.opensearch.ingest.common.IngestCommonPlugin
java.version=11
opensearch.version=$OPENSEARCH_VERSION
extended.plugins=
has.native.controller=false
PROPERTIES
  rm -rf "$module"
  mv "$assemble" "$module"
}

install_plugin() {
  local java_home="$1" name="$2"
  if [ -d "$HOME_DIR/plugins/$name" ]; then return 0; fi
  OPENSEARCH_JAVA_HOME="$java_home" "$HOME_DIR/bin/opensearch-plugin" install --batch \
    "file://$DOWNLOADS/$name-$PLUGIN_VERSION.zip" >"$CACHE/install-$name.log" 2>&1 \
    || die "installing $name failed: $(tail -3 "$CACHE/install-$name.log")"
}

free_port() {
  node -e 'const s=require("node:net").createServer();s.listen(0,"127.0.0.1",()=>{console.log(s.address().port);s.close()})'
}

start() {
  local state="$1"
  if [ -n "${OPENSEARCH_URL:-}" ]; then
    echo "OPENSEARCH_URL=$OPENSEARCH_URL"
    return 0
  fi
  fetch
  local java_home
  java_home="$(find_java_home)" || die "Java 17 is needed to run OpenSearch: install it or point OPENSEARCH_URL at a running node"
  mkdir -p "$state/config" "$state/data" "$state/logs"
  cp -R "$HOME_DIR/config/." "$state/config/"
  local http_port transport_port
  http_port="$(free_port)"
  transport_port="$(free_port)"
  cat >"$state/config/opensearch.yml" <<YAML
cluster.name: audit-trail-test
node.name: audit-trail-test-node
network.host: 127.0.0.1
http.port: $http_port
transport.port: $transport_port
discovery.type: single-node
path.data: $state/data
path.logs: $state/logs
cluster.routing.allocation.disk.threshold_enabled: false
plugins.index_state_management.job_interval: 1
plugins.index_state_management.jitter: 0.0
YAML
  if [ ! -d "$HOME_DIR/plugins/opensearch-index-management" ]; then
    sed -i '/^plugins.index_state_management/d' "$state/config/opensearch.yml"
  fi
  # jvm.options names GC logs, heap dumps and error files relative to the (read-only, cached) home: move them.
  sed -i -e "s#file=logs/#file=$state/logs/#" -e "s#ErrorFile=logs/#ErrorFile=$state/logs/#" \
    -e "s#HeapDumpPath=data#HeapDumpPath=$state/data#" "$state/config/jvm.options"
  printf -- '-Xms%s\n-Xmx%s\n' "$HEAP" "$HEAP" >"$state/config/jvm.options.d/heap.options"
  # OpenSearch refuses to run as root (CI and containers often are): then it runs as the unprivileged `nobody`.
  local run_as=() home="$HOME_DIR"
  if [ "$(id -u)" -eq 0 ]; then
    id nobody >/dev/null 2>&1 || die "running as root and there is no 'nobody' user to run OpenSearch as; run the tests as a normal user"
    command -v setpriv >/dev/null 2>&1 || die "running as root needs setpriv (util-linux) to run OpenSearch as 'nobody'"
    run_as=(setpriv "--reuid=$(id -u nobody)" "--regid=$(id -g nobody)" --clear-groups)
    # The cache may sit under a directory 'nobody' cannot enter (a clone in /root): then run from a copy.
    if ! "${run_as[@]}" test -r "$HOME_DIR/lib/opensearch-$OPENSEARCH_VERSION.jar"; then
      cp -R "$HOME_DIR" "$state/home"
      home="$state/home"
    fi
    chown -R "$(id -u nobody):$(id -g nobody)" "$state"
  fi
  "${run_as[@]}" env OPENSEARCH_JAVA_HOME="$java_home" OPENSEARCH_PATH_CONF="$state/config" \
    "$home/bin/opensearch" -d -p "$state/opensearch.pid" >"$state/logs/stdout.log" 2>&1 \
    || die "OpenSearch did not start: $(tail -5 "$state/logs/stdout.log")"
  local url="http://127.0.0.1:$http_port" waited=0
  until curl -fsS "$url/_cluster/health?wait_for_status=yellow&timeout=1s" >/dev/null 2>&1; do
    if [ "$waited" -ge 180 ]; then
      local log
      log="$(tail -20 "$state/logs/audit-trail-test.log" 2>/dev/null || tail -20 "$state/logs/stdout.log" 2>/dev/null || true)"
      stop "$state" || true
      die "OpenSearch did not become healthy within 180 s: $log"
    fi
    if [ -f "$state/opensearch.pid" ] && ! kill -0 "$(cat "$state/opensearch.pid")" 2>/dev/null; then
      die "OpenSearch exited while starting: $(tail -20 "$state/logs/audit-trail-test.log" 2>/dev/null || true)"
    fi
    sleep 1
    waited=$((waited + 1))
  done
  echo "OPENSEARCH_URL=$url"
}

stop() {
  local state="$1"
  if [ -f "$state/opensearch.pid" ]; then
    local pid
    pid="$(cat "$state/opensearch.pid")"
    if kill "$pid" 2>/dev/null; then
      local waited=0
      while kill -0 "$pid" 2>/dev/null && [ "$waited" -lt 60 ]; do
        sleep 1
        waited=$((waited + 1))
      done
      kill -9 "$pid" 2>/dev/null || true
    fi
  fi
  rm -rf "$state"
}

case "${1:-}" in
  fetch) fetch ;;
  start) [ -n "${2:-}" ] || die "usage: $0 start STATE_DIR"; start "$2" ;;
  stop) [ -n "${2:-}" ] || die "usage: $0 stop STATE_DIR"; stop "$2" ;;
  *) die "usage: $0 fetch | start STATE_DIR | stop STATE_DIR" ;;
esac
