#!/bin/sh
# The checks of the booted board, run by busybox init (`::once:`) beside the mote that
# init started from deploy/inittab's line. Each prints one line, `PASS name: ...` or
# `FAIL name: ...`, on the serial console; the last line is the end marker the host
# harness waits for. Every wait is bounded; nothing here stops the run early, so one
# failure does not hide the others.
. /etc/board.env
ADDR=127.0.0.1:$PORT
OTHER_PORT=8081
[ "$PORT" = "$OTHER_PORT" ] && OTHER_PORT=8082
CLIENT=/board/mote-client
TLS_CLIENT=/board/mote-tls-client
TLS_OTHER_PORT=8444
# Full handshakes timed, and the HTTPS keep-alive load.
TLS_HANDSHAKES=5
TLS_LOAD_CONNS=4
TLS_LOAD_REQUESTS=50
# Concurrent keep-alive connections and requests on each, for the io_uring checks.
LOAD_CONNS=8
LOAD_REQUESTS=200
# mote's resident set after that load, in kB, above which the check fails.
RSS_LIMIT_KB=1024
passed=0
failed=0

# Hundredths of a second since boot (the wall clock is moved by the checks).
uptime_cs() {
	read -r up _ </proc/uptime
	echo $((${up%.*} * 100 + 1${up#*.} - 100))
}

seconds_since() {
	cs=$(($(uptime_cs) - $1))
	printf '%d.%02d' $((cs / 100)) $((cs % 100))
}

# wait_until SECONDS COMMAND...: runs COMMAND every 0.1 s until it succeeds.
wait_until() {
	deadline=$(($(uptime_cs) + $1 * 100))
	shift
	until "$@" >/dev/null 2>&1; do
		[ "$(uptime_cs)" -ge "$deadline" ] && return 1
		usleep 100000
	done
}

# The mote that init started: a child of PID 1 (a second mote started below is not).
mote_pid() {
	for p in $(pidof mote); do
		if [ "$(awk '/^PPid:/ { print $2 }' "/proc/$p/status" 2>/dev/null)" = 1 ]; then
			echo "$p"
			return 0
		fi
	done
	return 1
}

# get PATH FILE [ADDR]. Debian's busybox-static 1.35 wget crashes with -T, so the bound
# on a request is timeout(1)'s.
get() {
	timeout 15 wget -q -O "$2" "http://${3:-$ADDR}$1"
}

serving() {
	get / /dev/null "$@"
}

# send REQUEST: the raw request (\r\n as escapes) on its own connection; the whole
# answer on stdout.
send() {
	"$CLIENT" send "${2:-$ADDR}" "$1"
}

head_of() {
	tr -d '\r' <"$1" | sed '/^$/q'
}

header() {
	head_of "$2" | awk -v name="$(echo "$1" | tr A-Z a-z)" \
		'{ split($0, f, ": "); if (tolower(f[1]) == name) { print substr($0, length(f[1]) + 3); exit } }'
}

# Bytes after the head of the response in file $1.
body_bytes() {
	xxd -p "$1" | tr -d '\n' | awk '{ i = index($0, "0d0a0d0a"); print i ? (length($0) - i - 7) / 2 : -1 }'
}

status_field() {
	awk -v key="$1:" '$1 == key { print $2 }' "$2"
}

ring_fds() {
	ls -l "/proc/$1/fd" 2>/dev/null | grep -c 'anon_inode:\[io_uring\]'
}

# check NAME FUNCTION ARGS...: one PASS or FAIL line with what FUNCTION printed.
check() {
	name=$1
	shift
	if detail=$("$@" 2>&1); then
		verdict=PASS
		passed=$((passed + 1))
	else
		verdict=FAIL
		failed=$((failed + 1))
	fi
	echo "$verdict $name: $(echo "$detail" | tr '\n' ' ' | sed 's/ *$//')"
}

boot() {
	wait_until 30 serving || { echo "nothing answers on $ADDR 30 s after the checks started"; return 1; }
	# Kept for later checks (each check runs in a subshell).
	mote_pid >/tmp/boot.pid
	echo "mote (pid $(cat /tmp/boot.pid)) serving on $ADDR $(awk '{ print $1 }' /proc/uptime) s after the kernel started"
}

no_date_at_1970() {
	year=$(date -u +%Y)
	[ "$year" = 1970 ] || { echo "the clock reads $year, not 1970"; return 1; }
	send 'GET / HTTP/1.1\r\nHost: board\r\nConnection: close\r\n\r\n' >/tmp/r || return 1
	if date=$(header Date /tmp/r) && [ -n "$date" ]; then
		echo "Date: $date sent with the clock at $(date -u '+%F %T')"
		return 1
	fi
	echo "$(head -n1 /tmp/r | tr -d '\r') without a Date header, the clock at $(date -u '+%F %T')"
}

site() {
	n=0
	for f in $(cd "$ROOT" && find . -type f | sed 's|^\./||'); do
		get "/$f" /tmp/page || { echo "GET /$f failed"; return 1; }
		cmp -s /tmp/page "$ROOT/$f" || { echo "/$f differs from $ROOT/$f"; return 1; }
		n=$((n + 1))
	done
	get / /tmp/page || { echo "GET / failed"; return 1; }
	cmp -s /tmp/page "$ROOT/index.html" || { echo "/ differs from $ROOT/index.html"; return 1; }
	echo "$n files byte-equal to $ROOT ($(du -sk "$ROOT" | cut -f1) kB), / is index.html"
}

head_request() {
	size=$(wc -c <"$ROOT/index.html")
	send 'HEAD /index.html HTTP/1.1\r\nHost: board\r\nConnection: close\r\n\r\n' >/tmp/r || return 1
	status=$(head -n1 /tmp/r | tr -d '\r')
	length=$(header Content-Length /tmp/r)
	body=$(body_bytes /tmp/r)
	[ "$status" = "HTTP/1.1 200 OK" ] && [ "$length" = "$size" ] && [ "$body" = 0 ]
	rc=$?
	echo "$status, Content-Length: $length (the file has $size bytes), $body body bytes"
	return $rc
}

# range FILE FIRST LAST: one byte range of FILE, compared with the file's bytes.
range() {
	size=$(wc -c <"$ROOT/$1")
	send "GET /$1 HTTP/1.1\r\nHost: board\r\nRange: bytes=$2-$3\r\nConnection: close\r\n\r\n" >/tmp/r || return 1
	status=$(head -n1 /tmp/r | tr -d '\r')
	content_range=$(header Content-Range /tmp/r)
	tail -c "$(body_bytes /tmp/r)" /tmp/r >/tmp/part
	dd if="$ROOT/$1" of=/tmp/want bs=1 skip="$2" count=$(($3 - $2 + 1)) 2>/dev/null
	echo "/$1 bytes=$2-$3: $status, Content-Range: $content_range"
	[ "$status" = "HTTP/1.1 206 Partial Content" ] && [ "$content_range" = "bytes $2-$3/$size" ] &&
		cmp -s /tmp/part /tmp/want
}

ranges() {
	range index.html 100 199 && range big.bin 300000 300099
}

user() {
	[ -n "$RUN_USER" ] || { echo "the inittab line has no --user"; return 1; }
	pid=$(mote_pid) || { echo "no mote running"; return 1; }
	want=$(awk -F: -v name="${RUN_USER%%:*}" '$1 == name { print $3 }' /etc/passwd)
	uids=$(awk '/^Uid:/ { print $2, $3, $4, $5 }' "/proc/$pid/status")
	echo "pid $pid, --user $RUN_USER (uid $want): Uid: $uids"
	[ -n "$want" ] && [ "$uids" = "$want $want $want $want" ]
}

# User and system CPU time of process $1, in ticks of 1/100 s (USER_HZ).
cpu_ticks() {
	awk '{ print $14, $15 }' "/proc/$1/stat"
}

# load ADDR STATUS_PATH OUT PID: the status page before and after the keep-alive load,
# and the CPU time mote (PID) spent per request.
load() {
	get "$2" /tmp/before "$1" || { echo "GET $2 failed"; return 1; }
	ticks_before=$(cpu_ticks "$4")
	out=$("$CLIENT" load "$1" /index.html $LOAD_CONNS $LOAD_REQUESTS "$ROOT/index.html" 2>&1) ||
		{ echo "$out"; return 1; }
	ticks_after=$(cpu_ticks "$4")
	# Other workers publish their counters once a second.
	sleep 1
	get "$2" "$3" "$1" || { echo "GET $2 failed"; return 1; }
	echo "$out; mote's CPU per request: $(echo "$ticks_before $ticks_after" | awk -v n=$((LOAD_CONNS * LOAD_REQUESTS)) \
		'{ printf "user %d us, system %d us", ($3 - $1) * 10000 / n, ($4 - $2) * 10000 / n }')"
}

io_uring() {
	pid=$(mote_pid) || { echo "no mote running"; return 1; }
	out=$(load "$ADDR" "$STATUS" /tmp/after "$pid") || { echo "$out"; return 1; }
	rings=$(ring_fds "$pid")
	workers=$(status_field io_uring_workers /tmp/after)
	before=$(status_field batched_sends /tmp/before)
	after=$(status_field batched_sends /tmp/after)
	echo "$rings anon_inode:[io_uring] in /proc/$pid/fd; io_uring_workers $workers; batched_sends $before -> $after under $out"
	[ "$rings" -ge 1 ] && [ "${workers:-0}" -ge 1 ] && [ "${after:-0}" -gt "${before:-0}" ]
}

rss() {
	pid=$(mote_pid) || { echo "no mote running"; return 1; }
	kb=$(awk '/^VmRSS:/ { print $2 }' "/proc/$pid/status")
	echo "VmRSS $kb kB (limit $RSS_LIMIT_KB) after $LOAD_CONNS x $LOAD_REQUESTS keep-alive requests"
	[ "$kb" -le $RSS_LIMIT_KB ]
}

# A second mote from the same binary and site, with --io-uring off: the answers that
# do not go through the ring are right too.
io_uring_off() {
	other=127.0.0.1:$OTHER_PORT
	"$MOTE_BIN" --root "$ROOT" --listen "$other" --io-uring off --status /status 2>/tmp/off.log &
	pid=$!
	if ! wait_until 30 serving "$other"; then
		echo "mote --io-uring off is not serving on $other after 30 s: $(cat /tmp/off.log)"
		kill "$pid"
		return 1
	fi
	rc=0
	out=$(load "$other" /status /tmp/after "$pid") || rc=1
	for f in index.html big.bin; do
		get "/$f" /tmp/page "$other" && cmp -s /tmp/page "$ROOT/$f" || { out="$out; /$f differs"; rc=1; }
	done
	rings=$(ring_fds "$pid")
	workers=$(status_field io_uring_workers /tmp/after)
	sends=$(status_field batched_sends /tmp/after)
	kill "$pid"
	wait "$pid"
	echo "$out; /index.html and /big.bin byte-equal; $rings io_uring fds, io_uring_workers $workers, batched_sends $sends"
	[ $rc = 0 ] && [ "$rings" = 0 ] && [ "$workers" = 0 ] && [ "$sends" = 0 ]
}

access_log() {
	[ -n "$LOG" ] || { echo "the inittab line has no --access-log"; return 1; }
	probe=/board-log-probe-$(uptime_cs)
	send "GET $probe HTTP/1.1\r\nHost: board\r\nUser-Agent: board\r\nConnection: close\r\n\r\n" >/dev/null
	# Workers write their lines at most once a second.
	if ! wait_until 10 grep -q "\"GET $probe HTTP/1.1\" 404 " "$LOG"; then
		echo "no line for GET $probe in $LOG after 10 s"
		return 1
	fi
	echo "$(wc -l <"$LOG") lines in $LOG (owner $(stat -c %U "$LOG")), the last: $(tail -n1 "$LOG")"
}

page_is() {
	get "$1" /tmp/page && cmp -s /tmp/page "$2"
}

reload() {
	pid=$(mote_pid) || { echo "no mote running"; return 1; }
	# Renamed into place, as docs/pi.md asks of an update.
	{ cat "$ROOT/index.html" && echo "<!-- changed at $(uptime_cs) -->"; } >"$ROOT/.index.html.new" &&
		mv "$ROOT/.index.html.new" "$ROOT/index.html"
	start=$(uptime_cs)
	kill -HUP "$pid"
	if ! wait_until 20 page_is /index.html "$ROOT/index.html"; then
		echo "/index.html is not the changed file 20 s after SIGHUP to $pid"
		return 1
	fi
	echo "the changed /index.html served $(seconds_since "$start") s after SIGHUP; pid $(mote_pid) (was $pid)"
	[ "$(mote_pid)" = "$pid" ]
}

new_mote_serving() {
	p=$(mote_pid) && [ "$p" != "$1" ] && serving
}

# respawn SIGNAL: init starts mote again after it is stopped with SIGNAL.
respawn() {
	pid=$(mote_pid) || { echo "no mote running"; return 1; }
	start=$(uptime_cs)
	kill "-$1" "$pid"
	if ! wait_until 15 new_mote_serving "$pid"; then
		echo "no mote serving 15 s after kill -$1 $pid"
		return 1
	fi
	echo "pid $pid stopped by SIG$1, pid $(mote_pid) serving $(seconds_since "$start") s later"
}

# date_of_year YEAR: a response carries a Date header of that year.
date_of_year() {
	send 'GET / HTTP/1.1\r\nHost: board\r\nConnection: close\r\n\r\n' >/tmp/r &&
		header Date /tmp/r | grep -q " $1 "
}

date_once_set() {
	date -u -s "@$NOW" >/dev/null || { echo "date -s @$NOW failed"; return 1; }
	year=$(date -u +%Y)
	if ! wait_until 10 date_of_year "$year"; then
		echo "no Date header of $year 10 s after the clock was set to $(date -u '+%F %T')"
		return 1
	fi
	echo "Date: $(header Date /tmp/r) once the clock was set"
}

# ---------------------------------------------------------------- HTTPS build

# With the clock at 1970 the mote init started at boot is still the same process (it
# did not refuse its certificate and get respawned) and completes a handshake whose
# chain is verified as of the pack time, as a client with a right clock would. Sets pid
# and out (the client's line).
handshake_at_1970() {
	year=$(date -u +%Y)
	[ "$year" = 1970 ] || { echo "the clock reads $year, not 1970"; return 1; }
	pid=$(mote_pid) || { echo "no mote running"; return 1; }
	boot_pid=$(cat /tmp/boot.pid 2>/dev/null)
	[ "$pid" = "$boot_pid" ] || { echo "mote is pid $pid, not $boot_pid as at boot: init respawned it"; return 1; }
	out=$("$TLS_CLIENT" handshake "127.0.0.1:$TLS_PORT" "$TLS_CA" 1 "$NOW" 2>&1) || { echo "$out"; return 1; }
}

# That, and a second mote with the same pair says once that it did not check the dates.
tls_at_1970() {
	handshake_at_1970 || return 1
	other=127.0.0.1:$OTHER_PORT
	"$MOTE_BIN" --root "$ROOT" --listen "$other" --listen-tls "127.0.0.1:$TLS_OTHER_PORT" \
		--tls-cert "$TLS_CERT" --tls-key "$TLS_KEY" 2>/tmp/tls.log &
	other_pid=$!
	wait_until 30 serving "$other"
	warnings=$(grep -c 'warning: the clock reads earlier than this build' /tmp/tls.log)
	kill "$other_pid"
	wait "$other_pid"
	echo "clock $(date -u '+%F %T'); pid $pid since boot; $out (as of @$NOW); a second mote: $warnings warning line(s);" \
		"kernel: $(dmesg | grep -o '\[ *[0-9.]*\] random: crng init done')"
	[ "$warnings" = 1 ]
}

# Once the clock is set: full handshakes verified by the guest's own clock, timed on
# the emulated core (an emulator's time, not a Pi's).
tls_handshake() {
	"$TLS_CLIENT" handshake "127.0.0.1:$TLS_PORT" "$TLS_CA" $TLS_HANDSHAKES
}

# Keep-alive HTTPS: every answer byte-equal to the file, and mote's CPU per request.
tls_load() {
	pid=$(mote_pid) || { echo "no mote running"; return 1; }
	ticks_before=$(cpu_ticks "$pid")
	out=$("$TLS_CLIENT" load "127.0.0.1:$TLS_PORT" "$TLS_CA" /index.html $TLS_LOAD_CONNS $TLS_LOAD_REQUESTS \
		"$ROOT/index.html" 2>&1) || { echo "$out"; return 1; }
	ticks_after=$(cpu_ticks "$pid")
	echo "$out; mote's CPU per request (handshakes included): $(echo "$ticks_before $ticks_after" |
		awk -v n=$((TLS_LOAD_CONNS * TLS_LOAD_REQUESTS)) \
		'{ printf "user %d us, system %d us", ($3 - $1) * 10000 / n, ($4 - $2) * 10000 / n }')"
}

# ---------------------------------------------------------------- ACME build

# Sockets of any state towards the CA's port, in /proc/net/tcp (SYN_SENT is 02).
ca_sockets() {
	awk -v port=":$(printf '%04X' "$ACME_CA_PORT")" \
		'NR > 1 && substr($3, length($3) - 4) == port { n++; states = states " " $4 } END { print n + 0 states }' \
		/proc/net/tcp
}

towards_ca() {
	[ "$(ca_sockets | cut -d' ' -f1)" -ge 1 ]
}

acme_lines() {
	grep -c -e "$1" /var/log/messages
}

# With the clock at 1970 the mote init started serves its stored certificate
# (handshake_at_1970), has said once that it waits for the clock, and makes no
# connection towards the CA, even when SIGHUP wakes its client to look again.
acme_at_1970() {
	handshake_at_1970 || return 1
	kill -HUP "$pid"
	if wait_until 5 towards_ca; then
		echo "sockets towards $ACME_CA_ADDR:$ACME_CA_PORT after SIGHUP at 1970: $(ca_sockets)"
		return 1
	fi
	waits=$(acme_lines 'earlier than this build')
	# Lines only a visit to the CA makes (the start-up line names the CA too).
	contacts=$(acme_lines 'names its terms\|acme: account \|certificate issued\|failed, next in')
	echo "clock $(date -u '+%F %T'); pid $pid since boot serves the stored certificate for $ACME_NAME: $out" \
		"(as of @$NOW); $waits line(s) saying it waits for the clock, $contacts of the CA's answers or failures;" \
		"no socket towards $ACME_CA_ADDR:$ACME_CA_PORT for 5 s after SIGHUP"
	[ "$waits" = 1 ] && [ "$contacts" = 0 ]
}

# Once the clock is set, SIGHUP sends the client to the CA: the attempt the check above
# looks for is there to see (and the certificate is not due, so it only asks for
# renewal information).
acme_once_set() {
	pid=$(mote_pid) || { echo "no mote running"; return 1; }
	start=$(uptime_cs)
	kill -HUP "$pid"
	if ! wait_until 10 towards_ca; then
		echo "no socket towards $ACME_CA_ADDR:$ACME_CA_PORT 10 s after SIGHUP, the clock at $(date -u '+%F %T')"
		return 1
	fi
	echo "a socket towards $ACME_CA_ADDR:$ACME_CA_PORT (state $(ca_sockets | cut -d' ' -f2-), where 02 is SYN_SENT) $(seconds_since "$start") s" \
		"after SIGHUP; the log: $(grep -o 'acme: the clock reads .*checking the certificates' /var/log/messages)"
	[ "$(acme_lines 'checking the certificates')" = 1 ]
}

echo "board checks: $BOARD, mote $BUILD, line: $LINE"
check boot boot
if [ -n "$ACME" ]; then
	check acme-at-1970 acme_at_1970
	check date date_once_set
	check acme-once-set acme_once_set
	check tls-handshake tls_handshake
	echo "BOARD-END passed=$passed failed=$failed"
	exit 0
fi
check no-date-at-1970 no_date_at_1970
[ -n "$TLS" ] && check tls-at-1970 tls_at_1970
check site site
check head head_request
check range ranges
check user user
check io_uring io_uring
check rss rss
check io_uring-off io_uring_off
check access-log access_log
check reload reload
check respawn-kill-9 respawn KILL
check respawn-term respawn TERM
check date date_once_set
if [ -n "$TLS" ]; then
	check tls-handshake tls_handshake
	check tls-load tls_load
fi
echo "BOARD-END passed=$passed failed=$failed"
