#!/bin/sh
# Prints, on one line, the podman command prefix that can run IMAGE on this machine (the caller
# appends its `run` options, the image and its arguments). Podman's defaults fail on some hosts:
# with hybrid cgroups v1/v2, or without CAP_SYS_RESOURCE, where the runtime cannot raise the
# open-files and process limits podman asks for. Each candidate runs `IMAGE --version` once, the
# defaults first; the first that works is printed. Exit 1 when none does (the last error shown).
# Usage: scripts/podman-run.sh IMAGE
set -eu
[ $# -eq 1 ] || { echo "usage: scripts/podman-run.sh IMAGE" >&2; exit 2; }
image=$1
# Limits low enough that a runtime without CAP_SYS_RESOURCE can set them: 1024 open files is
# the common default soft limit, 1000 processes the handler never approaches (8 workers).
LIMITS="--ulimit nofile=1024:1024 --ulimit nproc=1000:1000"
err=$(mktemp "${TMPDIR:-/tmp}/podman-run.XXXXXX")
trap 'rm -f "$err"' EXIT INT TERM
for prefix in "podman run" "podman run $LIMITS" \
	"podman --runtime runc --cgroup-manager=cgroupfs run $LIMITS"; do
	# shellcheck disable=SC2086 # the prefix is words on purpose
	if $prefix --rm --network=host "$image" --version >/dev/null 2>"$err"; then
		echo "$prefix"
		exit 0
	fi
done
cat "$err" >&2
exit 1
