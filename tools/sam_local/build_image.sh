#!/usr/bin/env bash
# Build (or reuse) a Lambda-compatible Python 3.13 base image for `sam local`, without any
# image registry: Debian's python3.13 from the Debian mirror (debootstrap), awslambdaric
# from PyPI, and a /var/runtime/bootstrap that runs it. SAM CLI adds its own Runtime
# Interface Emulator (samcli/local/rapid/) and the template's layers on top of it.
#
# Usage: tools/sam_local/build_image.sh            prints the image name on stdout
#   SAM_LOCAL_IMAGE  image name (default local/lambda-python:3.13)
#   SAM_LOCAL_CACHE  cache folder for the root filesystem tarball (default
#                    /var/cache/profile-photos): a second build, or one after the image was
#                    removed, imports the tarball again instead of running debootstrap.
#   DEBIAN_MIRROR    default: the first deb.debian.org-style mirror in apt's sources
#
# Needs root, docker (a running daemon) and debootstrap. Where AWS's registry is reachable,
# `public.ecr.aws/lambda/python:3.13` does the same job: this image is only the fallback.
set -euo pipefail

cd "$(dirname "$0")/../.."
IMAGE=${SAM_LOCAL_IMAGE:-local/lambda-python:3.13}
CACHE=${SAM_LOCAL_CACHE:-/var/cache/profile-photos}
SUITE=trixie # Debian 13: python3.13, the Lambda runtime's minor version
RIC_VERSION=4.2.2
PY313=${PY313:-}

log() { echo "build_image: $*" >&2; }
fail() { log "FAIL: $*"; exit 1; }

# Everything that shapes the image goes into its key: change any of it and the image and
# the tarball are rebuilt, not silently reused.
bootstrap_script() {
  cat <<'SH'
#!/bin/sh
# Lambda's custom-runtime entry point: the emulator (or Lambda) runs this with _HANDLER set.
export PYTHONPATH="${LAMBDA_TASK_ROOT:-/var/task}:/opt/python:/var/runtime"
exec /usr/bin/python3.13 -m awslambdaric "$_HANDLER"
SH
}
KEY=$( { bootstrap_script; echo "$SUITE $RIC_VERSION v1"; } | sha256sum | cut -c1-16)
TARBALL=$CACHE/lambda-python3.13-$KEY.tar

have_image() {
  [[ "$(docker image inspect -f '{{range .Config.Env}}{{println .}}{{end}}' "$IMAGE" 2>/dev/null \
    | grep -c "^PROFILE_PHOTOS_IMAGE_KEY=$KEY$")" == 1 ]]
}

if have_image; then
  log "$IMAGE is current (key $KEY)"
  echo "$IMAGE"
  exit 0
fi

[[ $(id -u) == 0 ]] || fail "building the image needs root (debootstrap)"
mkdir -p "$CACHE"

if [[ ! -s $TARBALL ]]; then
  command -v debootstrap >/dev/null || fail "debootstrap missing (apt-get install debootstrap)"
  if [[ -z ${DEBIAN_MIRROR:-} ]]; then
    DEBIAN_MIRROR=$(grep -rhoE 'https?://[^ ]+/debian/?( |$)' /etc/apt/sources.list \
      /etc/apt/sources.list.d/ 2>/dev/null | head -n1 | tr -d ' ' || true)
    DEBIAN_MIRROR=${DEBIAN_MIRROR:-http://deb.debian.org/debian}
  fi
  if [[ -z $PY313 ]]; then
    for candidate in .venv/bin/python3.13 "$(command -v python3.13 || true)"; do
      [[ -n $candidate && -x $candidate ]] && { PY313=$candidate; break; }
    done
  fi
  [[ -n $PY313 ]] || fail "no python3.13 on this machine to install awslambdaric with"

  work=$(mktemp -d "$CACHE/rootfs.XXXXXX")
  trap 'rm -rf "$work"' EXIT
  rootfs=$work/rootfs
  started=$SECONDS
  log "debootstrap $SUITE from $DEBIAN_MIRROR (about a minute)"
  timeout 600 debootstrap --variant=minbase --include=python3.13,ca-certificates \
    "$SUITE" "$rootfs" "$DEBIAN_MIRROR" >"$work/debootstrap.log" 2>&1 \
    || { tail -n 30 "$work/debootstrap.log" >&2; fail "debootstrap failed"; }
  log "installing awslambdaric $RIC_VERSION into /var/runtime"
  timeout 300 "$PY313" -m pip install --quiet --disable-pip-version-check --no-compile \
    --only-binary=:all: --python-version 3.13 --platform manylinux2014_x86_64 \
    --target "$rootfs/var/runtime" "awslambdaric==$RIC_VERSION"
  bootstrap_script >"$rootfs/var/runtime/bootstrap"
  chmod 0755 "$rootfs/var/runtime/bootstrap"
  mkdir -p "$rootfs/var/task" "$rootfs/opt"
  rm -rf "$rootfs"/var/cache/apt/archives/*.deb "$rootfs"/var/lib/apt/lists/* \
    "$rootfs"/usr/share/doc "$rootfs"/usr/share/man "$rootfs"/usr/share/locale
  tar -C "$rootfs" --numeric-owner -cf "$work/rootfs.tar" .
  mv "$work/rootfs.tar" "$TARBALL"
  rm -rf "$work"
  trap - EXIT
  # older keys' tarballs are dead weight
  find "$CACHE" -maxdepth 1 -name 'lambda-python3.13-*.tar' ! -name "$(basename "$TARBALL")" \
    -delete
  log "root filesystem built in $((SECONDS - started))s: $TARBALL ($(du -m "$TARBALL" | cut -f1) MB)"
else
  log "reusing $TARBALL"
fi

log "docker import -> $IMAGE"
timeout 300 docker import \
  -c 'ENV LANG=C.UTF-8' \
  -c 'ENV TZ=:UTC' \
  -c 'ENV PATH=/usr/local/bin:/usr/bin:/bin:/opt/bin' \
  -c 'ENV LAMBDA_TASK_ROOT=/var/task' \
  -c 'ENV LAMBDA_RUNTIME_DIR=/var/runtime' \
  -c "ENV PROFILE_PHOTOS_IMAGE_KEY=$KEY" \
  -c 'WORKDIR /var/task' \
  -c 'ENTRYPOINT ["/var/runtime/bootstrap"]' \
  "$TARBALL" "$IMAGE" >/dev/null
have_image || fail "$IMAGE was imported but does not carry key $KEY"
echo "$IMAGE"
