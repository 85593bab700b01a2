#!/bin/sh
# make bench's board run, inside the emulated Pi Zero (run by busybox init, `::once:`):
# mote and hyper-ref, both up at once, serve the same page on 127.0.0.1 to the same
# keep-alive client (.ci/board/client.c), in rounds that visit them in turn, the order
# reversed every other round. Each round prints one line the host reads:
#   ROUND N SERVER REQUESTS UTIME STIME CENTISECONDS NANOSECONDS
# the server's user and system CPU time from /proc/PID/stat (ticks of 1/100 s, sampled
# by the kernel's timer), the round's wall time, and the server's CPU time in ns summed
# over its threads' /proc/PID/task/TID/schedstat (exact, but not split into user and
# system), all over the round; then RSS SERVER VMRSS_KB VMHWM_KB at the end.
# Nothing here judges; a failure prints `BENCH-FAIL why`. The last line is the end marker
# the host waits for (.ci/board/boot.py's END_MARKER).
. /etc/board.env
CLIENT=/bench/mote-client
PAGE=/bench/site/index.html
MOTE_ADDR=127.0.0.1:8080
HYPER_ADDR=127.0.0.1:8081

fail() {
	echo "BENCH-FAIL $*"
	echo "BOARD-END failed"
	exit 1
}

uptime_cs() {
	read -r up _ </proc/uptime
	echo $((${up%.*} * 100 + 1${up#*.} - 100))
}

# up ADDR: the page is served there (within 30 s).
up() {
	i=0
	until timeout 5 wget -q -O /dev/null "http://$1/index.html" 2>/dev/null; do
		i=$((i + 1))
		[ $i -ge 300 ] && return 1
		usleep 100000
	done
}

/bench/mote --listen "$MOTE_ADDR" --root /bench/site 2>/tmp/mote.log &
mote=$!
/bench/hyper-ref --listen "$HYPER_ADDR" --page "$PAGE" 2>/tmp/hyper.log &
hyper=$!
up "$MOTE_ADDR" || fail "mote is not serving: $(cat /tmp/mote.log)"
up "$HYPER_ADDR" || fail "hyper-ref is not serving: $(cat /tmp/hyper.log)"
echo "BENCH-START Linux $(uname -r), $(awk -F': ' '/^model name/ { print $2; exit }' /proc/cpuinfo)"

# cpu_ns PID: the CPU time of all of PID's threads, in ns (awk: past 32 bits).
cpu_ns() {
	cat /proc/"$1"/task/*/schedstat | awk '{ ns += $1 } END { printf "%.0f\n", ns }'
}

# round N NAME PID ADDR: one load against one server.
round() {
	set -- "$1" "$2" "$3" "$4" $(awk '{ print $14, $15 }' "/proc/$3/stat") "$(uptime_cs)" "$(cpu_ns "$3")"
	"$CLIENT" load "$4" /index.html "$CONNS" "$REQUESTS" "$PAGE" >/tmp/load.out 2>&1 ||
		fail "$2: $(cat /tmp/load.out)"
	set -- "$@" $(awk '{ print $14, $15 }' "/proc/$3/stat") "$(uptime_cs)" "$(cpu_ns "$3")"
	echo "ROUND $1 $2 $((CONNS * REQUESTS)) $(($9 - $5)) $((${10} - $6)) $((${11} - $7))" \
		"$(echo "$8 ${12}" | awk '{ printf "%.0f", $2 - $1 }')"
}

# One unmeasured load each first: page faults of the first connections, tokio's set-up.
"$CLIENT" load "$MOTE_ADDR" /index.html "$CONNS" 50 "$PAGE" >/dev/null || fail "mote: the warm-up failed"
"$CLIENT" load "$HYPER_ADDR" /index.html "$CONNS" 50 "$PAGE" >/dev/null || fail "hyper-ref: the warm-up failed"
n=1
while [ $n -le "$ROUNDS" ]; do
	if [ $((n % 2)) = 1 ]; then
		round $n mote $mote "$MOTE_ADDR"
		round $n hyper-ref $hyper "$HYPER_ADDR"
	else
		round $n hyper-ref $hyper "$HYPER_ADDR"
		round $n mote $mote "$MOTE_ADDR"
	fi
	n=$((n + 1))
done
for s in "mote $mote" "hyper-ref $hyper"; do
	set -- $s
	echo "RSS $1 $(awk '/^VmRSS:/ { r = $2 } /^VmHWM:/ { h = $2 } END { print r, h }' "/proc/$2/status")"
done
kill $mote $hyper
echo "BOARD-END rounds=$ROUNDS"
