#!/usr/bin/env bash
# One command: install what the tests need and run them all (unit, end-to-end over the real corpus,
# browser, and the cluster suite on OpenSearch and on Elasticsearch). The corpus comes from PRESS_RELEASES_DIR
# (default ../shared/telekom-press-releases).
# The local 3-node clusters (scripts/opensearch_local.sh, scripts/elasticsearch_local.sh) are started first, one
# after the other, and stopped at the end when this script started them; a cluster that already answers on its
# port is used and left running. With CI=true a cluster that cannot start fails the run here, with the reason;
# elsewhere its tests are then skipped (OpenSearch) or deselected (Elasticsearch) with it.
# PRESSQA_TEST_CLUSTER=0 leaves both out.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh --test
export PRESS_RELEASES_DIR=${PRESS_RELEASES_DIR:-$(cd .. && pwd)/shared/telekom-press-releases}
export HF_HUB_OFFLINE=1 TRANSFORMERS_OFFLINE=1

started=()
stop_clusters() { for engine in "${started[@]}"; do bash "scripts/${engine}_local.sh" stop || true; done; }
trap stop_clusters EXIT

start_cluster() {  # engine, title, HTTP port of its first node
  if curl -s -m 3 "http://127.0.0.1:$3/" >/dev/null; then
    echo "test.sh: a $2 cluster already answers on 127.0.0.1:$3; using it" >&2
  elif bash "scripts/$1_local.sh" start; then
    started+=("$1")
  elif [ "${CI:-}" = true ]; then
    echo "test.sh: the $2 cluster could not start (see above); CI needs it" >&2
    exit 1
  else
    echo "test.sh: the $2 cluster could not start (see above); its tests will not run" >&2
  fi
}

if [ "${PRESSQA_TEST_CLUSTER:-1}" != 0 ]; then
  start_cluster opensearch OpenSearch "${OPENSEARCH_LOCAL_PORT:-9200}"
  start_cluster elasticsearch Elasticsearch "${ELASTICSEARCH_LOCAL_PORT:-9220}"
fi
.venv/bin/python -m pytest --durations=25 "$@"  # the slowest tests listed: CI must stay under ~50 min
