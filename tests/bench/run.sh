#!/usr/bin/env bash
# make bench: every peer in one run, one table.
#  - Through the TLS mock of ACS (tests/bench/acsbench/mock.go, a Go mock that verifies every
#    signature, so the mock is not the bottleneck): the handler, Go (net/http + crypto/tls),
#    Python (standard library) and Node with Microsoft's @azure/communication-email 1.1.0
#    (installed from npm by `make sdk`): artefact size, custom-handler deploy ZIP, exec -> ready
#    and -> first 202, idle and peak RSS, sends/s and CPU per send, host-simulated cold start of
#    each ZIP (tests/integration/fnhost.py), the handler's ratio against each peer; the image
#    size and `podman run` -> first 202 of the handler's image and of a scratch image of the Go
#    peer.
#  - To the outbox, as before: Go net/http, Python http.server and Node http peers; heap
#    allocations per request (valgrind).
#  - SVG charts (gnuplot): cold start, deploy size, RSS, throughput; then `make size`'s tables.
# Writes tests/bench/RESULTS.md and tests/bench/chart-*.svg and prints the table.
# BENCH_QUICK=1: a reduced trial (fewer runs, shorter wrk) written to build/bench/ instead, so a
# trial never replaces the committed results.
# Knobs: BENCH_RUNS (cold starts of C and Go, default 200; quick 20), BENCH_SLOW_RUNS (Python,
# Node: 30; quick 5), BENCH_WRK_SECS (5; quick 2), BENCH_WRK_REPEAT (3; quick 1), BENCH_CONNS
# (8), BENCH_FN_RUNS (30; quick 5), BENCH_PODMAN_RUNS (10; quick 3), BENCH_RSS_REQS (10000;
# quick 2000), BENCH_OUT (where RESULTS.md and the charts go: tests/bench; quick build/bench).
set -euo pipefail
cd "$(dirname "$0")/../.."
B=build/bench
BIN=build/static/handler
QUICK=${BENCH_QUICK:-0}
if [ "$QUICK" = 1 ]; then
	RUNS=${BENCH_RUNS:-20} SLOW_RUNS=${BENCH_SLOW_RUNS:-5} WRK_SECS=${BENCH_WRK_SECS:-2}
	WRK_REPEAT=${BENCH_WRK_REPEAT:-1} FN_RUNS=${BENCH_FN_RUNS:-5} PODMAN_RUNS=${BENCH_PODMAN_RUNS:-3}
	RSS_REQS=${BENCH_RSS_REQS:-2000} OUT=${BENCH_OUT:-$B}
else
	RUNS=${BENCH_RUNS:-200} SLOW_RUNS=${BENCH_SLOW_RUNS:-30} WRK_SECS=${BENCH_WRK_SECS:-5}
	WRK_REPEAT=${BENCH_WRK_REPEAT:-3} FN_RUNS=${BENCH_FN_RUNS:-30} PODMAN_RUNS=${BENCH_PODMAN_RUNS:-10}
	RSS_REQS=${BENCH_RSS_REQS:-10000} OUT=${BENCH_OUT:-tests/bench}
fi
CONNS=${BENCH_CONNS:-8}
PY=/usr/bin/python3
T_START=$(date +%s)
mkdir -p "$B" "$OUT"
# The outbox rows run the handler as the peers run: standalone-style outbox, even with
# FUNCTIONS_CUSTOMHANDLER_PORT set (which without this would answer 503: no transport).
export NOTIFY_TRANSPORT=outbox
SHM=$(mktemp -d /dev/shm/notify-bench.XXXXXX 2>/dev/null || mktemp -d)
trap 'rm -rf "$SHM"; kill $(jobs -p) 2>/dev/null || true' EXIT
step() { echo "== bench: $* ($(($(date +%s) - T_START)) s)" >&2; }

need() { command -v "$1" >/dev/null 2>&1; }
if ! need wrk || ! need valgrind; then
	echo "bench needs wrk and valgrind (make deps installs them)" >&2; exit 1
fi
# Go builds the Go peers and the mock, gnuplot draws the charts: installed here when missing
missing=""
need go || missing="$missing golang-go"
need gnuplot || missing="$missing gnuplot-nox"
if [ -n "$missing" ] && [ "$(id -u)" = 0 ]; then
	# shellcheck disable=SC2086
	DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends $missing >/dev/null
fi
cc -O2 -o "$B/coldstart" tests/bench/coldstart.c
PEERS="c"
if need go; then
	(cd tests/bench/peers && GOCACHE="$PWD/../../../$B/gocache" GOFLAGS=-trimpath \
		go build -ldflags="-s -w" -o "../../../$B/peer-go" peer.go) && PEERS="$PEERS go"
fi
PEERS="$PEERS python node"

# Attack rows (issue 9): RSS with 1,000 idle and with 200 slowloris connections, req/s and p99 of
# ordinary requests under attack, the handler beside the Go peer; a table in $B/attack.md (< 1 min)
attack_rows() { "$PY" tests/bench/attack.py "notify-handler (static musl)=$BIN" "go=$B/peer-go" | tee "$B/attack.md"; }
attack_rows

cmd_of() { # argv of each server
	case $1 in
	c) echo "$BIN" ;;
	go) echo "$B/peer-go" ;;
	python) echo "$PY tests/bench/peers/peer.py" ;;
	node) echo "$(command -v node) tests/bench/peers/peer.js" ;;
	esac
}
# Ports: from a random start, each server gets the next port that nothing listens on (another
# program on this shared machine may hold one); at most 100 tries each.
in_use() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }
next_port() {
	for _ in $(seq 1 100); do
		port=$((port + 1))
		in_use "$port" || return 0
	done
	echo "bench: no free port near $port" >&2; return 1
}
port=$((20000 + RANDOM % 20000))
next_port

start_server() { # name -> sets SPID; waits for readiness
	local dir="$SHM/$1-$port"
	mkdir -p "$dir"
	# shellcheck disable=SC2091 # the command's words, run on purpose
	NOTIFY_OUTBOX_DIR="$dir" PORT=$port BIND=127.0.0.1 NOTIFY_LOG_LEVEL=off \
		FUNCTIONS_CUSTOMHANDLER_PORT=$port $(cmd_of "$1") >/dev/null 2>&1 &
	SPID=$!
	for _ in $(seq 1 500); do
		curl -s -o /dev/null "http://127.0.0.1:$port/" && return 0
		sleep 0.01
	done
	echo "server $1 did not start" >&2; return 1
}
stop_server() { kill "$SPID" 2>/dev/null; wait "$SPID" 2>/dev/null || true; rm -rf "${SHM:?}"/*; next_port; }
rss_kb() { awk '/^VmRSS/ {print $2}' "/proc/$1/status"; }
median() { sort -n | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}'; }

declare -A SIZE COLD RSS0 RSS1 RPS CPU
cpu_ticks() { awk '{print $14 + $15}' "/proc/$1/stat"; } # utime + stime, in clock ticks
for p in $PEERS; do
	step "outbox peer $p"
	case $p in
	c) SIZE[$p]=$(stat -c %s "$BIN") ;;
	go) SIZE[$p]=$(stat -c %s "$B/peer-go") ;;
	*) SIZE[$p]="runtime" ;;
	esac
	runs=$RUNS; case $p in python | node) runs=$SLOW_RUNS ;; esac
	dir="$SHM/cold"; mkdir -p "$dir"
	# shellcheck disable=SC2046
	COLD[$p]=$(NOTIFY_OUTBOX_DIR="$dir" BIND=127.0.0.1 NOTIFY_LOG_LEVEL=off \
		"$B/coldstart" "$runs" "$port" $(cmd_of "$p"))
	rm -rf "$dir"; next_port
	start_server "$p"
	sleep 0.2
	RSS0[$p]=$(rss_kb "$SPID")
	# RSS_REQS (10,000) requests on keep-alive connections, then RSS again
	wrk -t1 -c"$CONNS" -d30s -s tests/bench/post.lua "http://127.0.0.1:$port/api/notification" \
		>/dev/null 2>&1 &
	wpid=$!
	while [ "$(ls "$SHM/$p-$port" | wc -l)" -lt "$RSS_REQS" ] && kill -0 $wpid 2>/dev/null; do sleep 0.05; done
	kill $wpid 2>/dev/null; wait $wpid 2>/dev/null || true
	RSS1[$p]=$(rss_kb "$SPID")
	rates="" cpus=""
	for _ in $(seq 1 "$WRK_REPEAT"); do
		t0=$(cpu_ticks "$SPID")
		out=$(wrk -t1 -c"$CONNS" -d"${WRK_SECS}s" -s tests/bench/post.lua \
			"http://127.0.0.1:$port/api/notification")
		t1=$(cpu_ticks "$SPID")
		rates="$rates $(echo "$out" | awk '/Requests\/sec/ {print $2}')"
		n=$(echo "$out" | awk '/requests in/ {print $1}')
		# server CPU per request in microseconds: the load generator shares the 2 cores, so
		# req/s saturates for every fast server; CPU per request still tells them apart
		cpus="$cpus $(awk -v t=$((t1 - t0)) -v n="$n" -v hz="$(getconf CLK_TCK)" \
			'BEGIN {printf "%.1f", t * 1e6 / hz / n}')"
		find "$SHM/$p-$port" -name '*.eml' -delete
	done
	RPS[$p]=$(echo "$rates" | tr ' ' '\n' | grep . | median)
	CPU[$p]=$(echo "$cpus" | tr ' ' '\n' | grep . | median)
	stop_server
done

# Heap allocations per request: valgrind on the glibc dev build, N and 2N requests.
allocs() {
	local n=$1 dir="$SHM/vg" log="$B/valgrind-$1.log"
	mkdir -p "$dir"
	NOTIFY_OUTBOX_DIR="$dir" PORT=$port BIND=127.0.0.1 NOTIFY_LOG_LEVEL=off NOTIFY_WORKERS=2 \
		valgrind --log-file="$log" build/dev/handler >/dev/null 2>&1 &
	local vpid=$!
	for _ in $(seq 1 1000); do curl -s -o /dev/null "http://127.0.0.1:$port/" && break; sleep 0.02; done
	$PY - "$port" "$n" <<'PY'
import socket, sys
port, n = int(sys.argv[1]), int(sys.argv[2])
body = b'{"to_email":"you@example.com","subject":"alloc","message":"count"}'
req = b"POST /api/notification HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: %d\r\n\r\n%s" % (len(body), body)
s = socket.create_connection(("127.0.0.1", port))
for _ in range(n):
    s.sendall(req)
    buf = b""
    while not (b"\r\n\r\n" in buf and buf.endswith(b"}")):
        buf += s.recv(4096)
s.close()
PY
	kill -TERM $vpid; wait $vpid 2>/dev/null || true
	rm -rf "$dir"; next_port
	awk '/total heap usage/ {gsub(",", "", $5); print $5}' "$log"
}
step "heap allocations (valgrind)"
make -s all >/dev/null
A1=$(allocs 500)
A2=$(allocs 1000)
PER_REQ=$(awk -v a="$A1" -v b="$A2" 'BEGIN {printf "%.3f", (b - a) / 500}')


# ---- through the TLS mock of ACS: every peer ----------------------------------------------------
# One test PKI (tests/integration/pki.py: an RSA-2048 chain, as Azure Front Door serves ACS) and
# the Go mock of ACS, which verifies the content hash and the HMAC signature of every request.
step "TLS peers: build, PKI, mock, SDK"
read -r CERT KEYF CA < <("$PY" -c 'import sys; sys.path.insert(0, "tests/integration")
from pki import make_pki
p = make_pki(sys.argv[1]); print(p.rsa_server_cert, p.rsa_server_key, p.rsa_ca_cert)' "$SHM/pki")
chmod 0644 "$CA" # read by the containers' user 65534 too
gobuild() { # dir src out: static (no cgo), so the binary also runs alone in a scratch image
	(cd "$1" && GOCACHE="$PWD/../../../$B/gocache" GOFLAGS=-trimpath CGO_ENABLED=0 \
		go build -ldflags="-s -w" -o "../../../$3" "$2")
}
TPEERS="c"
if need go; then
	gobuild tests/bench/acsbench mock.go "$B/acs-mock"
	gobuild tests/bench/acsbench peer.go "$B/acs-peer-go"
	TPEERS="$TPEERS go"
else
	echo "bench: go is missing; the TLS rows need its mock" >&2; exit 1
fi
TPEERS="$TPEERS python"
make -s sdk >/dev/null
if [ -d tests/sdk/node_modules/@azure/communication-email ] && need node; then
	TPEERS="$TPEERS node"
else
	echo "bench: node or the ACS SDK (make sdk) is missing: no Node + SDK column" >&2
fi
XKEY=$(head -c 64 /dev/urandom | base64 -w0)
mport=$port; next_port
"$B/acs-mock" "$mport" "$CERT" "$KEYF" "$XKEY" >"$B/acs-mock.log" 2>&1 &
XMPID=$!
CS="endpoint=https://localhost:$mport/;accesskey=$XKEY"
# the app settings every TLS peer gets (each reads what it needs)
SETTINGS=(NOTIFY_TRANSPORT=acs COMMUNICATION_SERVICES_CONNECTION_STRING="$CS" NOTIFY_CA_FILE="$CA"
	NODE_EXTRA_CA_CERTS="$CA" EMAIL_SENDER=DoNotReply@example.com NOTIFY_LOG_LEVEL=off)
TENV=("${SETTINGS[@]}" BIND=127.0.0.1 NODE_PATH="$PWD/tests/sdk/node_modules")
for _ in $(seq 1 500); do (exec 3<>"/dev/tcp/127.0.0.1/$mport") 2>/dev/null && break; sleep 0.01; done
tcmd_of() {
	case $1 in
	c) echo "$BIN" ;;
	go) echo "$B/acs-peer-go" ;;
	python) echo "$PY tests/bench/acsbench/peer.py" ;;
	node) echo "$(command -v node) tests/bench/acsbench/peer_sdk.js" ;;
	esac
}
label_of() {
	case $1 in
	c) echo "notify-handler" ;; go) echo "Go" ;; python) echo "Python" ;; node) echo "Node + SDK" ;;
	esac
}
declare -A TSIZE TSIZE_NOTE TCOLD TRSS0 TRSS1 TRPS TCPU TZIP TFN
for p in $TPEERS; do
	step "TLS peer $p"
	case $p in
	c) TSIZE[$p]=$(stat -c %s "$BIN") TSIZE_NOTE[$p]="static binary" ;;
	go) TSIZE[$p]=$(stat -c %s "$B/acs-peer-go") TSIZE_NOTE[$p]="static binary" ;;
	python)
		TSIZE[$p]=$(stat -c %s tests/bench/acsbench/peer.py)
		TSIZE_NOTE[$p]="script; the runtime (python3) not counted"
		;;
	node)
		TSIZE[$p]=$(($(stat -c %s tests/bench/acsbench/peer_sdk.js) + $(du -sb tests/sdk/node_modules | cut -f1)))
		TSIZE_NOTE[$p]="script + node_modules; the runtime (node) not counted"
		;;
	esac
	runs=$RUNS; case $p in python | node) runs=$SLOW_RUNS ;; esac
	# shellcheck disable=SC2046
	TCOLD[$p]=$(env "${TENV[@]}" "$B/coldstart" "$runs" "$port" $(tcmd_of "$p"))
	next_port
	# shellcheck disable=SC2046
	env "${TENV[@]}" PORT=$port $(tcmd_of "$p") >"$B/tls-$p.log" 2>&1 & # env execs: $! is the peer
	TPID=$!
	for _ in $(seq 1 1000); do curl -s -o /dev/null "http://127.0.0.1:$port/" && break; sleep 0.01; done
	sleep 0.2
	TRSS0[$p]=$(rss_kb "$TPID")
	code=$(curl -s -o /dev/null -w '%{http_code}' -H 'Content-Type: application/json' \
		--data '{"to_email":"you@example.com","subject":"bench","message":"one answer"}' \
		"http://127.0.0.1:$port/api/notification")
	[ "$code" = 202 ] || { echo "bench: $p answered $code through TLS" >&2; cat "$B/tls-$p.log" >&2; exit 1; }
	TRSS1[$p]=$(awk '/^VmHWM/ {print $2}' "/proc/$TPID/status") # peak RSS so far
	rates="" cpus=""
	for _ in $(seq 1 "$WRK_REPEAT"); do
		t0=$(cpu_ticks "$TPID")
		out=$(wrk -t1 -c"$CONNS" -d"${WRK_SECS}s" -s tests/bench/post.lua \
			"http://127.0.0.1:$port/api/notification")
		t1=$(cpu_ticks "$TPID")
		if echo "$out" | grep -q Non-2xx; then echo "bench: $p answered non-2xx under load" >&2; exit 1; fi
		rates="$rates $(echo "$out" | awk '/Requests\/sec/ {print $2}')"
		n=$(echo "$out" | awk '/requests in/ {print $1}')
		cpus="$cpus $(awk -v t=$((t1 - t0)) -v n="$n" -v hz="$(getconf CLK_TCK)" \
			'BEGIN {printf "%.1f", t * 1e6 / hz / n}')"
	done
	TRPS[$p]=$(echo "$rates" | tr ' ' '\n' | grep . | median)
	TCPU[$p]=$(echo "$cpus" | tr ' ' '\n' | grep . | median)
	kill "$TPID" 2>/dev/null; wait "$TPID" 2>/dev/null || true
	next_port
done

# ---- deploy ZIPs: each peer as a custom-handler package shaped like infra/functions-http -------
step "deploy ZIPs and host-simulated cold starts"
make -s zip >/dev/null
ZIP_SIZE=$(stat -c %s build/notify-handler.zip)
ZIP_HTTP_SIZE=$(stat -c %s build/notify-handler-http.zip)
declare -A ZIPF=([c]=build/notify-handler-http.zip)
for p in $TPEERS; do
	z="$B/zip-$p.zip"
	case $p in
	c) continue ;;
	go) "$PY" tests/bench/peer_zip.py "$z" infra/functions-http handler "$B/acs-peer-go=handler" ;;
	python) "$PY" tests/bench/peer_zip.py "$z" infra/functions-http python3 --arg peer.py \
		tests/bench/acsbench/peer.py ;;
	node) "$PY" tests/bench/peer_zip.py "$z" infra/functions-http node --arg peer_sdk.js \
		tests/bench/acsbench/peer_sdk.js tests/sdk/node_modules ;;
	esac >/dev/null
	ZIPF[$p]=$z
done
for p in $TPEERS; do
	TZIP[$p]=$(stat -c %s "${ZIPF[$p]}")
	runs=$FN_RUNS; case $p in python | node) [ "$SLOW_RUNS" -lt "$runs" ] && runs=$SLOW_RUNS ;; esac
	# PATH: python3 under the host is the same interpreter as above
	TFN[$p]=$(PATH="/usr/bin:$PATH" "$PY" tests/bench/fn_coldstart.py "${ZIPF[$p]}" "$runs" \
		"${SETTINGS[@]}")
done
# the payload package (queued mode) to the outbox, as before
FN_COLD=$("$PY" tests/bench/fn_coldstart.py build/notify-handler.zip "$FN_RUNS")

# ---- images: podman, the handler's image and a scratch image of the Go peer ---------------------
declare -A ISIZE ICOLD
if need podman; then
	step "images (podman)"
	IMG=localhost/notify-handler:bench
	GOIMG=localhost/notify-bench-go-peer:latest
	sh scripts/image.sh "$BIN" "$IMG" >"$B/image.txt"
	ISIZE[c]=$(tail -1 "$B/image.txt")
	mkdir -p "$B/go-image"
	cp "$B/acs-peer-go" "$B/go-image/peer"
	printf 'FROM scratch\nCOPY peer /peer\nUSER 65534:65534\nENTRYPOINT ["/peer"]\n' >"$B/go-image/Containerfile"
	podman build -q -t "$GOIMG" "$B/go-image" >/dev/null
	ISIZE[go]=$(podman image inspect -f '{{.Size}}' "$GOIMG")
	PREFIX=$(sh scripts/podman-run.sh "$IMG")
	CENV=(-e NOTIFY_TRANSPORT=acs -e "COMMUNICATION_SERVICES_CONNECTION_STRING=$CS"
		-e NOTIFY_CA_FILE=/ca.pem -e EMAIL_SENDER=DoNotReply@example.com -e NOTIFY_LOG_LEVEL=off
		-v "$CA:/ca.pem:ro")
	ICOLD[c]=$("$PY" tests/bench/podman_cold.py "$PODMAN_RUNS" "$port" "$PREFIX" "$IMG" "${CENV[@]}")
	next_port
	ICOLD[go]=$("$PY" tests/bench/podman_cold.py "$PODMAN_RUNS" "$port" "$PREFIX" "$GOIMG" "${CENV[@]}")
	next_port
	podman rmi -f "$IMG" "$GOIMG" >/dev/null 2>&1 || true
else
	echo "bench: podman is missing: no image rows (make deps installs it)" >&2
fi
kill "$XMPID" 2>/dev/null; wait "$XMPID" 2>/dev/null || true

# ---- the tables ----------------------------------------------------------------------------------
step "tables and charts"
ratio() { awk -v a="$1" -v b="$2" 'BEGIN {if (b + 0 == 0) print "-"; else printf "%.3gx", a / b}'; }
mib() { awk -v k="$1" 'BEGIN {printf "%.2f", k / 1024}'; }
row() { # label, then one cell per TLS peer from the function given
	local label=$1 fn=$2 line
	line="| $label |"
	for p in $TPEERS; do line="$line $($fn "$p") |"; done
	echo "$line"
}
c_size() { echo "${TSIZE[$1]}"; }
c_zip() { echo "${TZIP[$1]}"; }
c_ready() { read -r _ _ _ n m a b <<<"${TCOLD[$1]}"; echo "$m ($a/$b)"; }
c_first() { read -r m a b n _ <<<"${TCOLD[$1]}"; echo "$m ($a/$b), N=$n"; }
c_rss0() { mib "${TRSS0[$1]}"; }
c_rss1() { mib "${TRSS1[$1]}"; }
c_rps() { echo "${TRPS[$1]}"; }
c_cpu() { echo "${TCPU[$1]}"; }
c_fnready() { read -r r _ <<<"${TFN[$1]}"; echo "$r"; }
c_fn() { read -r _ f a b n <<<"${TFN[$1]}"; echo "$f ($a/$b), N=$n"; }
c_isize() { echo "${ISIZE[$1]:-}"; }
c_icold() {
	if [ -n "${ICOLD[$1]:-}" ]; then read -r m a b n <<<"${ICOLD[$1]}"; echo "$m ($a/$b), N=$n"; fi
}
first_of() { read -r m _ <<<"$1"; echo "$m"; }
# the handler against each peer: handler / peer (below 1: the handler needs less of it)
r_of() { # measure-extractor peer
	local a b
	a=$($1 c); b=$($1 "$2")
	ratio "$(first_of "$a")" "$(first_of "$b")"
}
rr() { local fn=$1 line="| $2 |"; for p in $TPEERS; do [ "$p" = c ] && continue; line="$line $(r_of "$fn" "$p") |"; done; echo "$line"; }

machine="$(nproc) cores, $(awk -F': ' '/model name/ {print $2; exit}' /proc/cpuinfo), $(uname -sr)"
mode="full run"; [ "$QUICK" = 1 ] && mode="QUICK TRIAL (BENCH_QUICK=1: reduced counts, not for publication)"
header="| measure |"; sep="|---|"
for p in $TPEERS; do header="$header $(label_of "$p") |"; sep="$sep---|"; done
rheader="| handler ÷ peer |"; rsep="|---|"
for p in $TPEERS; do [ "$p" = c ] || { rheader="$rheader vs $(label_of "$p") |"; rsep="$rsep---|"; }; done
{
	echo "# Benchmark results"
	echo
	echo "Command: \`make bench\` (tests/bench/run.sh) on $(date -u +%Y-%m-%d), $machine; $mode."
	echo "Medians with (p10/p90) and the number of runs N. The machine is shared and noisy: compare"
	echo "ratios, not absolutes."
	echo
	echo "![cold start](chart-coldstart.svg) ![deploy size](chart-deploy-size.svg)"
	echo "![memory](chart-rss.svg) ![throughput](chart-throughput.svg)"
	echo
	echo "## Every peer through the TLS mock of ACS"
	echo
	echo "Each peer does the same work: take the original request, build the ACS message, sign it"
	echo "(HMAC-SHA256 with an access key), POST it over TLS 1.2 to the Go mock of ACS"
	echo "(tests/bench/acsbench/mock.go verifies every signature; RSA-2048 chain) and answer 202."
	echo "Go: net/http + crypto/tls (tests/bench/acsbench/peer.go). Python: standard library"
	echo "(peer.py). Node: http + @azure/communication-email 1.1.0, the official SDK (peer_sdk.js,"
	echo "beginSend). Deploy ZIPs: each peer packaged like infra/functions-http (host.json and the"
	echo "forwarded notification function). Cold start: $RUNS runs for C and Go, $SLOW_RUNS for Python"
	echo "and Node; sends/s: wrk -t1 -c$CONNS, ${WRK_SECS} s, median of $WRK_REPEAT, with the server's"
	echo "CPU per send (utime + stime); host-simulated cold start: tests/integration/fnhost.py unpacks"
	echo "the ZIP, spawns, polls GET / every 25 ms and forwards the request ($FN_RUNS runs for C and"
	echo "Go). Images: podman, \`podman run\` -> first 202 ($PODMAN_RUNS runs, host network, --read-only)."
	echo
	echo "$header"
	echo "$sep"
	row "artefact, bytes" c_size
	line="| artefact is |"; for p in $TPEERS; do line="$line ${TSIZE_NOTE[$p]} |"; done; echo "$line"
	row "deploy ZIP, bytes" c_zip
	row "exec -> ready, ms" c_ready
	row "exec -> first 202 through TLS, ms" c_first
	row "idle RSS, MiB" c_rss0
	row "peak RSS after one answer, MiB" c_rss1
	row "sends/s (Go mock)" c_rps
	row "server CPU per send, µs" c_cpu
	row "host-simulated: start -> ready, ms" c_fnready
	row "host-simulated: start -> first 202, ms" c_fn
	if [ -n "${ISIZE[c]:-}" ]; then
		line="| image, bytes |"; for p in $TPEERS; do line="$line ${ISIZE[$p]:-} |"; done; echo "$line"
		row "\`podman run\` -> first 202, ms" c_icold
	fi
	echo
	echo "The handler against each peer (handler ÷ peer: below 1 the handler needs less; for sends/s"
	echo "above 1 the handler sends more):"
	echo
	echo "$rheader"
	echo "$rsep"
	rr c_size "artefact"
	rr c_zip "deploy ZIP"
	rr c_ready "exec -> ready"
	rr c_first "exec -> first 202"
	rr c_rss0 "idle RSS"
	rr c_rss1 "peak RSS after one answer"
	rr c_rps "sends/s"
	rr c_cpu "CPU per send"
	rr c_fn "host-simulated cold start"
	echo
	echo "## To the outbox"
	echo
	echo "Cold start: median (p10/p90) of $RUNS runs for C and Go, $SLOW_RUNS for Python and Node;"
	echo "requests/s: wrk -t1 -c$CONNS, ${WRK_SECS} s, median of $WRK_REPEAT, POST of the original request,"
	echo "outbox on tmpfs. Peers do the same job (parse JSON, write an .eml, answer 202) with their"
	echo "runtime's standard HTTP server."
	echo
	echo "| server | binary (bytes) | exec -> first 202, ms | idle RSS KiB | RSS after $RSS_REQS req KiB | req/s | req/s vs Go | server CPU µs/req | CPU vs Go |"
	echo "|---|---|---|---|---|---|---|---|---|"
	for p in $PEERS; do
		read -r med p10 p90 n _ <<<"${COLD[$p]}"
		ratio="-" cratio="-"
		[ -n "${RPS[go]:-}" ] && ratio=$(awk -v a="${RPS[$p]}" -v b="${RPS[go]}" 'BEGIN {printf "%.2fx", a / b}')
		[ -n "${CPU[go]:-}" ] && cratio=$(awk -v a="${CPU[$p]}" -v b="${CPU[go]}" 'BEGIN {printf "%.2fx", a / b}')
		name=$p; [ "$p" = c ] && name="notify-handler (static musl)"
		echo "| $name | ${SIZE[$p]} | $med ($p10/$p90) | ${RSS0[$p]} | ${RSS1[$p]} | ${RPS[$p]} | $ratio | ${CPU[$p]} | $cratio |"
	done
	echo
	echo "Heap allocations per request in steady state (valgrind, glibc dev build, 500 vs 1000"
	echo "requests on one keep-alive connection): ($A2 - $A1) / 500 = **$PER_REQ**."
	echo
	echo "Under the Functions host, the payload package (queued mode, outbox; $FN_RUNS runs):"
	echo
	read -r fready ffirst f10 f90 fn <<<"$FN_COLD"
	echo "| measure | value |"
	echo "|---|---|"
	echo "| deploy ZIP, payload mode with the queue (build/notify-handler.zip) | $ZIP_SIZE bytes |"
	echo "| deploy ZIP, forwarding variant (build/notify-handler-http.zip) | $ZIP_HTTP_SIZE bytes |"
	echo "| process start -> ready as the host sees it (its 25 ms poll quantizes this), median | $fready ms |"
	echo "| process start -> first notification invocation answered (queued, 202), median (p10/p90) | $ffirst ms ($f10/$f90) |"
	echo
	echo "## Under attack (the connection core)"
	echo
	echo "tests/bench/attack.py, each server with its own default deadlines, side by side in this"
	echo "run: RSS with 1,000 idle kept-alive connections, RSS with 200 slowloris connections, and"
	echo "the original request (wrk, kept-alive) while 200 slowloris + 16 slow-body + 8 never-reading"
	echo "pipelining clients attack."
	echo
	cat "$B/attack.md"
	echo
	echo "Total time of this run: $(($(date +%s) - T_START)) s."
} >"$OUT/RESULTS.md"

# ---- the charts ------------------------------------------------------------------------------------
{
	printf 'peer\texec -> ready\tp10\tp90\texec -> first 202 (TLS)\tp10\tp90\thost-simulated, ZIP\tp10\tp90\n'
	for p in $TPEERS; do
		read -r m a b _ rm ra rb <<<"${TCOLD[$p]}"
		read -r _ f fa fb _ <<<"${TFN[$p]}"
		printf '%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n' "$(label_of "$p")" "$rm" "$ra" "$rb" "$m" "$a" "$b" "$f" "$fa" "$fb"
	done
} >"$B/chart-coldstart.dat"
{
	printf 'peer\tartefact (runtime not counted)\tdeploy ZIP\n'
	for p in $TPEERS; do printf '%s\t%s\t%s\n' "$(label_of "$p")" "${TSIZE[$p]}" "${TZIP[$p]}"; done
} >"$B/chart-size.dat"
{
	printf 'peer\tidle RSS\tpeak RSS after one answer\n'
	for p in $TPEERS; do printf '%s\t%s\t%s\n' "$(label_of "$p")" "${TRSS0[$p]}" "${TRSS1[$p]}"; done
} >"$B/chart-rss.dat"
{
	printf 'peer\tsends/s\n'
	for p in $TPEERS; do printf '%s\t%s\n' "$(label_of "$p")" "${TRPS[$p]}"; done
} >"$B/chart-throughput.dat"
if need gnuplot; then
	stamp="make bench, $(date -u +%Y-%m-%d), $(nproc) cores; $mode"
	gnuplot -e "data='$B'; out='$OUT'; stamp='$stamp'" tests/bench/charts.gp
else
	echo "bench: gnuplot is missing (Debian gnuplot-nox): no charts" >&2
fi

# The size tables (link map, cost of each optional piece) go after the timing tables.
make --no-print-directory size SIZE_RESULTS="$OUT/RESULTS.md" >/dev/null
cat "$OUT/RESULTS.md"
step "done"
