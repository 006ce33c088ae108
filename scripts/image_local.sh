#!/usr/bin/env bash
# Build docker/Dockerfile with podman on a machine that has no Docker engine and reaches no container registry
# (this project's machines; docs/deploy.md, "A podman host"). The Dockerfile stays as a real deployment builds it;
# what differs here goes in as build arguments:
#   - the base image: Debian bookworm from Debian's own mirror (mmdebstrap) with a Python 3.11 venv on PATH, in
#     place of python:3.11-slim-bookworm (no registry to pull it from);
#   - torch from PyPI when PyTorch's CPU index cannot be reached (PyPI's Linux wheel brings ~4.9 GB of CUDA
#     libraries), through a wheelhouse on the host served to the build as a local index (file:///wheels/simple),
#     so a rebuild downloads none of it again;
#   - the host's CA bundle as a build secret, for HTTPS through a TLS-inspecting proxy.
#
#   bash scripts/image_local.sh base             import the base image (its root file system is cached)
#   bash scripts/image_local.sh build [TAG]      base, then build the service image (default tag localhost/pressqa:latest)
#   bash scripts/image_local.sh remove-base      remove the base image (the cached file system stays)
#
# Settings (environment): PRESSQA_IMAGE_CACHE (default ~/.cache/pressqa-image: the base's file system and the
# wheelhouse), PRESSQA_BASE_IMAGE (default localhost/pressqa-base:bookworm), DEBIAN_MIRROR (default: the
# host's apt source, else http://deb.debian.org/debian), TORCH_INDEX_URL (default: PyTorch's CPU index if it
# answers, else PyPI), CA_BUNDLE (default /etc/ssl/certs/ca-certificates.crt when it exists; empty: none),
# PODMAN_BUILD_OPTIONS (more `podman build` options).
set -euo pipefail
cd "$(dirname "$0")/.."

cache=${PRESSQA_IMAGE_CACHE:-$HOME/.cache/pressqa-image}
base_image=${PRESSQA_BASE_IMAGE:-localhost/pressqa-base:bookworm}
cpu_index=https://download.pytorch.org/whl/cpu
torch_pin=torch==2.13.0                      # as in docker/Dockerfile and scripts/setup.sh
ca_bundle=${CA_BUNDLE-/etc/ssl/certs/ca-certificates.crt}

say() { echo "image_local.sh: $*" >&2; }
elapsed() { echo "$(( $(date +%s) - $1 )) s"; }

need() {
  local missing=()
  for tool in podman mmdebstrap; do command -v "$tool" >/dev/null || missing+=("$tool"); done
  if [ ${#missing[@]} -gt 0 ]; then
    say "missing ${missing[*]}: apt-get install podman buildah mmdebstrap fuse-overlayfs slirp4netns uidmap" \
        "(bash scripts/setup.sh --test installs them)"
    exit 1
  fi
}

mirror() {
  if [ -n "${DEBIAN_MIRROR:-}" ]; then echo "$DEBIAN_MIRROR"; return; fi
  local uri
  uri=$(grep -hs '^URIs:' /etc/apt/sources.list.d/debian.sources | awk '{print $2}' | grep -v security | head -1 || true)
  echo "${uri:-http://deb.debian.org/debian}"
}

base() {
  need
  if podman image exists "$base_image"; then
    say "base image $base_image is there"
    return
  fi
  local rootfs=$cache/bookworm-python311.tar started
  mkdir -p "$cache"
  if [ -d "$rootfs" ]; then  # left by an earlier version of this script (mmdebstrap made a folder of it)
    rm -rf "$rootfs"
  fi
  if [ ! -s "$rootfs" ]; then
    rm -rf "$rootfs.partial"
    started=$(date +%s)
    say "making the base's file system from $(mirror) with mmdebstrap (Debian bookworm, Python 3.11; ~30 s to 3 min, once per machine)"
    # A venv on PATH gives the image python:3.11-slim's shape: `python` and `pip` that install system-wide
    # (Debian's own python3 refuses `pip install`, PEP 668). passwd: the Dockerfile's useradd.
    # --format=tar: mmdebstrap guesses the format from the name, and "….tar.partial" would make a folder
    mmdebstrap --quiet --format=tar --variant=minbase --include=python3-venv,ca-certificates,passwd \
      --customize-hook='chroot "$1" python3 -m venv /opt/python' \
      bookworm "$rootfs.partial" "$(mirror)"
    mv "$rootfs.partial" "$rootfs"
    say "file system ready in $(elapsed "$started"): $rootfs ($(du -h "$rootfs" | cut -f1))"
  fi
  started=$(date +%s)
  podman import --quiet \
    --change 'ENV PATH=/opt/python/bin:/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin' \
    --change 'ENV LANG=C.UTF-8' --change 'CMD ["python"]' \
    "$rootfs" "$base_image" >/dev/null
  say "imported $base_image in $(elapsed "$started")"
}

torch_index() {
  if [ -n "${TORCH_INDEX_URL:-}" ]; then echo "$TORCH_INDEX_URL"; return; fi
  if curl -sf -m 10 -o /dev/null "$cpu_index/torch/"; then
    echo "$cpu_index"
  else
    say "PyTorch's CPU index ($cpu_index) does not answer: torch comes from PyPI, with ~4.9 GB of CUDA libraries the CPU never uses"
    echo https://pypi.org/simple
  fi
}

# torch and its dependencies as wheels on the host, downloaded once, with a PEP 503 index over them (simple/) that
# the build uses as its torch index. pip's HTTP cache cannot stand in for this (it keeps nothing behind a proxy that
# drops Cache-Control, as here), nor can --find-links (pip 23 still took torch from the index: seen here).
wheelhouse() {
  local index=$1 folder=$cache/wheels/$2 started
  if [ -f "$folder/.complete-$torch_pin" ]; then
    say "torch wheels from $folder"
    echo "$folder"
    return
  fi
  mkdir -p "$folder"
  started=$(date +%s)
  say "torch wheels into $folder (pip's progress below; ~3 GB from PyPI the first time, nothing the next)"
  local pip=(python3 -m pip)
  [ -x .venv/bin/python ] && pip=(.venv/bin/python -m pip)
  "${pip[@]}" download --disable-pip-version-check --progress-bar on --index-url "$index" -d "$folder" "$torch_pin" >&2
  local wheel name
  rm -rf "$folder/simple"
  for wheel in "$folder"/*.whl; do
    wheel=$(basename "$wheel")
    name=$(echo "${wheel%%-*}" | tr 'A-Z_.' 'a-z--')      # the project's normalized name (PEP 503)
    mkdir -p "$folder/simple/$name"
    echo "<a href=\"../../$wheel\">$wheel</a><br>" >> "$folder/simple/$name/index.html"
  done
  touch "$folder/.complete-$torch_pin"
  say "wheels ready in $(elapsed "$started") ($(du -sh "$folder" | cut -f1))"
  echo "$folder"
}

build() {
  local tag=${1:-localhost/pressqa:latest} index folder started args=()
  base
  index=$(torch_index)
  folder=$(wheelhouse "$index" "$(echo "$index" | tr -c 'a-zA-Z0-9\n' '_')")
  args+=(--build-arg "BASE_IMAGE=$base_image" --build-arg TORCH_INDEX_URL=file:///wheels/simple -v "$folder:/wheels:ro")
  if [ -n "$ca_bundle" ] && [ -s "$ca_bundle" ]; then
    args+=(--secret "id=ca_bundle,src=$ca_bundle")
  fi
  started=$(date +%s)
  say "building $tag from docker/Dockerfile (torch from $index, through $folder)"
  # --format docker keeps the HEALTHCHECK (OCI images have no field for it)
  # shellcheck disable=SC2086  # PODMAN_BUILD_OPTIONS: more options, split on spaces (the test: --layers=false)
  podman build --format docker --ignorefile docker/Dockerfile.dockerignore -f docker/Dockerfile "${args[@]}" \
    ${PODMAN_BUILD_OPTIONS:-} -t "$tag" . >&2
  say "built $tag in $(elapsed "$started"): $(podman image inspect --format '{{.Size}}' "$tag" | awk '{printf "%.2f GB", $1/1e9}')"
}

case "${1:-}" in
  base) base ;;
  build) shift; build "$@" ;;
  remove-base) podman image rm --force "$base_image" >/dev/null 2>&1 || true ;;
  *) sed -n '2,20p' "$0" >&2; exit 2 ;;
esac
