#!/usr/bin/env bash
# `make sam-local-test`: the service in real Lambda containers, driven over loopback.
#
# 1. installs docker.io and debootstrap with apt when missing (root only);
# 2. uses a running Docker daemon, or starts dockerd and stops it afterwards;
# 3. builds (or reuses, cached) the local Lambda base image: tools/sam_local/build_image.sh;
#    SAM_INVOKE_IMAGE=public.ecr.aws/lambda/python:3.13 uses AWS's image instead (pulled
#    once, where the registry is reachable), SAM_INVOKE_IMAGE=sam lets SAM pick its default;
# 4. sam build; 5. tools/sam_local/e2e.py (quick start through sam local start-api, every
#    sample event through sam local invoke).
# Everything started here (dockerd, SAM, containers) is stopped on every exit path. Two runs
# at once wait for each other (flock). Bounded: SAM_LOCAL_TEST_TIMEOUT seconds (default 900).
set -euo pipefail

cd "$(dirname "$0")/../.."
ROOT=$PWD
LOCK=${SAM_LOCAL_LOCK:-/run/lock/profile-photos-sam-local.lock}
TIMEOUT=${SAM_LOCAL_TEST_TIMEOUT:-900}
LOGS=$ROOT/.cache/sam-local-test
DOCKERD_PID=""
started=$SECONDS

log() { echo "sam-local-test: $*" >&2; }
fail() { log "FAIL: $*"; exit 1; }

mkdir -p "$LOGS" "$(dirname "$LOCK")"
exec 9>"$LOCK"
flock -w 900 9 || fail "another sam-local-test holds $LOCK"

cleanup() {
  local status=$?
  trap - EXIT INT TERM
  # Lambda containers SAM did not remove (a killed run), by SAM's own label. On a daemon
  # this run started they can only be this run's; on a daemon that was already running they
  # might be someone's `make sam-api`, so they are only named.
  if command -v docker >/dev/null && timeout 10 docker info >/dev/null 2>&1; then
    mapfile -t leftovers < <(timeout 10 docker ps -aq --filter label=sam.cli.container.type=lambda)
    if ((${#leftovers[@]})) && [[ -n $DOCKERD_PID ]]; then
      log "removing ${#leftovers[@]} leftover SAM container(s)"
      timeout 60 docker rm -f "${leftovers[@]}" >/dev/null 2>&1 || true
    elif ((${#leftovers[@]})); then
      log "SAM containers still present (not removed: the daemon was not started here): ${leftovers[*]}"
    fi
  fi
  if [[ -n $DOCKERD_PID ]] && kill -0 "$DOCKERD_PID" 2>/dev/null; then
    log "stopping the dockerd this run started (pid $DOCKERD_PID)"
    kill -TERM "$DOCKERD_PID" 2>/dev/null || true
    for _ in $(seq 1 40); do kill -0 "$DOCKERD_PID" 2>/dev/null || break; sleep 0.5; done
    kill -KILL "$DOCKERD_PID" 2>/dev/null || true
  fi
  log "$([[ $status == 0 ]] && echo passed || echo "failed ($status)") in $((SECONDS - started))s"
  exit "$status"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

# ------------------------------------------------------------------ 1. packages
need=()
command -v dockerd >/dev/null || need+=(docker.io)
command -v debootstrap >/dev/null || need+=(debootstrap)
if ((${#need[@]})); then
  [[ $(id -u) == 0 ]] || fail "missing ${need[*]}: install them (apt-get install ${need[*]}) or run as root"
  log "apt-get install ${need[*]}"
  export DEBIAN_FRONTEND=noninteractive
  timeout 300 apt-get update -qq
  timeout 600 apt-get install -y -qq --no-install-recommends "${need[@]}" >/dev/null
fi

# ------------------------------------------------------------------ 2. the daemon
if timeout 20 docker info >/dev/null 2>&1; then
  log "using the running Docker daemon"
else
  [[ $(id -u) == 0 ]] || fail "no Docker daemon running, and starting one needs root"
  if [[ -S /var/run/docker.sock ]] && ! pgrep -x dockerd >/dev/null; then
    rm -f /var/run/docker.sock # a stale socket of a daemon that died
  fi
  log "starting dockerd (log: $LOGS/dockerd.log)"
  dockerd --host unix:///var/run/docker.sock --pidfile "$LOGS/dockerd.pid" \
    >"$LOGS/dockerd.log" 2>&1 &
  DOCKERD_PID=$!
  for _ in $(seq 1 60); do
    timeout 5 docker info >/dev/null 2>&1 && break
    kill -0 "$DOCKERD_PID" 2>/dev/null || { tail -n 20 "$LOGS/dockerd.log" >&2; fail "dockerd exited"; }
    sleep 0.5
  done
  timeout 5 docker info >/dev/null 2>&1 || { tail -n 20 "$LOGS/dockerd.log" >&2; fail "dockerd not ready after 30s"; }
fi

# ------------------------------------------------------------------ 3. the base image
case "${SAM_INVOKE_IMAGE:-}" in
  "") IMAGE=$(tools/sam_local/build_image.sh) ;;
  sam) IMAGE="" ;; # SAM's default: public.ecr.aws/lambda/python:3.13 (needs the registry)
  *) IMAGE=$SAM_INVOKE_IMAGE ;;
esac
export SAM_INVOKE_IMAGE=$IMAGE

# ------------------------------------------------------------------ 4. sam build
tools/check_build.sh --build-only >"$LOGS/sam-build.log" 2>&1 \
  || { tail -n 30 "$LOGS/sam-build.log" >&2; fail "sam build"; }
log "sam build done ($((SECONDS - started))s so far)"

# ------------------------------------------------------------------ 5. the test
timeout --kill-after=30 "$TIMEOUT" .venv/bin/python -m tools.sam_local.e2e --logs "$LOGS"
