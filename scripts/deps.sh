#!/bin/sh
# Installs what the build and the tests need from Debian, then builds BearSSL from Debian's
# source package with musl-gcc into build/deps/ and copies jsmn.h beside it.
# As root it installs what is missing; otherwise it prints the exact apt-get line and fails.
# Usage: [NOTIFY_DEPS=build] scripts/deps.sh [DEPS_DIR]   (default build/deps)
set -eu
DEPS=${1:-build/deps}
# DEPS=build (compose.yaml, Dockerfile): only what `make static zip` needs; otherwise the test
# and bench tools too.
PKGS="musl-tools dpkg-dev libjsmn-dev zip file binutils make gcc"
[ "${NOTIFY_DEPS:-all}" = build ] || PKGS="$PKGS libcmocka-dev python3-pytest clang-14 \
libclang-rt-14-dev llvm-14 openssl unzip wrk hyperfine valgrind curl podman runc gnuplot-nox"

missing=""
for p in $PKGS; do
	dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing="$missing $p"
done
if [ -n "$missing" ]; then
	if [ "$(id -u)" != 0 ]; then
		echo "missing Debian packages; run as root:" >&2
		echo "  apt-get update && apt-get install -y$missing" >&2
		exit 1
	fi
	export DEBIAN_FRONTEND=noninteractive
	apt-get update -qq
	apt-get install -y -qq --no-install-recommends$missing >/dev/null
fi

mkdir -p "$DEPS/include"
[ -f "$DEPS/include/jsmn.h" ] || cp /usr/include/jsmn.h "$DEPS/include/jsmn.h"

# BearSSL: Debian's source package, built with musl-gcc (static binary) and with the host cc
# (dev, sanitizer and fuzz builds link their own copy so no libc is mixed).
# The flags of each variant; a change rebuilds that variant. musl: the shipped binary is static
# and not PIE, so no -fPIC, and no unwind tables (C, no exceptions; they cost ~5 KB).
MUSL_CFLAGS="-W -Wall -Os -ffunction-sections -fdata-sections -fno-asynchronous-unwind-tables -fno-unwind-tables"
HOST_CFLAGS="-W -Wall -Os -fPIC -ffunction-sections -fdata-sections"
stale() { [ "$(cat "$DEPS/bearssl/src/build-$1/.cflags" 2>/dev/null)" != "$2" ]; }
if [ ! -f "$DEPS/bearssl/src/build-musl/libbearssl.a" ] || [ ! -f "$DEPS/bearssl/src/build-host/libbearssl.a" ] || \
   stale musl "$MUSL_CFLAGS" || stale host "$HOST_CFLAGS"; then
	if ! ls "$DEPS"/bearssl-src/bearssl-*/Makefile >/dev/null 2>&1; then
		if ! grep -rqs '^Types:.*deb-src' /etc/apt/sources.list.d/ && \
		   ! grep -qs '^deb-src' /etc/apt/sources.list; then
			if [ "$(id -u)" != 0 ]; then
				echo "no deb-src entry; as root add one to /etc/apt/sources.list.d/ (see scripts/deps.sh)" >&2
				exit 1
			fi
			cat > /etc/apt/sources.list.d/debian-src.sources <<'SRC'
Types: deb-src
URIs: http://deb.debian.org/debian
Suites: bookworm
Components: main
Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg
SRC
			apt-get update -qq
		fi
		rm -rf "$DEPS/bearssl-src"; mkdir -p "$DEPS/bearssl-src"
		(cd "$DEPS/bearssl-src" && apt-get source -qq bearssl >/dev/null 2>&1 || \
			(cd "$DEPS/bearssl-src" && apt-get source bearssl))
	fi
	src=$(ls -d "$DEPS"/bearssl-src/bearssl-*/ | head -n 1)
	if [ ! -f "$DEPS/bearssl/src/Makefile" ]; then
		rm -rf "$DEPS/bearssl"; mkdir -p "$DEPS/bearssl"
		cp -r "$src" "$DEPS/bearssl/src"
	fi
	b="$DEPS/bearssl/src"
	for v in musl host; do
		if [ $v = musl ]; then cc=musl-gcc; flags=$MUSL_CFLAGS; else cc=cc; flags=$HOST_CFLAGS; fi
		[ -f "$b/build-$v/libbearssl.a" ] && ! stale $v "$flags" && continue
		rm -rf "$b/build-$v"
		cat > "$b/conf/$v.mk" <<MK
include conf/Unix.mk
BUILD = build-$v
CC = $cc
LD = $cc
LDDLL = $cc
CFLAGS = $flags
LDFLAGS = -Wl,--gc-sections
DLL = no
MK
		make -s -C "$b" CONF=$v -j2 lib >/dev/null
		echo "$flags" > "$b/build-$v/.cflags"
	done
fi
echo "deps ready in $DEPS"
