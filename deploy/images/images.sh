#!/usr/bin/env bash
# Builds Warden's OCI images with buildah (no Docker daemon): warden-<service>:<version> for the
# six services, from deploy/images/Containerfile.
#
# Usage: deploy/images/images.sh base|build [service...]|list
#   base    assemble the two base images from this machine's Node.js (`buildah from scratch`):
#             localhost/warden/node-runtime  node, the C libraries it links, CA certificates,
#                                            /etc/passwd with user warden (10001), /tmp
#             localhost/warden/node-build    the same plus npm (the dependencies stage only)
#   build   base (when missing), then one image per service (all six by default); run
#           `npm run build` first (npm run images does both)
#   list    the images built
#
# Environment: WARDEN_IMAGE_PREFIX (default localhost/warden), WARDEN_IMAGE_TAG (default: the
# version in package.json), WARDEN_HOME (staging, default <repo>/.warden). As root on Debian,
# missing buildah/podman are installed with apt-get. Why: docs/adr/0095-service-images.md
set -euo pipefail

SCRIPT_DIR="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
REPO_ROOT="$(cd "$SCRIPT_DIR/../.." && pwd)"
SERVICES=(registry policy budget approval trace killswitch)
PREFIX="${WARDEN_IMAGE_PREFIX:-localhost/warden}"
TAG="${WARDEN_IMAGE_TAG:-$(node -p 'require(process.argv[1]).version' "$REPO_ROOT/package.json")}"
STAGE="$(realpath -m -- "${WARDEN_HOME:-$REPO_ROOT/.warden}")/images"
NODE_BIN="$(readlink -f "$(command -v node)")"
RUNTIME_BASE="localhost/warden/node-runtime"
BUILD_BASE="localhost/warden/node-build"

log() { echo "images.sh: $*" >&2; }
die() { log "$*"; exit 1; }

ensure_tools() {
  command -v buildah >/dev/null && command -v podman >/dev/null && return 0
  if [[ "$(id -u)" == 0 ]] && command -v apt-get >/dev/null; then
    log "installing buildah and podman (Debian packages)"
    DEBIAN_FRONTEND=noninteractive apt-get update -qq >/dev/null &&
      DEBIAN_FRONTEND=noninteractive apt-get install -y -qq buildah podman runc >/dev/null ||
      die "apt-get install buildah podman failed"
    return 0
  fi
  die "buildah and podman are needed (Debian: apt-get install -y buildah podman)"
}

# The base's identity: the Node binary and what images.sh puts beside it.
base_tag() {
  local node_version
  node_version="$("$NODE_BIN" --version)"
  echo "${node_version#v}-$( (sha256sum "$NODE_BIN" "$0" | cut -c1-16) | sha256sum | cut -c1-12)"
}

# Copies node and every shared library it links (ldd) into a mounted root.
copy_node() { # root
  local root=$1 lib
  install -D -m 0755 "$NODE_BIN" "$root/usr/bin/node"
  for lib in $(ldd "$NODE_BIN" | grep -o '/[^ ]*'); do
    install -D -m 0755 "$(readlink -f "$lib")" "$root$lib"
  done
}

do_base() {
  local tag ctr root
  tag="$(base_tag)"
  if buildah inspect --type image "$RUNTIME_BASE:$tag" >/dev/null 2>&1 &&
    buildah inspect --type image "$BUILD_BASE:$tag" >/dev/null 2>&1; then
    return 0
  fi
  log "assembling $RUNTIME_BASE:$tag and $BUILD_BASE:$tag from $NODE_BIN"
  ctr="$(buildah from scratch)"
  root="$(buildah mount "$ctr")"
  copy_node "$root"
  mkdir -p "$root/etc/ssl/certs" "$root/tmp" "$root/app"
  chmod 1777 "$root/tmp"
  # Debian's Mozilla CA bundle only (not this machine's local additions).
  cat /usr/share/ca-certificates/mozilla/*.crt >"$root/etc/ssl/certs/ca-certificates.crt"
  printf 'root:x:0:0:root:/root:/sbin/nologin\nwarden:x:10001:10001:warden:/app:/sbin/nologin\n' >"$root/etc/passwd"
  printf 'root:x:0:\nwarden:x:10001:\n' >"$root/etc/group"
  buildah umount "$ctr" >/dev/null
  buildah config --env SSL_CERT_FILE=/etc/ssl/certs/ca-certificates.crt --user 10001:10001 \
    --label org.opencontainers.image.description="Node.js $("$NODE_BIN" --version), no shell" "$ctr"
  buildah commit -q --rm "$ctr" "$RUNTIME_BASE:$tag" >/dev/null
  buildah tag "$RUNTIME_BASE:$tag" "$RUNTIME_BASE:latest"

  ctr="$(buildah from "$RUNTIME_BASE:$tag")"
  root="$(buildah mount "$ctr")"
  mkdir -p "$root/usr/lib/node_modules" "$root/root"
  cp -a "$(dirname "$(dirname "$(readlink -f "$(command -v npm)")")")" "$root/usr/lib/node_modules/npm"
  # The build stage trusts what this machine trusts (its registry may sit behind a TLS proxy);
  # nothing of this stage reaches the service images.
  cp /etc/ssl/certs/ca-certificates.crt "$root/etc/ssl/certs/ca-certificates.crt"
  buildah umount "$ctr" >/dev/null
  buildah config --user 0:0 --env HOME=/root --env NODE_EXTRA_CA_CERTS=/etc/ssl/certs/ca-certificates.crt "$ctr"
  buildah commit -q --rm "$ctr" "$BUILD_BASE:$tag" >/dev/null
  buildah tag "$BUILD_BASE:$tag" "$BUILD_BASE:latest"
}

# The build context: only what the Containerfile copies.
stage_context() {
  [[ -f "$REPO_ROOT/dist/apps/registry/src/main.js" ]] || die "no dist/: run npm run build first"
  rm -rf "$STAGE/context"
  mkdir -p "$STAGE/context/dist"
  cp "$REPO_ROOT/package.json" "$REPO_ROOT/package-lock.json" "$STAGE/context/"
  cp -a "$REPO_ROOT/dist/apps" "$REPO_ROOT/dist/libs" "$STAGE/context/dist/"
  find "$STAGE/context/dist" -name '*.map' -delete
}

do_build() {
  local services=("$@") tag s
  [[ ${#services[@]} -gt 0 ]] || services=("${SERVICES[@]}")
  for s in "${services[@]}"; do
    [[ " ${SERVICES[*]} " == *" $s "* ]] || die "unknown service '$s' (one of: ${SERVICES[*]})"
  done
  do_base
  tag="$(base_tag)"
  stage_context
  for s in "${services[@]}"; do
    log "building $PREFIX-$s:$TAG"
    buildah bud --quiet --isolation chroot --layers \
      --build-arg "BUILDER_IMAGE=$BUILD_BASE:$tag" --build-arg "RUNTIME_IMAGE=$RUNTIME_BASE:$tag" \
      --build-arg "SERVICE=$s" -f "$SCRIPT_DIR/Containerfile" -t "$PREFIX-$s:$TAG" "$STAGE/context" >/dev/null
    echo "$PREFIX-$s:$TAG"
  done
}

case "${1:-}" in
  base) ensure_tools; do_base ;;
  build) shift; ensure_tools; do_build "$@" ;;
  list) buildah images --format '{{.Name}}:{{.Tag}} {{.Size}}' | grep -F "$PREFIX-" || true ;;
  *) echo "usage: $0 base|build [service...]|list" >&2; exit 2 ;;
esac
