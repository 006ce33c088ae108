#!/usr/bin/env bash
# A local 3-node OpenSearch 2.19.1 cluster (Apache-2.0) on 127.0.0.1, fetched from Maven Central.
#   bash scripts/opensearch_local.sh start    fetch (once), then start the nodes that are not running; wait for
#                                             green; print OPENSEARCH_URL=…
#   bash scripts/opensearch_local.sh stop     stop the nodes this checkout started (by their pid files)
#   bash scripts/opensearch_local.sh status   nodes, cluster health; print OPENSEARCH_URL=…
#   bash scripts/opensearch_local.sh fetch    only download and assemble the distribution
# Nodes os0..os2: HTTP OPENSEARCH_LOCAL_PORT (9200) + n, transport + 100 (9300-9302), heap OPENSEARCH_HEAP (512m)
# each, security plugin absent, disk watermarks off, run as the system user pressqa-opensearch. Files under
# .cache/opensearch/ (or, for a checkout other users cannot enter, /var/lib/pressqa-local/<key>/). Idempotent.
# What it shares with scripts/elasticsearch_local.sh is in scripts/local_cluster.sh.
#
# OpenSearch's integ-test zip carries transport-netty4 only, so the modules the store and the k-NN plugin need
# (lang-painless, reindex, analysis-common) are assembled here from their Maven jars.
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/local_cluster.sh

VERSION=2.19.1
KNN_VERSION=$VERSION.0             # the k-NN plugin must match the server version exactly
ENGINE=opensearch
LOG_NAME=opensearch_local
NODES=3
NODE_PREFIX=os
HTTP_PORT=${OPENSEARCH_LOCAL_PORT:-9200}
TRANSPORT_PORT=$((HTTP_PORT + 100))
HEAP=${OPENSEARCH_HEAP:-512m}      # 3 nodes x 512 MB fit beside the service; 2 cores are shared
START_TIMEOUT=${OPENSEARCH_START_TIMEOUT:-180}
CLUSTER_JAVA_HOME=${OPENSEARCH_JAVA_HOME:-}
RUN_USER=${OPENSEARCH_USER:-pressqa-opensearch}   # OpenSearch refuses to run as root
PID_FILE=opensearch.pid
CLUSTER_LOG=pressqa-local.log
URL_VARIABLE=OPENSEARCH_URL

node_home() { echo "$STATE/opensearch-$VERSION"; }

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

fetch() {
  fetch_server org.opensearch.distribution.integ-test-zip:opensearch
  # painless: scripts of update_by_filter, and the k-NN plugin extends it; reindex: _delete_by_query
  # (delete_all_documents / delete_by_filter); analysis-common: the usual analyzers and token filters.
  add_module lang-painless lang-painless org.opensearch.painless.PainlessPlugin "" \
    '  permission java.lang.RuntimePermission "createClassLoader";\n  permission java.lang.RuntimePermission "getClassLoader";\n'
  add_module reindex reindex-client org.opensearch.index.reindex.ReindexPlugin "" \
    '  permission java.net.SocketPermission "*", "connect";\n  permission java.net.NetPermission "getProxySelector";\n'
  add_module analysis-common analysis-common org.opensearch.analysis.common.CommonAnalysisPlugin lang-painless ""
  if [ ! -d "$HOME_DIR/plugins/opensearch-knn" ]; then
    log "fetching org.opensearch.plugin:opensearch-knn:$KNN_VERSION (pure-Java lucene engine only: no native libraries)"
    mvn_copy "org.opensearch.plugin:opensearch-knn:$KNN_VERSION:zip" "$STATE/downloads"
    OPENSEARCH_JAVA_HOME=$(java_home) "$HOME_DIR/bin/opensearch-plugin" install --batch \
      "file://$STATE/downloads/opensearch-knn-$KNN_VERSION.zip" >/dev/null
  fi
}

write_config() {  # node $1
  local n=$1 dir
  dir=$(node_dir "$1")
  # bounded heap; the GC log, heap dumps and crash files go to the node's folders, not the working directory
  sed -i -E "s/^-Xms.*/-Xms$HEAP/; s/^-Xmx.*/-Xmx$HEAP/; s#(file=|HeapDumpPath=|ErrorFile=)(logs|data)/?#\1$dir/\2/#" \
    "$dir/config/jvm.options"
  cat >"$dir/config/opensearch.yml" <<EOF
# Written by scripts/opensearch_local.sh for node os$n.
cluster.name: pressqa-local
node.name: os$n
network.host: 127.0.0.1
http.port: $((HTTP_PORT + n))
transport.port: $((TRANSPORT_PORT + n))
path.data: $dir/data
path.logs: $dir/logs
discovery.seed_hosts: [127.0.0.1:$TRANSPORT_PORT, 127.0.0.1:$((TRANSPORT_PORT + 1)), 127.0.0.1:$((TRANSPORT_PORT + 2))]
cluster.initial_cluster_manager_nodes: [os0, os1, os2]
# Small shared disks: without this, shards stop being allocated at 85 % use.
cluster.routing.allocation.disk.threshold_enabled: false
EOF
}

launch() {  # node $1
  local dir
  dir=$(node_dir "$1")
  launch_node "$1" OPENSEARCH_JAVA_HOME="$(java_home)" OPENSEARCH_PATH_CONF="$dir/config" OPENSEARCH_TMPDIR="$dir/tmp"
}

cluster_main "$@"
