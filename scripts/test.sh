#!/usr/bin/env bash
# One command: install what the tests need and run them all (unit, end-to-end over the real corpus,
# browser, and the OpenSearch cluster suite). The corpus comes from PRESS_RELEASES_DIR (default
# ../shared/telekom-press-releases).
# The local 3-node OpenSearch cluster (scripts/opensearch_local.sh) is started first and stopped at the
# end when this script started it. With CI=true a cluster that cannot start fails the run here, with
# the reason; elsewhere the cluster tests are then skipped with it. PRESSQA_TEST_CLUSTER=0 leaves it out.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh --test
export PRESS_RELEASES_DIR=${PRESS_RELEASES_DIR:-$(cd .. && pwd)/shared/telekom-press-releases}
export HF_HUB_OFFLINE=1 TRANSFORMERS_OFFLINE=1

cluster_started=0
if [ "${PRESSQA_TEST_CLUSTER:-1}" != 0 ]; then
  if curl -s -m 3 http://127.0.0.1:9200/ >/dev/null; then
    echo "test.sh: an OpenSearch cluster already answers on 127.0.0.1:9200; using it" >&2
  elif bash scripts/opensearch_local.sh start; then
    cluster_started=1
  elif [ "${CI:-}" = true ]; then
    echo "test.sh: the OpenSearch cluster could not start (see above); CI needs it" >&2
    exit 1
  else
    echo "test.sh: the OpenSearch cluster could not start (see above); its tests will be skipped" >&2
  fi
fi
stop_cluster() { [ $cluster_started = 1 ] && bash scripts/opensearch_local.sh stop || true; }
trap stop_cluster EXIT
.venv/bin/python -m pytest "$@"
