#!/bin/sh
# Builds the container image from this repository's Dockerfile with podman, from a binary already
# built (`make static`): the Dockerfile's `builder` stage is replaced by a named build context
# holding rootfs/handler and rootfs/outbox (`podman build --build-context builder=DIR`, which
# skips that stage), because no base image can be pulled where this runs. Without the option,
# `docker build .` or `podman build .` builds everything from source in debian:bookworm-slim.
# Usage: scripts/image.sh BINARY TAG      (prints the image id, then its size in bytes)
set -eu
[ $# -eq 2 ] || { echo "usage: scripts/image.sh BINARY TAG" >&2; exit 2; }
bin=$1 tag=$2
if ! command -v podman >/dev/null 2>&1; then
	echo "podman is missing: apt-get install podman runc (make deps installs it as root)" >&2
	exit 1
fi
[ -x "$bin" ] || { echo "$bin: not an executable; run make static" >&2; exit 1; }
cd "$(dirname "$0")/.."
ctx=$(mktemp -d "${TMPDIR:-/tmp}/notify-image.XXXXXX")
trap 'rm -rf "$ctx"' EXIT INT TERM
mkdir -p "$ctx/rootfs/outbox"
cp "$bin" "$ctx/rootfs/handler"
chmod 0755 "$ctx/rootfs/handler" "$ctx/rootfs" "$ctx/rootfs/outbox"
podman build -q --build-context builder="$ctx" -f Dockerfile -t "$tag" .
podman image inspect -f '{{.Size}}' "$tag"
