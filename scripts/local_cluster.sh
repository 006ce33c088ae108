# What scripts/opensearch_local.sh and scripts/elasticsearch_local.sh share (sourced, not run): where the
# nodes' files live, the run user, tools, apt, node pids, health waits, stop and status.
#
# The caller sets ENGINE (folder name), LOG_NAME, RUN_USER, NODES, NODE_PREFIX (os, es), HTTP_PORT and
# TRANSPORT_PORT (node 0's; node n adds n), HEAP, START_TIMEOUT (seconds to green), PID_FILE (a node's pid file
# name), CLUSTER_LOG (its log file name), URL_VARIABLE, optionally CLUSTER_JAVA_HOME, and defines node_home
# (the unpacked distribution, under $STATE) before calling `locate_state`.

umask 022   # the nodes run as $RUN_USER: everything this script creates must be readable by it

log() { echo "$LOG_NAME: $*" >&2; }

node_url() { echo "http://127.0.0.1:$((HTTP_PORT + $1))"; }

urls_line() {  # the line to paste: the comma-separated URLs of all nodes
  local urls=() n
  for n in $(seq 0 $((NODES - 1))); do urls+=("$(node_url "$n")"); done
  (IFS=,; echo "${URL_VARIABLE}=${urls[*]}")
}

java_home() {  # a JDK 17 or 21 (the servers run on either; the Elasticsearch module is compiled with its javac)
  if [ -n "${CLUSTER_JAVA_HOME:-}" ]; then echo "$CLUSTER_JAVA_HOME"; return; fi
  for candidate in /usr/lib/jvm/java-17-openjdk-amd64 /usr/lib/jvm/java-21-openjdk-amd64; do
    [ -x "$candidate/bin/java" ] && { echo "$candidate"; return; }
  done
  dirname "$(dirname "$(readlink -f "$(command -v java)")")"
}

apt_get() {  # apt-get that waits (up to 10 min) for a lock another apt or dpkg holds, instead of failing
  # DPkg::Lock::Timeout covers the dpkg frontend lock of `install`; `update` takes the lists lock, which has
  # no timeout option, so a lock error is retried.
  local deadline=$((SECONDS + 600)) output
  while true; do
    if output=$(DEBIAN_FRONTEND=noninteractive apt-get -o DPkg::Lock::Timeout=600 -qq "$@" 2>&1 >/dev/null); then return 0; fi
    case "$output" in
      *"Could not get lock"* | *"Unable to lock"* | *"Unable to acquire"*)
        [ $SECONDS -lt $deadline ] || { log "apt-get $*: lock still held after 10 min: $output"; return 1; }
        log "apt-get $1: waiting for a lock another package manager holds"; sleep 5 ;;
      *) log "apt-get $* failed: $output"; return 1 ;;
    esac
  done
}

ensure_tools() {  # curl and unzip from Debian's packages (a fresh machine has Java and Maven)
  local missing=() tool
  for tool in curl unzip setpriv; do command -v "$tool" >/dev/null || missing+=("$tool"); done
  [ ${#missing[@]} = 0 ] && return
  [ "$(id -u)" = 0 ] || { log "missing: ${missing[*]} (install them, or run as root)"; exit 1; }
  log "installing ${missing[*]}"
  local packages=("${missing[@]/setpriv/util-linux}")
  apt_get update && apt_get install -y "${packages[@]}"
}

mvn_copy() {  # group:artifact:version[:packaging] into a folder (Maven's local repository caches it)
  local output
  output=$(mvn -q -B -Dstyle.color=never dependency:copy -Dartifact="$1" -DoutputDirectory="$2" \
    -Dmdep.overWriteIfNewer=true 2>&1) || { log "Maven could not fetch $1: $output"; return 1; }
}

fetch_server() {  # the integ-test zip "$1" (group:artifact) of $VERSION from Maven Central, unpacked as $HOME_DIR
  local name=${1##*:}
  command -v mvn >/dev/null || { log "Maven (mvn) is needed"; exit 1; }
  ensure_tools
  mkdir -p "$STATE/downloads"
  [ -x "$HOME_DIR/bin/$name" ] && return
  log "fetching $1:$VERSION from Maven Central"
  mvn_copy "$1:$VERSION:zip" "$STATE/downloads"
  rm -rf "$HOME_DIR.partial" && mkdir -p "$HOME_DIR.partial"
  unzip -q "$STATE/downloads/$name-$VERSION.zip" -d "$HOME_DIR.partial"
  mv "$HOME_DIR.partial/$name-$VERSION" "$HOME_DIR" && rm -rf "$HOME_DIR.partial"
}

ensure_user() {
  id -u "$RUN_USER" >/dev/null 2>&1 && return
  [ "$(id -u)" = 0 ] || { log "user $RUN_USER is missing and only root can create it"; exit 1; }
  log "creating system user $RUN_USER"
  useradd --system --no-create-home --shell /usr/sbin/nologin "$RUN_USER"
}

locate_state() {  # STATE: the folder of the distribution, the nodes' config, data and logs
  # Inside the checkout (.cache/, git-ignored) when $RUN_USER can reach it; a checkout in a mode-700 folder
  # (root's home, mktemp -d) cannot be entered by another user, so the files then live in a system folder
  # keyed by the checkout's path, one per checkout.
  STATE=$PWD/.cache/$ENGINE
  if [ "$(id -u)" = 0 ] && id -u "$RUN_USER" >/dev/null 2>&1 \
    && ! setpriv --reuid="$RUN_USER" --regid="$RUN_USER" --clear-groups test -x "$PWD" 2>/dev/null; then
    local key
    key=$(printf '%s' "$PWD" | sha256sum | cut -c1-16)
    STATE=/var/lib/pressqa-local/$key/$ENGINE
    mkdir -p "$STATE" && chmod 755 /var/lib/pressqa-local "/var/lib/pressqa-local/$key"
    echo "$PWD" >"/var/lib/pressqa-local/$key/checkout"
  fi
  HOME_DIR=$(node_home)
  NODES_DIR=$STATE/nodes
}

node_dir() { echo "$NODES_DIR/$NODE_PREFIX$1"; }

node_pid() {  # the pid of node $1 if it runs (and is ours: its command line names our distribution folder)
  local file pid
  file=$(node_dir "$1")/$PID_FILE
  [ -s "$file" ] || return 1
  pid=$(cat "$file")
  [ -r "/proc/$pid/cmdline" ] && tr '\0' ' ' <"/proc/$pid/cmdline" | grep -q -- "$HOME_DIR" && echo "$pid"
}

prepare_node_dirs() {  # node $1: its folders, owned by the run user
  local dir
  dir=$(node_dir "$1")
  mkdir -p "$dir/config" "$dir/data" "$dir/logs" "$dir/tmp"
  cp -r "$HOME_DIR/config/." "$dir/config/"
}

launch_node() {  # node $1 as $RUN_USER, daemonized, with the engine's variables ($2 …); returns once it started or failed
  local n=$1 dir
  dir=$(node_dir "$1")
  shift
  (cd "$dir" && setpriv --reuid="$RUN_USER" --regid="$RUN_USER" --clear-groups env -i PATH=/usr/bin:/bin "$@" \
    "$HOME_DIR/bin/$ENGINE" -d -p "$dir/$PID_FILE" >"$dir/logs/launcher.out" 2>&1) || {
    log "node $NODE_PREFIX$n did not start:"
    grep -v "^warning: \|^WARNING: .*[Ss]ecurity[Mm]anager" "$dir/logs/launcher.out" >&2
    return 1
  }
}

wait_for() {  # a health status ("green", "yellow") with all nodes within $2 seconds
  local deadline=$((SECONDS + $2)) health="" n
  while [ $SECONDS -lt $deadline ]; do
    health=$(curl -s -m 5 "$(node_url 0)/_cluster/health?wait_for_status=$1&wait_for_nodes=$NODES&timeout=5s" || true)
    case "$health" in *"\"timed_out\":false"*) echo "$health"; return 0 ;; esac
    sleep 2
  done
  log "cluster not $1 after $2 s: ${health:-no answer on $(node_url 0)}"
  for n in $(seq 0 $((NODES - 1))); do tail -n 5 "$(node_dir "$n")/logs/$CLUSTER_LOG" 2>/dev/null >&2 || true; done
  return 1
}

start_nodes() {  # start the nodes that are not running (write_config and launch are the engine's), wait for green
  local launched=() failed=0 n pid
  for n in $(seq 0 $((NODES - 1))); do
    if node_pid "$n" >/dev/null; then continue; fi
    if curl -s -m 2 "$(node_url "$n")" >/dev/null; then
      log "port $((HTTP_PORT + n)) answers but not a node of this checkout's script: stop that process first"; exit 1
    fi
    prepare_node_dirs "$n"
    write_config "$n"
    chown -R "$RUN_USER:" "$(node_dir "$n")"
    log "starting node $NODE_PREFIX$n (heap $HEAP, HTTP $((HTTP_PORT + n)), transport $((TRANSPORT_PORT + n)))"
    launch "$n" &   # in parallel: each launcher waits for its node's bootstrap
    launched+=($!)
  done
  [ ${#launched[@]} = 0 ] && log "all $NODES nodes already running"
  for pid in "${launched[@]}"; do wait "$pid" || failed=1; done
  [ $failed = 0 ] || exit 1
  wait_for green "$START_TIMEOUT" >/dev/null
}

stop_nodes() {  # only the pids in this checkout's pid files, each checked to be one of its nodes
  local pids=() n pid
  for n in $(seq 0 $((NODES - 1))); do
    if pid=$(node_pid "$n"); then kill "$pid" && pids+=("$pid") && log "stopping node $NODE_PREFIX$n (pid $pid)"; fi
  done
  for pid in "${pids[@]}"; do
    for _ in $(seq 60); do kill -0 "$pid" 2>/dev/null || break; sleep 0.5; done
    kill -0 "$pid" 2>/dev/null && { log "pid $pid still running after 30 s: kill -9"; kill -9 "$pid"; }
  done
  rm -f "$NODES_DIR"/"$NODE_PREFIX"*/"$PID_FILE"
  return 0
}

show_status() {  # exit 1 when the cluster does not answer
  local n pid
  echo "files: $STATE"
  for n in $(seq 0 $((NODES - 1))); do
    if pid=$(node_pid "$n"); then echo "$NODE_PREFIX$n: running, pid $pid"; else echo "$NODE_PREFIX$n: not running"; fi
  done
  curl -s -m 5 "$(node_url 0)/_cluster/health?pretty" || { echo "no answer on $(node_url 0)"; return 1; }
  curl -s -m 5 "$(node_url 0)/_cat/nodes?v&h=name,ip,http_address,heap.max,node.role,master"
  urls_line
}

after_start() { log "cluster green"; }  # an engine may define its own after sourcing this file

cluster_main() {  # the commands; the engine defines fetch, write_config and launch
  case "${1:-}" in
    start) ensure_tools; ensure_user; locate_state; fetch; start_nodes; after_start; urls_line ;;
    stop) locate_state; stop_nodes ;;
    status) locate_state; show_status ;;
    fetch) ensure_tools; ensure_user; locate_state; fetch ;;
    *) echo "usage: $0 start|stop|status|fetch" >&2; exit 2 ;;
  esac
}
