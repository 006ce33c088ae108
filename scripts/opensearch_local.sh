#!/usr/bin/env bash
# A local 3-node OpenSearch 2.19.1 cluster (Apache-2.0) on 127.0.0.1, fetched from Maven Central.
#   bash scripts/opensearch_local.sh start    fetch (once), then start the nodes that are not running; wait for green
#   bash scripts/opensearch_local.sh stop     stop the nodes this script started (by their pid files)
#   bash scripts/opensearch_local.sh status   cluster health and nodes
#   bash scripts/opensearch_local.sh fetch    only download and assemble the distribution
# Nodes os0..os2: HTTP 9200-9202, transport 9300-9302, heap OPENSEARCH_HEAP (default 512m) each, data and logs
# under .cache/opensearch/nodes/osN/, security plugin absent, disk watermarks off. Idempotent.
#
# Why OpenSearch and not Elasticsearch: Elastic's test build on Maven Central (integ-test-zip 8.19.8) lacks the
# rest-root module (`GET /`, which elasticsearch-haystack calls at start) and reindex (`_delete_by_query`);
# see docs/scaling.md. OpenSearch's integ-test zip carries transport-netty4 only, so the modules the store and
# the k-NN plugin need (lang-painless, reindex, analysis-common) are assembled here from their Maven jars.
set -euo pipefail
cd "$(dirname "$0")/.."

VERSION=2.19.1
KNN_VERSION=$VERSION.0             # the k-NN plugin must match the server version exactly
NODES=3
HEAP=${OPENSEARCH_HEAP:-512m}      # 3 nodes x 512 MB fit beside the service; 2 cores are shared
RUN_USER=${OPENSEARCH_USER:-pressqa-opensearch}   # OpenSearch refuses to run as root
CACHE=$PWD/.cache/opensearch       # git-ignored
HOME_DIR=$CACHE/opensearch-$VERSION
NODES_DIR=$CACHE/nodes

log() { echo "opensearch_local: $*" >&2; }

java_home() {
  if [ -n "${OPENSEARCH_JAVA_HOME:-}" ]; then echo "$OPENSEARCH_JAVA_HOME"; return; fi
  for candidate in /usr/lib/jvm/java-17-openjdk-amd64 /usr/lib/jvm/java-21-openjdk-amd64; do
    [ -x "$candidate/bin/java" ] && { echo "$candidate"; return; }
  done
  dirname "$(dirname "$(readlink -f "$(command -v java)")")"
}

mvn_copy() {  # group:artifact:version[:packaging] into a folder (Maven's local repository caches it)
  mvn -q -B -Dstyle.color=never dependency:copy -Dartifact="$1" -DoutputDirectory="$2" -Dmdep.overWriteIfNewer=true >/dev/null
}

mvn_module_jars() {  # a module's jar and its runtime dependencies, minus what the server's lib/ already has
  local artifact=$1 dest=$2 work
  work=$(mktemp -d)
  cat >"$work/pom.xml" <<EOF
<project xmlns="http://maven.apache.org/POM/4.0.0"><modelVersion>4.0.0</modelVersion>
  <groupId>local</groupId><artifactId>fetch</artifactId><version>0</version><packaging>pom</packaging>
  <dependencies><dependency><groupId>org.opensearch.plugin</groupId><artifactId>$artifact</artifactId>
    <version>$VERSION</version></dependency></dependencies></project>
EOF
  mvn -q -B -Dstyle.color=never -f "$work/pom.xml" dependency:copy-dependencies -DincludeScope=runtime -DoutputDirectory="$dest" >/dev/null
  rm -rf "$work"
  for jar in "$dest"/*.jar; do
    local name
    name=$(basename "$jar" | sed -E 's/-[0-9][0-9A-Za-z.\-]*\.jar$//')
    # on the server's class path already, or the classes of the extended plugin (lang-painless)
    if compgen -G "$HOME_DIR/lib/$name-[0-9]*.jar" >/dev/null; then rm -f "$jar"; fi
    case "$artifact:$name" in lang-painless:*) ;; *:lang-painless | *:opensearch-scripting-painless-spi) rm -f "$jar" ;; esac
  done
}

add_module() {  # name artifact classname extended-plugins policy
  local dir=$HOME_DIR/modules/$1
  [ -f "$dir/plugin-descriptor.properties" ] && return
  log "assembling module $1 from org.opensearch.plugin:$2:$VERSION"
  mkdir -p "$dir"
  mvn_module_jars "$2" "$dir"
  cat >"$dir/plugin-descriptor.properties" <<EOF
description=$1 (assembled from org.opensearch.plugin:$2:$VERSION by scripts/opensearch_local.sh)
version=$VERSION
name=$1
classname=$3
java.version=11
opensearch.version=$VERSION
custom.foldername=
extended.plugins=$4
has.native.controller=false
EOF
  printf 'grant {\n%b};\n' "$5" >"$dir/plugin-security.policy"
}

ensure_tools() {  # a fresh machine has Java 17 and Maven; curl and unzip come from Debian's packages
  local missing=()
  for tool in curl unzip; do command -v "$tool" >/dev/null || missing+=("$tool"); done
  [ ${#missing[@]} = 0 ] && return
  [ "$(id -u)" = 0 ] || { log "missing: ${missing[*]} (install them, or run as root)"; exit 1; }
  log "installing ${missing[*]}"
  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${missing[@]}" >/dev/null
}

fetch() {
  command -v mvn >/dev/null || { log "Maven (mvn) is needed"; exit 1; }
  ensure_tools
  mkdir -p "$CACHE/downloads"
  if [ ! -x "$HOME_DIR/bin/opensearch" ]; then
    log "fetching org.opensearch.distribution.integ-test-zip:opensearch:$VERSION from Maven Central"
    mvn_copy "org.opensearch.distribution.integ-test-zip:opensearch:$VERSION:zip" "$CACHE/downloads"
    rm -rf "$HOME_DIR.partial" && mkdir -p "$HOME_DIR.partial"
    unzip -q "$CACHE/downloads/opensearch-$VERSION.zip" -d "$HOME_DIR.partial"
    mv "$HOME_DIR.partial/opensearch-$VERSION" "$HOME_DIR" && rm -rf "$HOME_DIR.partial"
  fi
  # painless: scripts of update_by_filter, and the k-NN plugin extends it; reindex: _delete_by_query
  # (delete_all_documents / delete_by_filter); analysis-common: the usual analyzers and token filters.
  add_module lang-painless lang-painless org.opensearch.painless.PainlessPlugin "" \
    '  permission java.lang.RuntimePermission "createClassLoader";\n  permission java.lang.RuntimePermission "getClassLoader";\n'
  add_module reindex reindex-client org.opensearch.index.reindex.ReindexPlugin "" \
    '  permission java.net.SocketPermission "*", "connect";\n  permission java.net.NetPermission "getProxySelector";\n'
  add_module analysis-common analysis-common org.opensearch.analysis.common.CommonAnalysisPlugin lang-painless ""
  if [ ! -d "$HOME_DIR/plugins/opensearch-knn" ]; then
    log "fetching org.opensearch.plugin:opensearch-knn:$KNN_VERSION (pure-Java lucene engine only: no native libraries)"
    mvn_copy "org.opensearch.plugin:opensearch-knn:$KNN_VERSION:zip" "$CACHE/downloads"
    OPENSEARCH_JAVA_HOME=$(java_home) "$HOME_DIR/bin/opensearch-plugin" install --batch \
      "file://$CACHE/downloads/opensearch-knn-$KNN_VERSION.zip" >/dev/null
  fi
}

ensure_user() {
  id -u "$RUN_USER" >/dev/null 2>&1 && return
  [ "$(id -u)" = 0 ] || { log "user $RUN_USER is missing and only root can create it"; exit 1; }
  log "creating system user $RUN_USER"
  useradd --system --no-create-home --shell /usr/sbin/nologin "$RUN_USER"
}

node_pid() {  # the pid of node $1 if it runs (and is ours: its command line names our home folder)
  local file=$NODES_DIR/os$1/opensearch.pid pid
  [ -s "$file" ] || return 1
  pid=$(cat "$file")
  [ -r "/proc/$pid/cmdline" ] && tr '\0' ' ' <"/proc/$pid/cmdline" | grep -q -- "$HOME_DIR" && echo "$pid"
}

write_config() {  # node $1
  local n=$1 dir=$NODES_DIR/os$1
  mkdir -p "$dir/config" "$dir/data" "$dir/logs" "$dir/tmp"
  cp -r "$HOME_DIR/config/." "$dir/config/"
  # bounded heap; the GC log, heap dumps and crash files go to the node's folders, not the working directory
  sed -i -E "s/^-Xms.*/-Xms$HEAP/; s/^-Xmx.*/-Xmx$HEAP/; s#(file=|HeapDumpPath=|ErrorFile=)(logs|data)/?#\1$dir/\2/#" \
    "$dir/config/jvm.options"
  cat >"$dir/config/opensearch.yml" <<EOF
# Written by scripts/opensearch_local.sh for node os$n.
cluster.name: pressqa-local
node.name: os$n
network.host: 127.0.0.1
http.port: 920$n
transport.port: 930$n
path.data: $dir/data
path.logs: $dir/logs
discovery.seed_hosts: [127.0.0.1:9300, 127.0.0.1:9301, 127.0.0.1:9302]
cluster.initial_cluster_manager_nodes: [os0, os1, os2]
# Small shared disks: without this, shards stop being allocated at 85 % use.
cluster.routing.allocation.disk.threshold_enabled: false
EOF
}

wait_for() {  # a health status ("green", "yellow") within $2 seconds
  local deadline=$((SECONDS + $2)) health=""
  while [ $SECONDS -lt $deadline ]; do
    health=$(curl -s -m 5 "http://127.0.0.1:9200/_cluster/health?wait_for_status=$1&wait_for_nodes=$NODES&timeout=5s" || true)
    case "$health" in *"\"timed_out\":false"*) echo "$health"; return 0 ;; esac
    sleep 2
  done
  log "cluster not $1 after $2 s: ${health:-no answer on 127.0.0.1:9200}"
  for n in $(seq 0 $((NODES - 1))); do tail -n 5 "$NODES_DIR/os$n/logs/pressqa-local.log" 2>/dev/null >&2 || true; done
  return 1
}

launch() {  # node $1, as $RUN_USER, daemonized; returns when the node has started or failed
  local n=$1
  (cd "$NODES_DIR/os$n" && setpriv --reuid="$RUN_USER" --regid="$RUN_USER" --clear-groups \
    env -i PATH=/usr/bin:/bin OPENSEARCH_JAVA_HOME="$(java_home)" OPENSEARCH_PATH_CONF="$NODES_DIR/os$n/config" \
    OPENSEARCH_TMPDIR="$NODES_DIR/os$n/tmp" \
    "$HOME_DIR/bin/opensearch" -d -p "$NODES_DIR/os$n/opensearch.pid" >"$NODES_DIR/os$n/logs/launcher.out" 2>&1) || {
    log "node os$n did not start:"; grep -v "^warning: no-jdk\|^WARNING: .*[Ss]ecurity[Mm]anager" "$NODES_DIR/os$n/logs/launcher.out" >&2
    return 1
  }
}

start() {
  fetch
  ensure_user
  local launched=() failed=0
  for n in $(seq 0 $((NODES - 1))); do
    if node_pid "$n" >/dev/null; then continue; fi
    if curl -s -m 2 "http://127.0.0.1:920$n" >/dev/null; then
      log "port 920$n answers but not a node of this script: stop that process first"; exit 1
    fi
    write_config "$n"
    chown -R "$RUN_USER:" "$NODES_DIR/os$n"
    log "starting node os$n (heap $HEAP, HTTP 920$n, transport 930$n)"
    launch "$n" &   # in parallel: each launcher waits for its node's bootstrap
    launched+=($!)
  done
  [ ${#launched[@]} = 0 ] && log "all $NODES nodes already running"
  for pid in "${launched[@]}"; do wait "$pid" || failed=1; done
  [ $failed = 0 ] || exit 1
  wait_for green "${OPENSEARCH_START_TIMEOUT:-180}" >/dev/null
  log "cluster green on http://127.0.0.1:9200,9201,9202"
}

stop() {
  local pids=()
  for n in $(seq 0 $((NODES - 1))); do
    if pid=$(node_pid "$n"); then kill "$pid" && pids+=("$pid") && log "stopping node os$n (pid $pid)"; fi
  done
  for pid in "${pids[@]}"; do
    for _ in $(seq 60); do kill -0 "$pid" 2>/dev/null || break; sleep 0.5; done
    kill -0 "$pid" 2>/dev/null && { log "pid $pid still running after 30 s: kill -9"; kill -9 "$pid"; }
  done
  rm -f "$NODES_DIR"/os*/opensearch.pid
  return 0
}

status() {
  ensure_tools
  for n in $(seq 0 $((NODES - 1))); do
    if pid=$(node_pid "$n"); then echo "os$n: running, pid $pid"; else echo "os$n: not running"; fi
  done
  curl -s -m 5 "http://127.0.0.1:9200/_cluster/health?pretty" || { echo "no answer on 127.0.0.1:9200"; return 1; }
  curl -s -m 5 "http://127.0.0.1:9200/_cat/nodes?v&h=name,ip,http_address,heap.max,node.role,cluster_manager"
}

case "${1:-}" in
  start) start ;;
  stop) stop ;;
  status) status ;;
  fetch) fetch ;;
  *) echo "usage: $0 start|stop|status|fetch" >&2; exit 2 ;;
esac
