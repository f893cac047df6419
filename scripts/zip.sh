#!/bin/sh
# zip.sh: builds the Azure Functions deploy package, reproducibly.
#
#   sh scripts/zip.sh <out.zip> <handler-binary> <functions-dir>
#
# The package holds, at its root (no parent folder: "Azure Functions custom handlers",
# https://learn.microsoft.com/azure/azure-functions/functions-custom-handlers, "Application
# structure"; "Zip deployment for Azure Functions",
# https://learn.microsoft.com/azure/azure-functions/deployment-zip-push):
#   handler                   the binary, stored with mode 0755 (-rwxr-xr-x) so the host can
#                             exec it; plans other than Consumption/Flex never fix a missing bit
#   host.json                 from <functions-dir>
#   <function>/function.json  one folder per function of <functions-dir> (folder name = function name)
# Nothing else of <functions-dir> is taken (READMEs and the like stay out).
#
# Same inputs, same bytes: entries in C-locale order, no directory entries, every timestamp set
# to SOURCE_DATE_EPOCH (default 1980-01-01 00:00:00 UTC, the earliest ZIP date) in UTC, modes
# fixed (0755 handler, 0644 the rest), and `zip -X` so no extra field (uid/gid, extended
# timestamps) is written: each entry carries only its Unix mode. The staging folder lives in
# build/zip/ (ZIP_STAGE_ROOT overrides) and is removed on exit.
#
# Needs only zip (Info-ZIP 3.0, Debian's `zip`) and POSIX sh tools (GNU `touch -d` for
# SOURCE_DATE_EPOCH). Prints "<out.zip>: <size> bytes".
set -eu

usage() {
	echo "usage: sh scripts/zip.sh <out.zip> <handler-binary> <functions-dir>" >&2
	exit 2
}
die() {
	echo "zip.sh: $*" >&2
	exit 1
}

[ $# -eq 3 ] || usage
out=$1
shown=$1
bin=$2
fdir=$3

command -v zip >/dev/null 2>&1 || die "zip is not installed (Debian package: zip)"
[ -f "$bin" ] || die "handler binary not found: $bin"
[ -s "$bin" ] || die "handler binary is empty: $bin"
[ -d "$fdir" ] || die "functions folder not found: $fdir"
[ -f "$fdir/host.json" ] || die "no host.json in $fdir"

root=$(cd "$(dirname "$0")/.." && pwd)
here=$(pwd)
abs() {
	case $1 in
	/*) printf '%s\n' "$1" ;;
	*) printf '%s\n' "$here/$1" ;;
	esac
}
out=$(abs "$out")
bin=$(abs "$bin")
fdir=$(abs "$fdir")

stage_root=${ZIP_STAGE_ROOT:-$root/build/zip}
mkdir -p "$stage_root" "$(dirname "$out")"
stage=$(mktemp -d "$stage_root/stage.XXXXXX")
trap 'rm -rf "$stage"' EXIT
trap 'exit 130' INT TERM
pkg=$stage/pkg
mkdir "$pkg"

# Stage: copy the contents (not the metadata) of every file that goes in.
cp "$bin" "$pkg/handler"
cp "$fdir/host.json" "$pkg/host.json"
nfunc=0
for d in "$fdir"/*/; do
	[ -d "$d" ] || continue
	name=$(basename "$d")
	[ -f "$d/function.json" ] || continue
	case $name in
	[A-Za-z]*) ;;
	*) die "function folder name must start with a letter: $name" ;;
	esac
	case $name in
	*[!A-Za-z0-9_-]*) die "function folder name not allowed by the host: $name" ;;
	esac
	mkdir "$pkg/$name"
	cp "$d/function.json" "$pkg/$name/function.json"
	nfunc=$((nfunc + 1))
done
[ "$nfunc" -gt 0 ] || die "no <function>/function.json in $fdir"

# Metadata: fixed modes and one fixed time for everything.
find "$pkg" -type d -exec chmod 0755 {} +
find "$pkg" -type f -exec chmod 0644 {} +
chmod 0755 "$pkg/handler"
epoch=${SOURCE_DATE_EPOCH:-315532800}
case $epoch in
'' | *[!0-9]*) die "SOURCE_DATE_EPOCH is not a number: $epoch" ;;
esac
[ "$epoch" -ge 315532800 ] || epoch=315532800 # ZIP (DOS) dates start at 1980-01-01
if [ "$epoch" -eq 315532800 ]; then
	find "$pkg" -exec env TZ=UTC0 touch -h -t 198001010000.00 {} +
else
	find "$pkg" -exec env TZ=UTC0 touch -h -d "@$epoch" {} +
fi

# Zip: entries in byte order, files only, no extra fields, best compression; TZ=UTC0 so the DOS
# time written is the same on every machine.
tmp=$stage/out.zip
(cd "$pkg" && find . -type f | sed 's|^\./||' | LC_ALL=C sort |
	TZ=UTC0 zip -X -D -q -9 "$tmp" -@) || die "zip failed"
mv -f "$tmp" "$out"
size=$(wc -c <"$out" | tr -d ' ')
echo "$shown: $size bytes"
