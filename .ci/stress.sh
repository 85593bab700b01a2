#!/usr/bin/env bash
# make stress: siege with 1000 concurrent users against mote on
# loopback for STRESS_SECONDS (60), then for STRESS_ARM_SECONDS (20) against the ARMv6
# build under qemu-arm when ARM_BIN exists. Fails unless every run has 0 failed
# transactions. Prints siege's figures for each run.
#
# Env: TARGET_DIR (target), ARM_BIN, STRESS_SECONDS, STRESS_ARM_SECONDS, STRESS_USERS.
set -euo pipefail
cd "$(dirname "$0")/.."

TARGET_DIR=${TARGET_DIR:-target}
BIN=${MOTE_BIN:-$TARGET_DIR/release/mote}
ARM_BIN=${ARM_BIN:-$TARGET_DIR/arm-unknown-linux-musleabihf/release/mote}
SECONDS_X86=${STRESS_SECONDS:-60}
SECONDS_ARM=${STRESS_ARM_SECONDS:-20}
USERS=${STRESS_USERS:-1000}

command -v siege >/dev/null || { echo "stress: siege is not installed (apt-get install siege)" >&2; exit 1; }
# siege holds a socket per user; mote raises its own soft limit to the hard one.
ulimit -n "$(ulimit -Hn)" 2>/dev/null || true

work=$(mktemp -d /tmp/mote-stress.XXXXXX)
mote_pid=
cleanup() {
	[ -n "$mote_pid" ] && kill "$mote_pid" 2>/dev/null && wait "$mote_pid" 2>/dev/null
	rm -rf "$work"
}
trap cleanup EXIT

# A site with small, medium (in memory) and large (sendfile) files.
mkdir -p "$work/root/assets"
printf '<!doctype html><title>stress</title><link rel=stylesheet href=/assets/style.css>stress\n' > "$work/root/index.html"
head -c 2000 /dev/zero | tr '\0' 'a' > "$work/root/assets/style.css"
head -c 65536 /dev/urandom > "$work/root/assets/medium.bin"
head -c 1048576 /dev/urandom > "$work/root/assets/large.bin"

cat > "$work/siegerc" <<RC
verbose = false
color = off
quiet = false
show-logfile = false
logging = false
protocol = HTTP/1.1
connection = keep-alive
concurrent = $USERS
limit = $USERS
benchmark = true
delay = 0
timeout = 30
failures = 1000000
internet = false
chunked = true
accept-encoding = identity
RC

# $1 output name, $2 repetitions per user, $3 time limit in seconds (default 120).
siege_run() {
	local out=$work/$1 rc=0
	HOME="$work" timeout -k 5 "${3:-120}" siege -R "$work/siegerc" -c "$USERS" -r "$2" -b -i -f "$work/urls.txt" \
		> "$out.siege.out" 2> "$out.siege.err" || rc=$?
	if [ $rc = 124 ] || [ $rc = 137 ]; then
		echo "stress: $1: siege did not finish within ${3:-120} s and was killed" >&2
		return 1
	fi
}

# The number siege reported for field $2 (a regex) of the run whose output is $1.siege.{err,out}.
summary_number() {
	cat "$1.siege.err" "$1.siege.out" | tr -d '",{}' | grep -iE "^\\s*$2\\s*:" | grep -oE '[0-9]+(\.[0-9]+)?' | head -n1
}

# $1 name, $2 seconds, rest: the command that runs mote.
run() {
	local name=$1 secs=$2
	shift 2
	"$@" --listen 127.0.0.1:0 --root "$work/root" 2> "$work/$name.stderr" &
	mote_pid=$!
	local addr= i
	for i in $(seq 1 200); do
		addr=$(sed -n 's|.*listening on http://\([0-9.:]*\).*|\1|p' "$work/$name.stderr" | head -n1)
		[ -n "$addr" ] && break
		kill -0 "$mote_pid" 2>/dev/null || { cat "$work/$name.stderr" >&2; return 1; }
		sleep 0.1
	done
	[ -n "$addr" ] || { echo "stress: $name: mote did not start" >&2; return 1; }
	printf 'http://%s/\nhttp://%s/index.html\nhttp://%s/assets/style.css\nhttp://%s/assets/medium.bin\nhttp://%s/assets/large.bin\n' \
		"$addr" "$addr" "$addr" "$addr" "$addr" > "$work/urls.txt"
	# siege 4.0.7's time-limited mode (-t) can deadlock at the end of the run, its
	# cancelled user threads stuck on a lock (JoeDog/siege#4, #66; seen here in 2 of 3
	# runs against qemu). Its repetition mode (-r), where every user finishes on its own,
	# is the documented way round it. Runs of 1 and 3 repetitions measure how long one
	# repetition takes (their difference leaves out starting 1000 threads), then the real
	# run repeats enough times to last about $secs s. Each siege is bounded by timeout
	# so a hang fails this step instead of stalling CI.
	local r e1 e3 failed_cal
	for r in 1 3; do
		siege_run "$name-r$r" $r || return 1
		failed_cal=$(summary_number "$work/$name-r$r" 'failed[_ ]transactions')
		if [ "$failed_cal" != 0 ]; then
			echo "stress: $name: the $r-repetition run failed (failed transactions: ${failed_cal:-unknown}):" >&2
			tail -20 "$work/$name-r$r.siege.err" >&2
			return 1
		fi
	done
	e1=$(summary_number "$work/$name-r1" 'elapsed[_ ]time')
	e3=$(summary_number "$work/$name-r3" 'elapsed[_ ]time')
	local reps
	reps=$(python3 -c "import math; print(max(1, min(100000, math.ceil($secs / max(($e3 - $e1) / 2, $e3 / 6, 0.001)))))")
	echo "stress: $name: 1 repetition of $USERS users took $e1 s, 3 took $e3 s; $reps repetitions for ~${secs} s"
	echo "stress: $name: siege -c $USERS -r $reps -b against http://$addr/ ..."
	siege_run "$name" "$reps" $((secs * 4 + 60)) || return 1
	local alive=yes
	kill -0 "$mote_pid" 2>/dev/null || alive=no
	kill "$mote_pid" 2>/dev/null || true
	wait "$mote_pid" 2>/dev/null || true
	mote_pid=
	# siege prints its summary on stderr (JSON-like in 4.x or plain lines).
	local summary
	summary=$(cat "$work/$name.siege.err" "$work/$name.siege.out" | tr -d '",{}' |
		grep -E '^\s*(transactions|availability|elapsed_time|data_transferred|response_time|transaction_rate|throughput|concurrency|successful_transactions|failed_transactions|longest_transaction|shortest_transaction|Transactions|Availability|Elapsed time|Data transferred|Response time|Transaction rate|Throughput|Concurrency|Successful transactions|Failed transactions|Longest transaction|Shortest transaction)\s*:' |
		sed 's/^\s*//')
	echo "$summary" | sed "s/^/stress: $name: /"
	local failed
	failed=$(echo "$summary" | grep -iE '^failed[_ ]transactions' | grep -oE '[0-9]+' | head -n1)
	local errors
	errors=$(grep -ciE 'socket|timed out|error|refused|reset' "$work/$name.siege.err" || true)
	if [ -z "$failed" ]; then
		echo "stress: $name: could not read siege's summary:" >&2
		tail -20 "$work/$name.siege.err" >&2
		return 1
	fi
	echo "stress: $name: failed transactions: $failed; siege error lines: $errors; mote alive at the end: $alive"
	[ "$failed" = 0 ] && [ "$alive" = yes ] || { grep -iE 'error|socket|timed' "$work/$name.siege.err" | sort | uniq -c | sort -rn | head >&2; return 1; }
}

status=0
run x86_64 "$SECONDS_X86" "$BIN" || status=1
if [ -x "$ARM_BIN" ] && command -v qemu-arm >/dev/null; then
	run armv6-qemu "$SECONDS_ARM" qemu-arm -cpu arm1176 "$ARM_BIN" || status=1
else
	echo "stress: armv6-qemu: skipped ($ARM_BIN not built — make pi — or qemu-arm missing)"
fi
[ $status = 0 ] && echo "stress: PASS" || echo "stress: FAIL"
exit $status
