#!/usr/bin/env bash
# Tests `make pi PI=...` for real: starts a throwaway sshd on a free loopback port
# (own config, temporary host and user keys), deploys the ARMv6 binary into a temporary
# PI_DIR over it, and checks the copy is intact, atomic (no temporary file left, an old
# binary replaced) and that PI_RESTART=1 stops only the mote running from PI_DIR.
set -euo pipefail
cd "$(dirname "$0")/.."

if [ "$(id -u)" != 0 ]; then
	echo "pi-deploy-test: needs root (sshd logs in as root)" >&2
	exit 1
fi
for cp in /usr/sbin/sshd:openssh-server ssh:openssh-client ssh-keygen:openssh-client; do
	command -v "${cp%%:*}" >/dev/null 2>&1 || missing="${missing:-} ${cp#*:}"
done
if [ -n "${missing:-}" ]; then
	echo "installing${missing} (apt)..."
	apt-get update -qq >/dev/null
	DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $missing >/dev/null
fi

tmp=$(mktemp -d /tmp/mote-deploy.XXXXXX)
sshd_pid="" dummy_pid=""
cleanup() {
	[ -n "$sshd_pid" ] && kill "$sshd_pid" 2>/dev/null || true
	[ -n "$dummy_pid" ] && kill "$dummy_pid" 2>/dev/null || true
	rm -rf "$tmp"
}
trap cleanup EXIT

echo "pi-deploy-test: starting a throwaway sshd..."
ssh-keygen -q -t ed25519 -N '' -f "$tmp/host_key"
ssh-keygen -q -t ed25519 -N '' -f "$tmp/user_key"
port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
cat >"$tmp/sshd_config" <<EOF
Port $port
ListenAddress 127.0.0.1
HostKey $tmp/host_key
PidFile $tmp/sshd.pid
AuthorizedKeysFile $tmp/user_key.pub
PermitRootLogin prohibit-password
PasswordAuthentication no
KbdInteractiveAuthentication no
UsePAM no
StrictModes no
Subsystem sftp internal-sftp
EOF
mkdir -p /run/sshd
/usr/sbin/sshd -D -e -f "$tmp/sshd_config" 2>"$tmp/sshd.log" &
sshd_pid=$!
for _ in $(seq 50); do
	python3 -c "import socket; socket.create_connection(('127.0.0.1', $port), 0.2)" 2>/dev/null && break
	kill -0 "$sshd_pid" 2>/dev/null || { cat "$tmp/sshd.log"; exit 1; }
	sleep 0.1
done

dest="$tmp/bin"
mkdir -p "$dest"
# The old binary, running: a process named mote whose executable is PI_DIR/mote.
cp "$(command -v sleep)" "$dest/mote"
"$dest/mote" 600 &
dummy_pid=$!
opts="-i $tmp/user_key -o StrictHostKeyChecking=no -o UserKnownHostsFile=/dev/null -o LogLevel=ERROR -o BatchMode=yes"

make --no-print-directory pi PI=root@127.0.0.1 PI_PORT="$port" PI_DIR="$dest" \
	PI_SSH_OPTS="$opts" PI_RESTART=1 TINY= PI_TARGET=arm-unknown-linux-musleabihf

bin=target/arm-unknown-linux-musleabihf/release/mote
cmp "$bin" "$dest/mote"
[ -x "$dest/mote" ] || { echo "pi-deploy-test: $dest/mote is not executable" >&2; exit 1; }
left=$(find "$dest" -name '.mote.new.*')
[ -z "$left" ] || { echo "pi-deploy-test: temporary file left: $left" >&2; exit 1; }
for _ in $(seq 50); do kill -0 "$dummy_pid" 2>/dev/null || break; sleep 0.1; done
if kill -0 "$dummy_pid" 2>/dev/null; then
	echo "pi-deploy-test: PI_RESTART=1 did not stop the mote running from $dest" >&2
	exit 1
fi
dummy_pid=""

# A failed copy must fail the make and leave nothing behind.
if make --no-print-directory pi PI=root@127.0.0.1 PI_PORT="$port" PI_DIR="$tmp/missing" \
	PI_SSH_OPTS="$opts" TINY= PI_TARGET=arm-unknown-linux-musleabihf >"$tmp/fail.log" 2>&1; then
	echo "pi-deploy-test: deploying to a missing PI_DIR succeeded" >&2
	exit 1
fi
echo "pi-deploy-test: a missing PI_DIR fails as it should: $(grep '^pi:' "$tmp/fail.log" | tail -1)"
echo "pi-deploy-test: ok (binary arrived intact over sshd on port $port, renamed atomically, old mote stopped)"
