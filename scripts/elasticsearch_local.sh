#!/usr/bin/env bash
# A local 3-node Elasticsearch 8.19.8 cluster on 127.0.0.1, the real server from Maven Central, for the tests.
#   bash scripts/elasticsearch_local.sh start    fetch and build (once), start the nodes that are not running,
#                                                wait for green, apply the index template; print ELASTICSEARCH_URL=…
#   bash scripts/elasticsearch_local.sh stop     stop the nodes this checkout started (by their pid files)
#   bash scripts/elasticsearch_local.sh status   nodes, cluster health; print ELASTICSEARCH_URL=…
#   bash scripts/elasticsearch_local.sh fetch    only download, unpack and build the compatibility module
# Nodes es0..es2: HTTP ELASTICSEARCH_LOCAL_PORT (9220) + n, transport + 100 (9320-9322), so they do not collide
# with the OpenSearch cluster (9200-9202); heap ELASTICSEARCH_HEAP (512m) each; security off (loopback only);
# disk watermarks off; run as the system user pressqa-elasticsearch (Elasticsearch refuses root). Files under
# .cache/elasticsearch/ (or, for a checkout other users cannot enter, /var/lib/pressqa-local/<key>/). Idempotent.
#
# The server is Elastic's integration-test build (org.elasticsearch.distribution.integ-test-zip), the only
# Elasticsearch server on Maven Central. It is licensed AGPL-3.0 / SSPL / Elastic License 2.0 (docs/licences.md):
# a separate test server, never shipped. Its build carries 4 modules only; two REST endpoints that
# elasticsearch-haystack needs, `GET /` (module rest-root) and `_delete_by_query` (module reindex), come from
# scripts/elasticsearch_compat/: a TEST SCAFFOLD compiled here against the server's jars. Deployments use Elastic's
# distribution (docker/docker-compose.yml), where the real modules serve them. `_update_by_query` stays missing.
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/local_cluster.sh

VERSION=8.19.8                          # the elasticsearch 8.19 client that elasticsearch-haystack 7.1.0 pins
ENGINE=elasticsearch
LOG_NAME=elasticsearch_local
NODES=3
NODE_PREFIX=es
HTTP_PORT=${ELASTICSEARCH_LOCAL_PORT:-9220}
TRANSPORT_PORT=$((HTTP_PORT + 100))
HEAP=${ELASTICSEARCH_HEAP:-512m}        # 3 nodes x 512 MB fit beside OpenSearch and the service; 2 cores are shared
START_TIMEOUT=${ELASTICSEARCH_START_TIMEOUT:-240}
CLUSTER_JAVA_HOME=${ES_JAVA_HOME:-}
RUN_USER=${ELASTICSEARCH_USER:-pressqa-elasticsearch}
PID_FILE=elasticsearch.pid
CLUSTER_LOG=pressqa-local-es.log
URL_VARIABLE=ELASTICSEARCH_URL
COMPAT_MODULE=pressqa-test-compat
COMPAT_SOURCE=scripts/elasticsearch_compat

node_home() { echo "$STATE/elasticsearch-$VERSION"; }

build_compat_module() {  # javac against the server's own jars; rebuilt when its source changes
  local module=$HOME_DIR/modules/$COMPAT_MODULE jdk digest work
  jdk=$(java_home)
  [ -x "$jdk/bin/javac" ] || { log "javac is missing in $jdk: a JDK 17 is needed to build $COMPAT_SOURCE"; exit 1; }
  digest=$(find "$COMPAT_SOURCE/src" -name '*.java' -print0 | sort -z | xargs -0 cat | sha256sum | cut -c1-16)
  [ "$(cat "$module/source.sha" 2>/dev/null)" = "$digest" ] && return
  log "building the test-scaffold module $COMPAT_MODULE ($COMPAT_SOURCE) against the server's lib/"
  work=$(mktemp -d)
  find "$COMPAT_SOURCE/src" -name '*.java' -print0 | xargs -0 "$jdk/bin/javac" --release 17 -Xlint:-options \
    -cp "$HOME_DIR/lib/*" -d "$work/classes"
  rm -rf "$module" && mkdir -p "$module"
  "$jdk/bin/jar" --create --file "$module/$COMPAT_MODULE-$VERSION.jar" -C "$work/classes" .
  rm -rf "$work"
  cat >"$module/plugin-descriptor.properties" <<EOF
description=TEST SCAFFOLD (scripts/elasticsearch_compat): GET / and _delete_by_query for the integ-test build; not for deployments
version=$VERSION
name=$COMPAT_MODULE
classname=org.pressqa.escompat.PressqaTestCompatPlugin
java.version=17
elasticsearch.version=$VERSION
EOF
  echo "$digest" >"$module/source.sha"
  if node_pid 0 >/dev/null || node_pid 1 >/dev/null || node_pid 2 >/dev/null; then
    log "the module changed: running nodes load it at their next start (stop, then start)"
  fi
}

fetch() {
  fetch_server org.elasticsearch.distribution.integ-test-zip:elasticsearch
  build_compat_module
}

write_config() {  # node $1
  local n=$1 dir
  dir=$(node_dir "$1")
  printf -- '-Xms%s\n-Xmx%s\n' "$HEAP" "$HEAP" >"$dir/config/jvm.options.d/heap.options"
  cat >"$dir/config/elasticsearch.yml" <<EOF
# Written by scripts/elasticsearch_local.sh for node es$n.
cluster.name: pressqa-local-es
node.name: es$n
network.host: 127.0.0.1
http.port: $((HTTP_PORT + n))
transport.port: $((TRANSPORT_PORT + n))
path.data: $dir/data
path.logs: $dir/logs
discovery.seed_hosts: [127.0.0.1:$TRANSPORT_PORT, 127.0.0.1:$((TRANSPORT_PORT + 1)), 127.0.0.1:$((TRANSPORT_PORT + 2))]
cluster.initial_master_nodes: [es0, es1, es2]
# The integ-test build's security module would otherwise ask for TLS and passwords; the nodes listen on
# loopback only. docker/docker-compose.yml runs Elasticsearch with security on.
xpack.security.enabled: false
# Small shared disks: without this, shards stop being allocated at 85 % use.
cluster.routing.allocation.disk.threshold_enabled: false
EOF
}

launch() {  # node $1
  local dir
  dir=$(node_dir "$1")
  launch_node "$1" ES_JAVA_HOME="$(java_home)" ES_PATH_CONF="$dir/config" ES_TMPDIR="$dir/tmp"
}

apply_template() {  # as the compose deployment's es-setup job does: the template file, the index, the replicas
  local url
  url=$(urls_line | cut -d= -f2)
  if .venv/bin/python -c "import elasticsearch" 2>/dev/null; then
    .venv/bin/python scripts/elasticsearch_setup.py --url "$url" --create-index --live >/dev/null
  else  # no project environment yet: the same two requests, with the committed file as it is
    log "no .venv with the elasticsearch client: applying docker/elasticsearch/index-template.json with curl"
    curl -sf -m 30 -X PUT "$(node_url 0)/_index_template/press-releases" -H 'content-type: application/json' \
      --data-binary @docker/elasticsearch/index-template.json >/dev/null
    curl -s -m 30 -o /dev/null -X PUT "$(node_url 0)/press-releases"
  fi
  log "index template press-releases* applied (docker/elasticsearch/index-template.json: 3 shards, 1 replica)"
}

after_start() {
  apply_template
  log "cluster green: $(curl -s -m 5 "$(node_url 0)/" | tr -d '\n' | grep -o '"number":"[^"]*"\|"tagline":"[^"]*"' | tr '\n' ' ')"
}

cluster_main "$@"
