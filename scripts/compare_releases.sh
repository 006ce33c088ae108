#!/usr/bin/env bash
# The README's speed and quality figures, before and after, in one run on this machine:
#   bash scripts/compare_releases.sh [PREVIOUS_COMMIT] [OUT_DIR]     (default 3e779b6, a new temp folder)
# Checks the previous release out into a temporary git worktree (sharing .venv), indexes the corpus with each
# release (timed), starts each service on its own index (this release with 1 and 2 workers), then runs
# scripts/bench.py (search, ask; 10 clients, 20 s, no repeated question), scripts/evaluate.py (previous with the
# naive baseline, this one --compare), a 60 s soak, and the LLM path through the LLM STAND-IN.
set -euo pipefail
cd "$(dirname "$0")/.."
REPO=$(pwd) PREVIOUS=${1:-3e779b6} M=${2:-$(mktemp -d)}
CORPUS=${PRESS_RELEASES_DIR:-$(cd .. && pwd)/shared/telekom-press-releases}
export HF_HUB_OFFLINE=1 TRANSFORMERS_OFFLINE=1 PRESSQA_INDEX_AT_START=0 HAYHOOKS_HOST=127.0.0.1
PY=$REPO/.venv/bin/python BENCH="$REPO/.venv/bin/python $REPO/scripts/bench.py"
OLD=$M/previous-checkout
git worktree add -q --detach "$OLD" "$PREVIOUS" && ln -s "$REPO/.venv" "$OLD/.venv"
PIDS=()
cleanup() { kill "${PIDS[@]}" 2>/dev/null || true; git worktree remove --force "$OLD" 2>/dev/null || true; }
trap cleanup EXIT

for side in after:$REPO before:$OLD; do   # indexing, timed by the CLI itself
  (cd "${side#*:}" && PRESSQA_DATA_DIR=$M/${side%%:*} $PY -m service.index_cli "$CORPUS") 2>&1 | tail -1 | tee -a "$M/indexing.txt"
done

start() { # name checkout data port [VAR=value …]: start a service, wait for its first answer, time it
  local name=$1 dir=$2 data=$3 port=$4; shift 4
  (cd "$dir" && exec env PRESSQA_DATA_DIR="$data" HAYHOOKS_PORT="$port" "$@" "$PY" -c "from service.app import main; main()") \
    > "$M/$name.log" 2>&1 &
  PIDS+=($!)
  local t0; t0=$(date +%s.%N)
  until curl -sf -m 10 "localhost:$port/ask/run" -H content-type:application/json -d '{"query":"What does the T Tablet cost?"}' >/dev/null; do sleep 0.2; done
  echo "$name: start to first answer $(echo "$(date +%s.%N) - $t0" | bc) s" | tee -a "$M/startup.txt"
}

start before "$OLD" "$M/before" 18601
start after1 "$REPO" "$M/after" 18603 PRESSQA_WORKERS=1
start after2 "$REPO" "$M/after" 18602 PRESSQA_WORKERS=2
for s in before:18601 after1:18603 after2:18602; do
  $BENCH --url "http://127.0.0.1:${s#*:}" --targets search ask --seconds 20 --out "$M/bench-${s%%:*}.json" > "$M/bench-${s%%:*}.txt" 2>&1
done
$PY scripts/evaluate.py --url http://127.0.0.1:18601 --out "$M/eval-before.json" > "$M/eval-before.txt" 2>&1
$PY scripts/evaluate.py --url http://127.0.0.1:18602 --no-baseline --compare "$M/eval-before.json" --out "$M/eval-after.json" > "$M/eval-after.txt" 2>&1
$PY scripts/soak.py --url http://127.0.0.1:18602 --clients 10 --seconds 60 --no-memory-verdict --out "$M/soak-after2.json" > "$M/soak-after2.txt" 2>&1
kill "${PIDS[@]}"; PIDS=()

# The LLM path through the LLM STAND-IN (0.5 s to the first token, 50 tokens/s, 150 tokens): not a real LLM.
$PY scripts/llm_standin.py --port 18699 > "$M/standin.log" 2>&1 &
PIDS+=($!)
LLM=(OPENAI_API_KEY=standin OPENAI_BASE_URL=http://127.0.0.1:18699/v1 PRESSQA_LLM_MODEL=llm-standin)
start before-llm "$OLD" "$M/before" 18611 "${LLM[@]}"
start after-llm "$REPO" "$M/after" 18612 PRESSQA_WORKERS=2 "${LLM[@]}"
for s in before-llm:18611 after-llm:18612; do
  $BENCH --url "http://127.0.0.1:${s#*:}" --targets ask stream --seconds 20 \
    --standin-label "LLM STAND-IN: ttft 0.5 s, 50 tok/s, 150 tokens" --out "$M/bench-${s%%:*}.json" > "$M/bench-${s%%:*}.txt" 2>&1
done
echo "figures in $M (bench-*.txt, eval-*.txt, soak-after2.txt, indexing.txt, startup.txt)"
