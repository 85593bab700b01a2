# mote — the front door. `make help` lists the targets.
#
# Every target installs what it needs (apt, pip, rustup, cargo install) when it is
# missing, and prints one line per step, so a first build on a fresh machine does not
# look hung. The static builds (`pi`, `static`, `TINY=1`) rebuild std from source with
# zig as the linker: rustup has no ARM musl std for this host, and its x86_64 one
# carries the backtrace symbolizer and libunwind.

SHELL := /bin/bash
.DEFAULT_GOAL := help

# Tools installed by pip (cargo-zigbuild) or cargo install (cargo-bloat) land here.
export PATH := $(HOME)/.local/bin:$(HOME)/.cargo/bin:$(PATH)
export PIP_ROOT_USER_ACTION := ignore
export PIP_DISABLE_PIP_VERSION_CHECK := 1

TARGET_DIR := $(or $(CARGO_TARGET_DIR),target)
# TINY builds get their own target dir so switching profiles never rebuilds std twice.
TINY_DIR   := $(TARGET_DIR)/tiny
SUDO       := $(if $(filter 0,$(shell id -u)),,sudo)

# ---------------------------------------------------------------- Raspberry Pi knobs
# PI_TARGET: arm-unknown-linux-musleabihf   Pi 1, Pi Zero, Zero W (ARMv6 + VFP)
#            armv7-unknown-linux-musleabihf Pi 2, 3, 4, Zero 2 W on a 32-bit OS
#            aarch64-unknown-linux-musl     Pi 3, 4, 5, Zero 2 W on a 64-bit OS
PI_TARGET   ?= arm-unknown-linux-musleabihf
# PI_CPU: the oldest core each target must run on. ARMv7 uses cortex-a7 (the Pi 2's
# core; the A53/A72 of later boards run its code) because `generic` makes zig build
# musl for a baseline whose assembler rejects musl's ARMv7 inline asm (link fails).
PI_CPU_arm-unknown-linux-musleabihf   := arm1176jzf-s
PI_CPU_armv7-unknown-linux-musleabihf := cortex-a7
PI_CPU_aarch64-unknown-linux-musl     := cortex-a53
PI_CPU      ?= $(PI_CPU_$(PI_TARGET))
PI          ?=
PI_DIR      ?= /usr/local/bin
PI_PORT     ?= 22
PI_SSH_OPTS ?=
PI_RESTART  ?=
TINY        ?=
override TINY := $(filter-out 0,$(TINY))
# TLS=1: HTTPS built in (the `tls` feature: rustls with ring). Off by default,
# so the default binary and its dependencies stay as they are.
TLS         ?=
override TLS := $(filter-out 0,$(TLS))
# ACME=1: the built-in ACME client too (the `acme` feature, which implies TLS).
# `make test ACME=1` also builds in the `test-clock` feature, so the tests can
# set the client's clock (MOTE_TEST_CLOCK_FILE); the other targets never do.
ACME        ?=
override ACME := $(filter-out 0,$(ACME))
override TLS := $(if $(ACME),1,$(TLS))
# TLS12=1: TLS 1.2 beside TLS 1.3 (the `tls12` feature). On by default for TLS=1;
# ACME=1 builds speak TLS 1.3 only unless TLS12=1 is given, for their size
# (size-report/acme-choices.md).
TLS12       ?= $(if $(ACME),,1)
override TLS12 := $(if $(TLS),$(filter-out 0,$(TLS12)))
comma       := ,
FEATURES    := $(if $(TLS),--features $(if $(ACME),acme,tls)$(if $(TLS12),$(comma)tls12))
TEST_FEATURES := $(if $(ACME),--features acme$(comma)test-clock$(if $(TLS12),$(comma)tls12),$(FEATURES))
BUILD_NAME  := $(if $(ACME), TLS ACME,$(if $(TLS), TLS))
# ring compiles C and assembly: for a cross build cc-rs is pointed at zig for
# that target, as the linker is (cargo-zigbuild does this itself).
tls_cc_env = $(if $(TLS),$(call ring_cc_env,$(1)) MOTE_ZIG_TARGET=$(ZIG_TARGET_$(1)) MOTE_ZIG_CPU=$(subst -,_,$(2)))
ring_cc_env = CC_$(subst -,_,$(1))="$(CURDIR)/.ci/zig-cc" AR_$(subst -,_,$(1))="$(CURDIR)/.ci/zig-ar"

# Where a static build goes (make pi, make static), and the std features it rebuilds with.
OUT_DIR      := $(if $(ACME),$(TARGET_DIR)/acme,$(if $(TLS),$(TARGET_DIR)/tls,$(TARGET_DIR)))$(if $(TINY),/tiny)
STD_FEATURES  = $(SIZE_FEATURES)
PI_BIN     := $(OUT_DIR)/$(PI_TARGET)/release/mote
ARMV6      := arm-unknown-linux-musleabihf
ARMV6_BIN  := $(TARGET_DIR)/$(ARMV6)/release/mote
X86        := x86_64-unknown-linux-musl
STATIC_BIN := $(OUT_DIR)/$(X86)/release/mote

# ------------------------------------------------------------------- build recipes
# $(call rustflags,CPU,IMMEDIATE_ABORT,TRIPLE) and $(call zflags,STD_FEATURES): the
# settings are separate so `make size` can say what each one buys.
# What each setting saves is measured in size-report/README.md.
# std is always built without its default `backtrace` feature: the binary is stripped,
# so the symbolizer it pulls in (gimli, addr2line, miniz) could not name a single frame
# anyway.
# std is always built with `optimize_for_size` too: its smaller algorithms (sorting,
# formatting) are not on the request path, where instructions per request measured the
# same with and without it; the ARMv6 binary is about 4.7 KB smaller.
# -Cpanic=immediate-abort in every static build: a panic is a bare trap (the process
# dies by SIGILL, and init starts it again) instead of a message on stderr. Every panic
# site then compiles to one instruction: the ARMv6 binary is about 33 KB smaller, and a
# parsed request takes 3.6% fewer instructions. The host build (`cargo build`,
# `make run`, `make test`) keeps the message.
# -Zlocation-detail=none drops the file:line strings of every panic site and
# -Zfmt-debug=none compiles `{:?}` formatting to nothing; mote itself never formats
# with Debug outside its tests, which run the host build.
# -C force-unwind-tables=no: nothing unwinds (panic=abort), so Rust code needs no
# unwind-table entries.
# --cfg stub_unwinder: src/sys/unwind.rs defines the unwinder's entry points as stubs,
# which keeps libunwind and the printf its logging needs out of the link; only with std
# rebuilt, as rustup's prebuilt std brings its own.
# -C relocation-model=static on 32-bit ARM: rustc compiles position-independent code for
# these targets but links them into an executable at a fixed address (they make no static
# PIE), so each address a function loads was made PC-relative for nothing, at one more
# instruction per load. x86_64's static builds are static PIE and keep their PIC.
rustflags = -C link-self-contained=no --cfg stub_unwinder$(if $(1), -C target-cpu=$(1)) -Zlocation-detail=none -Zfmt-debug=none -C force-unwind-tables=no$(if $(2), -Zunstable-options -Cpanic=immediate-abort)$(if $(filter arm-% armv7-%,$(3)), -C relocation-model=static)
zflags    = -Zbuild-std=std,panic_abort -Zbuild-std-features=$(1)
# $(call cross_build,TRIPLE,CPU,TARGET_DIR,STD_FEATURES,IMMEDIATE_ABORT,THUMB)
# THUMB (TINY=1 on 32-bit ARM) compiles Rust code as Thumb, 16-bit instructions: -20%
# on ARMv6 (Thumb-1 runs natively on the Pi 1's ARM1176). rustup has no Thumb target for
# ARMv6 Linux, so .ci/thumb-spec.py derives one from rustc's own ARM spec, and the build
# is plain cargo with zig cc as the linker (.ci/zig-cc; cargo-zigbuild takes triples only).
cross_build = $(if $(6),$(call thumb_build,$(1),$(2),$(3),$(4),$(5)),\
	RUSTFLAGS="$(call rustflags,$(2),$(5),$(1))" RUSTC_BOOTSTRAP=1 CARGO_TARGET_DIR=$(3) \
	cargo zigbuild -q --release $(FEATURES) --target $(1) $(call zflags,$(4)))
thumb_build = $(call zig_cc_env,$(1),$(2),$(5)) $(call tls_cc_env,$(1),$(2)) CARGO_TARGET_DIR=$(3) \
	cargo build -q --release $(FEATURES) $(call target_arg,$(1),$(3),1) $(call zflags,$(4))
# $(call zig_cc_env,TRIPLE,CPU,IMMEDIATE_ABORT): the environment for plain cargo (or
# cargo-bloat) linking with zig cc, as cargo-zigbuild's own wrapper would.
zig_cc_env = CARGO_TARGET_$(call upper,$(1))_LINKER=$(CURDIR)/.ci/zig-cc MOTE_ZIG_TARGET=$(ZIG_TARGET_$(1)) \
	MOTE_ZIG_CPU=$(subst -,_,$(2)) RUSTFLAGS="$(call rustflags,$(2),$(3),$(1))" RUSTC_BOOTSTRAP=1
# $(call target_arg,TRIPLE,TARGET_DIR,THUMB): cargo's --target; with THUMB the spec
# .ci/thumb-spec.py derives into TARGET_DIR/spec.
target_arg = $(if $(3),-Z json-target-spec --target "$$(python3 .ci/thumb-spec.py $(1) $(2)/spec)",--target $(1))
# $(call thumb,TRIPLE,TINY): non-empty when that build is Thumb.
thumb = $(if $(2),$(filter arm-% armv7-%,$(1)))
ZIG_TARGET_arm-unknown-linux-musleabihf   := arm-linux-musleabihf
ZIG_TARGET_armv7-unknown-linux-musleabihf := arm-linux-musleabihf
ZIG_TARGET_x86_64-unknown-linux-musl      := x86_64-linux-musl
SIZE_FEATURES := optimize_for_size

# $(call need_apt,command:package ...): one apt-get update + install for what is missing.
define need_apt
missing=""; for cp in $(1); do command -v $${cp%%:*} >/dev/null 2>&1 || missing="$$missing $${cp#*:}"; done; \
if [ -n "$$missing" ]; then \
	echo "installing$$missing (apt)..."; \
	$(SUDO) apt-get update -qq >/dev/null && \
	DEBIAN_FRONTEND=noninteractive $(SUDO) apt-get install -y -qq $$missing >/dev/null; \
fi
endef

# prometheus-client (pip), which the metrics tests parse mote's metrics with.
define need_prometheus_client
python3 -c 'import prometheus_client' 2>/dev/null || { \
	echo "installing prometheus-client (pip)..."; \
	python3 -m pip install -q prometheus-client 2>/dev/null || \
	python3 -m pip install -q --break-system-packages prometheus-client; \
	command -v pyenv >/dev/null && pyenv rehash || true; }
endef

# The legacy scp protocol (-O) also works against dropbear, which has no sftp-server.
SCP_LEGACY := $(shell scp -O 2>&1 | grep -qi 'illegal option\|unknown option' || echo -O)

.PHONY: help run test lint pi static size size-check pi-test pi-deploy-test ring-test-32 \
	tools-cross tools-bloat tools-qemu

help:
	@echo "Start here:"
	@echo "  make run             build (release) and serve the built-in site on http://127.0.0.1:8080/"
	@echo "  make test            every test: unit tests and the integration suite against the release binary"
	@echo "                       (TEST_FILTER=NAME: only the tests whose names contain NAME)"
	@echo "  TLS=1                with HTTPS built in (make run, test, pi, static): docs/https.md"
	@echo "  ACME=1               with HTTPS and the built-in ACME client (the same targets), TLS 1.3 only"
	@echo "  TLS12=1              TLS 1.2 beside 1.3 in an ACME=1 build (TLS=1 has it; TLS12=0 drops it)"
	@echo "Build:"
	@echo "  make pi              static ARM binary: $(PI_BIN)"
	@echo "                       PI_TARGET=armv7-unknown-linux-musleabihf | aarch64-unknown-linux-musl"
	@echo "                       TINY=1  Thumb code on 32-bit ARM (the others are ARM code)"
	@echo "                       PI=user@host [PI_DIR=/usr/local/bin PI_PORT=22 PI_SSH_OPTS=... PI_RESTART=1]"
	@echo "  make static          static x86_64 binary, std rebuilt as for make pi (TINY=1 works too)"
	@echo "  make image           OCI image FROM scratch, only the static binary, for amd64, arm64,"
	@echo "                       arm/v6 and arm/v7 under one index: $(IMAGE_DIR)/mote.tar and oci/"
	@echo "Check:"
	@echo "  make pi-test         the integration suite against the ARMv6 binary under qemu-arm"
	@echo "                       (TLS=1, ACME=1, TINY=1 and TEST_FILTER=NAME as for make test)"
	@echo "  make pi-deploy-test  'make pi PI=...' against a throwaway local sshd"
	@echo "  make image-test      make image, then run it with podman: serve, stop on SIGTERM/SIGINT as PID 1"
	@echo "  make ring-test-32    the io_uring send ring's unit tests on 32-bit x86, natively"
	@echo "  make pi-boot         the ARM builds booted under busybox init on an emulated Pi Zero and an"
	@echo "                       ARMv7 board with Debian's kernels, checked inside the guest (~2 min)"
	@echo "  make lint            rustfmt and clippy (warnings are errors; sys/ must document unsafe)"
	@echo "  make size            print cargo-bloat's crate and function tables for each target,"
	@echo "                       then write them and the sizes into size-report/"
	@echo "  make size-check      the ARMv6 binaries (default, TINY, TLS, ACME, each TINY too) against their"
	@echo "                       size budgets (CI)"
	@echo "  make fuzz            every cargo-fuzz target for FUZZ_SECONDS (default 60) each"
	@echo "  make fuzz-smoke      the same, 10 s per target (CI)"
	@echo "  make tls-scan        testssl.sh against mote TLS=1 on loopback: fails on any weakness it marks"
	@echo "  make stress          siege, 1000 users for STRESS_SECONDS (default 60) against mote"
	@echo "  make soak            SOAK_SECONDS (default 600) of mixed requests; RSS must stay flat"
	@echo "Measure:"
	@echo "  make bench           mote side by side with nginx, lighttpd, busybox httpd and a hyper"
	@echo "                       server, over HTTP and HTTPS, on this machine and on an emulated"
	@echo "                       Pi Zero (~10 min); writes bench/RESULTS.md and bench/results.svg"
	@echo "  make bench-smoke     the same harness in under a minute (CI): fails only if it breaks"
	@echo "  make bench-redirects only the _redirects rows (callgrind, ~1 min), printed"
	@echo "Tools (the targets above install what they need themselves):"
	@echo "  make tools-cross     zig, cargo-zigbuild and rust-src, for the static builds"
	@echo "  make tools-bloat     cargo-bloat, for make size"
	@echo "  make tools-qemu      qemu-user, for make pi-test"
	@echo "  make tools-board     qemu-system-arm and cpio, for make pi-boot and make bench"
	@echo "  make tools-fuzz      cargo-fuzz, for make fuzz"

# With TLS=1, HTTPS on 127.0.0.1:8443 too, with a self-signed certificate made
# for the purpose under target/ (curl -k, or trust target/run-tls/cert.pem).
RUN_TLS_DIR := $(TARGET_DIR)/run-tls
run:
	@echo "building mote (release$(BUILD_NAME))..."
	@cargo build --release -q $(FEATURES)
ifneq ($(TLS),)
	@[ -f $(RUN_TLS_DIR)/key.pem ] || { mkdir -p $(RUN_TLS_DIR) && \
		openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -days 30 -subj /CN=localhost \
		-addext subjectAltName=DNS:localhost,IP:127.0.0.1 -keyout $(RUN_TLS_DIR)/key.pem \
		-out $(RUN_TLS_DIR)/cert.pem 2>/dev/null; }
	@echo "mote: serving the embedded site at http://127.0.0.1:8080/ and https://127.0.0.1:8443/"
	@exec $(TARGET_DIR)/release/mote --listen 127.0.0.1:8080 --listen-tls 127.0.0.1:8443 \
		--tls-cert $(RUN_TLS_DIR)/cert.pem --tls-key $(RUN_TLS_DIR)/key.pem
else
	@echo "mote: serving the embedded site at http://127.0.0.1:8080/"
	@exec $(TARGET_DIR)/release/mote --listen 127.0.0.1:8080
endif

# The release binary is what the integration tests run (MOTE_BIN); the test code
# itself builds in the fast dev profile, with overflow checks on for the unit tests.
# TEST_FILTER=acme runs only the tests whose names contain it.
test:
	@$(call need_apt,curl:curl busybox:busybox faketime:faketime chromium:chromium unshare:util-linux strace:strace \
		pebble:pebble lego:lego openssl:openssl gzip:gzip brotli:brotli)
	@command -v npm >/dev/null || { $(call need_apt,node:nodejs npm:npm); }
	@[ -d tests/browser/node_modules/playwright-core ] || { \
		echo "installing playwright-core (npm ci)..."; cd tests/browser && npm ci --silent --no-audit --no-fund; }
	@$(need_prometheus_client)
	@$(if $(TLS),$(call need_apt,openssl:openssl))
	@echo "building mote (release$(BUILD_NAME))..."
	@cargo build --release -q $(TEST_FEATURES)
	@echo "testing target/release/mote$(if $(TLS), with$(BUILD_NAME)) (cargo test)..."
	@MOTE_BIN=$(abspath $(TARGET_DIR))/release/mote cargo test -q --no-fail-fast $(TEST_FEATURES) $(TEST_FILTER)

# The code as STYLE asks: formatted, and clippy-clean with warnings as errors, which
# also holds sys/ to a SAFETY comment on every unsafe block.
lint:
	@installed=$$(rustup component list --installed 2>/dev/null); \
	echo "$$installed" | grep -q '^clippy' && echo "$$installed" | grep -q '^rustfmt' || { \
		echo "installing clippy and rustfmt (rustup)..."; rustup component add clippy rustfmt >/dev/null 2>&1; }
	@echo "checking formatting (cargo fmt)..."
	@cargo fmt --all -- --check
	@echo "checking lints (cargo clippy)..."
	@cargo clippy -q --workspace --all-targets -- -D warnings
	@echo "checking lints with TLS (cargo clippy --features tls12)..."
	@cargo clippy -q --workspace --all-targets --features tls12 -- -D warnings
	@echo "checking lints with ACME (cargo clippy --features acme, then with test-clock)..."
	@cargo clippy -q --workspace --all-targets --features acme -- -D warnings
	@cargo clippy -q --workspace --all-targets --features acme,test-clock -- -D warnings

# make tls-scan  testssl.sh (Debian's) against the TLS=1 build on loopback: protocols,
#                cipher suites one by one, forward secrecy, server order, headers and
#                known vulnerabilities. Fails on any finding testssl rates LOW or worse,
#                on a protocol below TLS 1.2 or a suite that is not ECDHE with an AEAD;
#                .ci/tls_scan.py says which findings it does not judge and why.
.PHONY: tls-scan
tls-scan:
	@$(call need_apt,testssl:testssl.sh openssl:openssl)
	@echo "building mote (release TLS)..."
	@cargo build --release -q --features tls12
	@python3 .ci/tls_scan.py $(TARGET_DIR)/release/mote $(TARGET_DIR)/tls-scan

# ------------------------------------------------------------------------ tools
tools-cross:
	@python3 -c 'import ziglang' 2>/dev/null && command -v cargo-zigbuild >/dev/null || { \
		echo "installing zig and cargo-zigbuild (pip)..."; \
		python3 -m pip install -q ziglang cargo-zigbuild 2>/dev/null || \
		python3 -m pip install -q --break-system-packages ziglang cargo-zigbuild; \
		command -v pyenv >/dev/null && pyenv rehash || true; }
	@rustup component list --installed 2>/dev/null | grep -q '^rust-src' || { \
		echo "installing rust-src (rustup)..."; rustup component add rust-src >/dev/null 2>&1; }

tools-bloat:
	@command -v cargo-bloat >/dev/null || { \
		echo "installing cargo-bloat (cargo install)..."; cargo install -q cargo-bloat --locked; }

tools-qemu:
	@$(call need_apt,qemu-arm:qemu-user curl:curl)

# ------------------------------------------------------------------ pi and static
pi: tools-cross
	@echo "building $(PI_TARGET) for $(PI_CPU)$(if $(TINY), (tiny$(if $(call thumb,$(PI_TARGET),1), Thumb)))..."
	@$(call cross_build,$(PI_TARGET),$(PI_CPU),$(OUT_DIR),$(STD_FEATURES),1,$(call thumb,$(PI_TARGET),$(TINY)))
	@echo "size $(PI_BIN): $$(stat -c %s $(PI_BIN)) bytes"
ifneq ($(PI),)
	@echo "copying to $(PI):$(PI_DIR)/mote..."
	@set -e; tmp='$(PI_DIR)/.mote.new.'$$$$; \
	ssh_() { ssh -p $(PI_PORT) $(PI_SSH_OPTS) $(PI) "$$@"; }; \
	scp -q $(SCP_LEGACY) -P $(PI_PORT) $(PI_SSH_OPTS) $(PI_BIN) "$(PI):$$tmp" || \
		{ ssh_ "rm -f '$$tmp'" 2>/dev/null; echo "pi: copy to $(PI):$$tmp failed" >&2; exit 1; }; \
	ssh_ "chmod 755 '$$tmp' && mv -f '$$tmp' '$(PI_DIR)/mote'" || \
		{ ssh_ "rm -f '$$tmp'" 2>/dev/null; echo "pi: rename to $(PI_DIR)/mote failed" >&2; exit 1; }
	@echo "installed $(PI):$(PI_DIR)/mote"
ifneq ($(PI_RESTART),)
	@echo "restarting mote on $(PI)..."
	@ssh -p $(PI_PORT) $(PI_SSH_OPTS) $(PI) '$(REMOTE_RESTART)'
endif
endif

# Stops only the mote running from PI_DIR (its /proc/PID/exe is PI_DIR/mote, marked
# "(deleted)" once replaced) with SIGTERM, so it drains and busybox init respawns it.
REMOTE_RESTART = d=$$(cd "$(PI_DIR)" && pwd -P) || exit 1; n=0; \
	for p in $$(pidof mote); do \
	  case "$$(readlink /proc/$$p/exe)" in "$$d/mote"|"$$d/mote (deleted)") kill $$p && n=$$((n+1));; esac; \
	done; echo "stopped $$n mote process(es) running $$d/mote"

# The x86_64 deliverable is built as the ARM ones are: std from source without its
# backtrace symbolizer, linked by zig (590,424 -> 222,360 bytes with the unwinder stubs).
static: tools-cross
	@echo "building $(X86) (static$(if $(TINY), TINY=1))..."
	@$(call cross_build,$(X86),,$(OUT_DIR),$(STD_FEATURES),1)
	@echo "size $(STATIC_BIN): $$(stat -c %s $(STATIC_BIN)) bytes"

# ------------------------------------------------------------------- tests on ARM
# The test harness is built for the host with the same features (not test-clock:
# the ARM binary cannot have its clock moved, so those tests are left out).
# TEST_FILTER=NAME as for make test: ACME=1 TEST_FILTER=acme runs the ACME client's
# tests (pebble on loopback) against the ARM build.
pi-test: tools-qemu
	@$(if $(TLS),$(call need_apt,openssl:openssl))
	@$(if $(ACME),$(call need_apt,pebble:pebble lego:lego))
	@$(if $(ACME),$(need_prometheus_client))
	@$(MAKE) --no-print-directory pi PI= PI_TARGET=$(ARMV6) PI_CPU=$(PI_CPU_$(ARMV6)) TINY=$(TINY) TLS=$(TLS) ACME=$(ACME)
	@echo "testing $(OUT_DIR)/$(ARMV6)/release/mote under qemu-arm -cpu arm1176..."
	@MOTE_BIN=$(abspath $(OUT_DIR))/$(ARMV6)/release/mote MOTE_RUNNER="qemu-arm -cpu arm1176" \
		cargo test -q --no-fail-fast $(FEATURES) --test '*' $(TEST_FILTER)

pi-deploy-test:
	@.ci/pi-deploy-test.sh

# make ring-test-32  the send ring's unit tests (src/sys/uring.rs) built for 32-bit x86 and run
#                    natively: the ARM builds run under qemu-user, which has no io_uring,
#                    so this is where the ring's 32-bit layout and arithmetic are tested.
I686 := i686-unknown-linux-musl
ring-test-32: tools-cross
	@rustup target list --installed 2>/dev/null | grep -qx $(I686) || { \
		echo "installing $(I686) std (rustup)..."; rustup target add $(I686) >/dev/null 2>&1; }
	@echo "testing the send ring on $(I686) (natively)..."
	@cargo-zigbuild test -q --release --target $(I686) --bin mote -- sys::uring::tests

# make pi-boot  the builds of make pi (ARMv6, ARMv6 TINY=1, ARMv6 TLS=1, ARMv6 ACME=1, ARMv7)
#               booted under busybox init on emulated boards with Debian's kernels: the Pi
#               Zero (QEMU raspi0, linux-image-rpi) with the ARMv6 builds, QEMU's virt board
#               (Cortex-A7 x2, linux-image-armmp) with ARMv7. mote is started by
#               deploy/inittab's own line and checked inside the guest (.ci/board/); the
#               TLS=1 build also over HTTPS, by a rustls client built beside it, and the
#               ACME=1 build with a stored certificate and the clock at 1970 (the same
#               binary `make size-check` builds). The kernels and busybox-static come from
#               Debian's archive into BOARD_DIR and stay there; installs qemu-system-arm,
#               cpio and openssl (apt).
ARMV7        := armv7-unknown-linux-musleabihf
BOARD_DIR    ?= $(TARGET_DIR)/board
BOARD_CLIENT := $(BOARD_DIR)/mote-client
# Built with the ARMv6 TLS=1 binary, in its target dir, so std, rustls and ring are shared.
BOARD_TLS_CLIENT := $(TARGET_DIR)/tls/$(ARMV6)/release/examples/mote-tls-client
.PHONY: pi-boot tools-board board-client

tools-board:
	@command -v qemu-system-arm >/dev/null && command -v cpio >/dev/null || { \
		echo "installing qemu-system-arm and cpio (apt)..."; \
		$(SUDO) apt-get update -qq >/dev/null && \
		DEBIAN_FRONTEND=noninteractive $(SUDO) apt-get install -y -qq -o DPkg::Lock::Timeout=120 \
			--no-install-recommends qemu-system-arm cpio >/dev/null; }

# The guest's keep-alive client, built by the zig of the static builds for the oldest
# core, so the one binary runs on both boards.
$(BOARD_CLIENT): .ci/board/client.c | tools-cross
	@echo "building the guest's HTTP client (zig cc, $(PI_CPU_$(ARMV6)))..."
	@mkdir -p $(BOARD_DIR)
	@python3 -m ziglang cc -target $(ZIG_TARGET_$(ARMV6)) -mcpu=$(subst -,_,$(PI_CPU_$(ARMV6))) \
		-Os -static -Wall -Wextra -Werror -o $@ $<

board-client: $(BOARD_CLIENT)

pi-boot: tools-cross tools-board $(BOARD_CLIENT)
	@$(call need_apt,openssl:openssl)
	@$(MAKE) --no-print-directory pi PI= PI_TARGET=$(ARMV6) PI_CPU=$(PI_CPU_$(ARMV6)) TINY= TLS= ACME=
	@$(MAKE) --no-print-directory pi PI= PI_TARGET=$(ARMV6) PI_CPU=$(PI_CPU_$(ARMV6)) TINY=1 TLS= ACME=
	@$(MAKE) --no-print-directory pi PI= PI_TARGET=$(ARMV6) PI_CPU=$(PI_CPU_$(ARMV6)) TINY= TLS=1 ACME=
	@$(MAKE) --no-print-directory pi PI= PI_TARGET=$(ARMV6) PI_CPU=$(PI_CPU_$(ARMV6)) TINY= ACME=1
	@$(MAKE) --no-print-directory pi PI= PI_TARGET=$(ARMV7) PI_CPU=$(PI_CPU_$(ARMV7)) TINY= TLS= ACME=
	@echo "building the guest's HTTPS client ($(ARMV6), beside the TLS=1 build)..."
	@RUSTFLAGS="$(call rustflags,$(PI_CPU_$(ARMV6)),1,$(ARMV6))" RUSTC_BOOTSTRAP=1 CARGO_TARGET_DIR=$(TARGET_DIR)/tls \
		cargo zigbuild -q --release --features tls12 --target $(ARMV6) $(call zflags,$(SIZE_FEATURES)) --example mote-tls-client
	@python3 .ci/board/boot.py --cache $(BOARD_DIR) --client $(BOARD_CLIENT) --tls-client $(BOARD_TLS_CLIENT) \
		raspi0:armv6:$(ARMV6_BIN) raspi0:armv6-tiny:$(TINY_DIR)/$(ARMV6)/release/mote \
		raspi0:armv6-tls:$(TARGET_DIR)/tls/$(ARMV6)/release/mote \
		raspi0:armv6-acme:$(ACME_DIR)/$(ARMV6)/release/mote \
		virt:armv7:$(TARGET_DIR)/$(ARMV7)/release/mote

# --------------------------------------------------------------------------- size
# Stripped deliverables give the bytes; cargo-bloat analyses an unstripped twin of
# each (own target dirs). cargo-bloat runs plain `cargo build`, so the cross builds
# link through .ci/zig-cc, which does what cargo-zigbuild's generated wrapper does.
SIZE_DIR   := size-report
BLOAT_DIR  := $(TARGET_DIR)/bloat
STEPS_DIR  := $(TARGET_DIR)/size-steps
BUDGET_ARMV6      := 262144
# TINY=1 differs from the default build by Thumb code alone now that every static build
# traps on a panic, and it carries every feature the default does (virtual hosts,
# _redirects, error pages, CORS, proxy headers, the health check: about 31 KB of Thumb
# code): held at 192 KiB, about 23% under the default build.
BUDGET_ARMV6_TINY := 196608
BUDGET_ARMV6_TLS      := 589824
BUDGET_ARMV6_TLS_TINY := 458752
# The ACME builds: the client side of rustls, the CA chain's verifier and the ACME
# client itself on top of the TLS build, at the TLS budgets + 192 KiB; TLS 1.3 only
# (TLS12=1 adds TLS 1.2, over the budget). size-report/acme-choices.md says what each
# piece costs.
BUDGET_ARMV6_ACME      := 786432
BUDGET_ARMV6_ACME_TINY := 655360
TLS_DIR           := $(TARGET_DIR)/tls
ACME_DIR          := $(TARGET_DIR)/acme
upper = $(shell echo '$(1)' | tr 'a-z-' 'A-Z_')
# $(call bloat_cross,TRIPLE,CPU,TARGET_DIR,TINY,FEATURE): the same flags (and Thumb spec) as the
# deliverable, so the attribution is of the same code; FEATURE is tls12, acme or empty.
bloat_cross = $(call zig_cc_env,$(1),$(2),1) $(if $(5),$(call ring_cc_env,$(1))) CARGO_TARGET_DIR=$(3) \
	cargo bloat --release $(if $(5),--features $(5)) \
	-Z build-std=std,panic_abort $(call target_arg,$(1),$(3),$(call thumb,$(1),$(4))) \
	-Z build-std-features=$(SIZE_FEATURES)
# $(call bloat_pair,NAME,COMMAND): crates + 30 biggest functions into size-report/,
# and both tables on stdout.
define bloat_pair
echo "size: cargo-bloat $(1)..."; \
$(2) --crates -n 0 > $(SIZE_DIR)/$(1).crates.txt 2> $(TARGET_DIR)/bloat-$(1).log && \
$(2) -n 30 > $(SIZE_DIR)/$(1).functions.txt 2>> $(TARGET_DIR)/bloat-$(1).log || \
{ cat $(TARGET_DIR)/bloat-$(1).log; exit 1; }; \
echo; echo "== $(1): .text by crate ($(SIZE_DIR)/$(1).crates.txt)"; cat $(SIZE_DIR)/$(1).crates.txt; \
echo; echo "== $(1): the 30 biggest functions ($(SIZE_DIR)/$(1).functions.txt)"; cat $(SIZE_DIR)/$(1).functions.txt; echo
endef

size: tools-cross tools-bloat
	@mkdir -p $(SIZE_DIR)
	@$(MAKE) --no-print-directory static TINY=
	@$(MAKE) --no-print-directory static TINY=1
	@$(MAKE) --no-print-directory pi PI= PI_TARGET=$(ARMV6) PI_CPU=$(PI_CPU_$(ARMV6)) TINY=
	@$(MAKE) --no-print-directory pi PI= PI_TARGET=$(ARMV6) PI_CPU=$(PI_CPU_$(ARMV6)) TINY=1
	@$(MAKE) --no-print-directory static TINY= TLS=1
	@$(MAKE) --no-print-directory pi PI= PI_TARGET=$(ARMV6) PI_CPU=$(PI_CPU_$(ARMV6)) TINY= TLS=1
	@$(MAKE) --no-print-directory pi PI= PI_TARGET=$(ARMV6) PI_CPU=$(PI_CPU_$(ARMV6)) TINY=1 TLS=1
	@$(MAKE) --no-print-directory pi PI= PI_TARGET=$(ARMV6) PI_CPU=$(PI_CPU_$(ARMV6)) TINY= ACME=1
	@$(MAKE) --no-print-directory pi PI= PI_TARGET=$(ARMV6) PI_CPU=$(PI_CPU_$(ARMV6)) TINY=1 ACME=1
	@echo "building $(ARMV6) with std's default features, backtrace included (size steps)..."
	@RUSTFLAGS="$(call rustflags,arm1176jzf-s,,$(ARMV6))" RUSTC_BOOTSTRAP=1 CARGO_TARGET_DIR=$(STEPS_DIR)/bt \
		cargo zigbuild -q --release --target $(ARMV6) -Zbuild-std=std,panic_abort
	@echo "building $(ARMV6) with std's features off, backtrace and optimize_for_size (size steps)..."
	@$(call cross_build,$(ARMV6),arm1176jzf-s,$(STEPS_DIR)/plain,,)
	@echo "building $(ARMV6) with optimize_for_size, panics with their message (size steps)..."
	@$(call cross_build,$(ARMV6),arm1176jzf-s,$(STEPS_DIR)/ofs,$(SIZE_FEATURES),)
	@$(call bloat_pair,x86_64,$(call bloat_cross,$(X86),,$(BLOAT_DIR),))
	@$(call bloat_pair,x86_64-tiny,$(call bloat_cross,$(X86),,$(BLOAT_DIR)/tiny,1))
	@$(call bloat_pair,armv6,$(call bloat_cross,$(ARMV6),arm1176jzf-s,$(BLOAT_DIR),))
	@$(call bloat_pair,armv6-tiny,$(call bloat_cross,$(ARMV6),arm1176jzf-s,$(BLOAT_DIR)/tiny,1))
	@$(call bloat_pair,x86_64-tls,$(call bloat_cross,$(X86),,$(BLOAT_DIR)/tls,,tls12))
	@$(call bloat_pair,armv6-tls,$(call bloat_cross,$(ARMV6),arm1176jzf-s,$(BLOAT_DIR)/tls,,tls12))
	@$(call bloat_pair,armv6-tls-tiny,$(call bloat_cross,$(ARMV6),arm1176jzf-s,$(BLOAT_DIR)/tls/tiny,1,tls12))
	@$(call bloat_pair,armv6-acme,$(call bloat_cross,$(ARMV6),arm1176jzf-s,$(BLOAT_DIR)/acme,,acme))
	@$(call bloat_pair,armv6-acme-tiny,$(call bloat_cross,$(ARMV6),arm1176jzf-s,$(BLOAT_DIR)/acme/tiny,1,acme))
	@echo "size: writing $(SIZE_DIR)/README.md..."
	@python3 .ci/size_report.py $(SIZE_DIR) \
		"armv6|$(ARMV6)|default|$(ARMV6_BIN)|$(BUDGET_ARMV6)" \
		"armv6-tiny|$(ARMV6)|tiny|$(TINY_DIR)/$(ARMV6)/release/mote|$(BUDGET_ARMV6_TINY)" \
		"x86_64|$(X86)|default|$(TARGET_DIR)/$(X86)/release/mote|" \
		"x86_64-tiny|$(X86)|tiny|$(TINY_DIR)/$(X86)/release/mote|" \
		"armv6-tls|$(ARMV6)|TLS|$(TLS_DIR)/$(ARMV6)/release/mote|$(BUDGET_ARMV6_TLS)" \
		"armv6-tls-tiny|$(ARMV6)|TLS tiny|$(TLS_DIR)/tiny/$(ARMV6)/release/mote|$(BUDGET_ARMV6_TLS_TINY)" \
		"x86_64-tls|$(X86)|TLS|$(TLS_DIR)/$(X86)/release/mote|" \
		"armv6-acme|$(ARMV6)|ACME|$(ACME_DIR)/$(ARMV6)/release/mote|$(BUDGET_ARMV6_ACME)" \
		"armv6-acme-tiny|$(ARMV6)|ACME tiny|$(ACME_DIR)/tiny/$(ARMV6)/release/mote|$(BUDGET_ARMV6_ACME_TINY)" \
		--cost "the ACME client (ACME vs TLS)|armv6-acme|armv6-tls" \
		--cost "the ACME client, tiny (ACME tiny vs TLS tiny)|armv6-acme-tiny|armv6-tls-tiny" \
		--step "std rebuilt, default features (backtrace)|$(STEPS_DIR)/bt/$(ARMV6)/release/mote" \
		--step "without backtrace|$(STEPS_DIR)/plain/$(ARMV6)/release/mote" \
		--step "+ optimize_for_size|$(STEPS_DIR)/ofs/$(ARMV6)/release/mote" \
		--step "+ panic=immediate-abort (make pi default)|$(ARMV6_BIN)" \
		--step "+ Thumb code (TINY=1)|$(TINY_DIR)/$(ARMV6)/release/mote"

# size-check: the ARMv6 deliverables (default, TLS=1, ACME=1, each also TINY=1) against their budgets, without the
# cargo-bloat reports (what CI runs; `make size` is the full report).
# SIZE_WARN_ONLY="tiny" (profile names) reports those over budget without failing.
size-check:
	@$(MAKE) --no-print-directory pi PI= PI_TARGET=$(ARMV6) PI_CPU=$(PI_CPU_$(ARMV6)) TINY= TLS= ACME=
	@$(MAKE) --no-print-directory pi PI= PI_TARGET=$(ARMV6) PI_CPU=$(PI_CPU_$(ARMV6)) TINY=1 TLS= ACME=
	@$(MAKE) --no-print-directory pi PI= PI_TARGET=$(ARMV6) PI_CPU=$(PI_CPU_$(ARMV6)) TINY= TLS=1 ACME=
	@$(MAKE) --no-print-directory pi PI= PI_TARGET=$(ARMV6) PI_CPU=$(PI_CPU_$(ARMV6)) TINY=1 TLS=1 ACME=
	@$(MAKE) --no-print-directory pi PI= PI_TARGET=$(ARMV6) PI_CPU=$(PI_CPU_$(ARMV6)) TINY= ACME=1
	@$(MAKE) --no-print-directory pi PI= PI_TARGET=$(ARMV6) PI_CPU=$(PI_CPU_$(ARMV6)) TINY=1 ACME=1
	@over=0; for spec in "default $(ARMV6_BIN) $(BUDGET_ARMV6)" "tiny $(TINY_DIR)/$(ARMV6)/release/mote $(BUDGET_ARMV6_TINY)" \
		"tls $(TLS_DIR)/$(ARMV6)/release/mote $(BUDGET_ARMV6_TLS)" \
		"tls-tiny $(TLS_DIR)/tiny/$(ARMV6)/release/mote $(BUDGET_ARMV6_TLS_TINY)" \
		"acme $(ACME_DIR)/$(ARMV6)/release/mote $(BUDGET_ARMV6_ACME)" \
		"acme-tiny $(ACME_DIR)/tiny/$(ARMV6)/release/mote $(BUDGET_ARMV6_ACME_TINY)"; do \
		set -- $$spec; size=$$(stat -c %s $$2); \
		if [ $$size -le $$3 ]; then echo "size-check: ARMv6 $$1 $$size bytes <= budget $$3: ok"; \
		else case " $(SIZE_WARN_ONLY) " in *" $$1 "*) echo "size-check: ARMv6 $$1 $$size bytes > budget $$3: OVER BUDGET (warning only)";; \
		*) echo "size-check: ARMv6 $$1 $$size bytes > budget $$3: OVER BUDGET"; over=1;; esac; fi; \
	done; [ $$over -eq 0 ]

# ------------------------------------------------------------------------ image
# make image       an OCI image FROM scratch for containers (Docker, podman, Kubernetes,
#                  ECS): one layer holding only the static binary, run as user 65532 on
#                  port 8080. One image per platform under one index: linux/amd64 (make
#                  static), linux/arm64, linux/arm/v6 and linux/arm/v7 (make pi). Written
#                  as an OCI layout (target/image/oci) and an oci-archive
#                  (target/image/mote.tar, for `podman load -i`), tagged mote:VERSION.
#                  buildah (apt) builds it without a daemon; TINY=1 packs the tiny builds.
# make image-test  make image; then checks that each platform's layer is exactly its
#                  binary and runs the host's image with podman (apt: podman runc):
#                  the built-in site and a --root volume through a published port,
#                  /mote --healthcheck inside it, a reload on SIGHUP, and a graceful stop
#                  with exit 0 on SIGTERM and SIGINT as PID 1.
.PHONY: image image-test
IMAGE_DIR       := $(TARGET_DIR)/image
IMAGE_VERSION   := $(shell sed -n 's/^version = "\(.*\)"/\1/p' Cargo.toml | head -n 1)
ARM64           := aarch64-unknown-linux-musl
ARMV7           := armv7-unknown-linux-musleabihf
IMAGE_PLATFORMS  = linux/amd64=$(STATIC_BIN) linux/arm64=$(OUT_DIR)/$(ARM64)/release/mote \
	linux/arm/v6=$(OUT_DIR)/$(ARMV6)/release/mote linux/arm/v7=$(OUT_DIR)/$(ARMV7)/release/mote

image:
	@$(call need_apt,buildah:buildah)
	@$(MAKE) --no-print-directory static
	@$(MAKE) --no-print-directory pi PI= PI_TARGET=$(ARM64) PI_CPU=$(PI_CPU_$(ARM64))
	@$(MAKE) --no-print-directory pi PI= PI_TARGET=$(ARMV6) PI_CPU=$(PI_CPU_$(ARMV6))
	@$(MAKE) --no-print-directory pi PI= PI_TARGET=$(ARMV7) PI_CPU=$(PI_CPU_$(ARMV7))
	@.ci/image.sh $(IMAGE_DIR) $(IMAGE_VERSION) $(IMAGE_PLATFORMS)

image-test: image
	@$(call need_apt,podman:podman runc:runc curl:curl nsenter:util-linux)
	@python3 .ci/image_test.py $(IMAGE_DIR) $(IMAGE_VERSION) $(IMAGE_PLATFORMS)

# ------------------------------------------------------------------------ bench
# make bench        mote side by side with nginx, lighttpd, busybox httpd and the hyper
#                   reference in bench/hyper-ref, with the bare mio loop in bench/bare-ref
#                   as the floor, over HTTP and HTTPS, and the ARMv6 builds of mote and
#                   hyper-ref on the emulated Pi Zero of make pi-boot (~10 min); writes
#                   bench/RESULTS.md and bench/results.svg. Installs its own tools (apt: wrk
#                   nginx-light lighttpd busybox strace valgrind qemu-user qemu-system-arm cpio
#                   openssl curl) and builds what it measures: make static, make pi (ARMv6) and
#                   both references, and for the HTTPS rows mote and hyper-ref with TLS,
#                   mote's ACME build (its keep-alive figures beside the TLS build's) and
#                   make pi TLS=1.
# make bench-smoke  the <60 s version for CI: mote, hyper-ref and bare-ref, 1 s loads, and
#                   the HTTPS rows of mote (TLS and ACME builds) and hyper-ref; fails only
#                   when the harness breaks, never because a target is missed.
# make bench-redirects  only make bench's _redirects rows (instructions per request with
#                   1,000 rules, callgrind), printed; bench/RESULTS.md is left as it is.
.PHONY: bench bench-smoke bench-redirects
bench:
	@python3 bench/run.py
bench-redirects:
	@python3 bench/run.py --only=redirects
bench-smoke:
	@python3 bench/run.py --smoke

# -------------------------------------------------------------------- hardening
# make fuzz         every cargo-fuzz target in fuzz/ for FUZZ_SECONDS (default 60) each;
#                   stable toolchain with RUSTC_BOOTSTRAP=1; installs cargo-fuzz.
#                   Crashes land in fuzz/artifacts/<target>/ and fail the run. request and
#                   pipeline take inputs up to 20 KiB, past mote's 16 KiB head limit.
# make fuzz-smoke   the same, ~10 s per target (CI).
# make stress       siege, 1000 users for 60 s (STRESS_SECONDS), against mote on
#                   loopback; then shorter (STRESS_ARM_SECONDS) against the ARMv6
#                   build under qemu-arm if it has been built (`make pi`). 0 failed
#                   transactions or it fails. Installs siege (apt).
# make soak         SOAK_SECONDS (default 600) of mixed requests, RSS sampled every
#                   10 s; fails unless RSS at the end is within max(+10%, +256 KiB)
#                   of RSS after the first minute (after half of a run under 2 minutes).
.PHONY: fuzz fuzz-smoke stress soak tools-fuzz
FUZZ_SECONDS       ?= 60
FUZZ_TARGETS       := request request_split pipeline range target
STRESS_SECONDS     ?= 60
STRESS_ARM_SECONDS ?= 20
SOAK_SECONDS       ?= 600

tools-fuzz:
	@command -v cargo-fuzz >/dev/null || { \
		echo "installing cargo-fuzz (cargo install)..."; cargo install -q cargo-fuzz --locked; }

fuzz: tools-fuzz
	@cd fuzz && for t in $(FUZZ_TARGETS); do \
		mkdir -p corpus/$$t target && echo "fuzz: $$t for $(FUZZ_SECONDS) s..." && \
		case $$t in request|pipeline) len=-max_len=20480;; *) len=;; esac; \
		env -u CARGO_TARGET_DIR RUSTC_BOOTSTRAP=1 cargo fuzz run -s address $$t corpus/$$t seeds/$$t -- \
			-max_total_time=$(FUZZ_SECONDS) -print_final_stats=1 $$len 2> target/fuzz-$$t.log; \
		rc=$$?; grep -E '^(stat::number_of_executed_units|Done)' target/fuzz-$$t.log | sed "s/^/fuzz: $$t: /"; \
		[ $$rc -eq 0 ] || { grep -v '^ *[0-9]*: \|^ *at ' target/fuzz-$$t.log | tail -25; \
			echo "fuzz: $$t FAILED; the input is in fuzz/artifacts/$$t/"; exit 1; }; \
	done

fuzz-smoke:
	@$(MAKE) --no-print-directory fuzz FUZZ_SECONDS=10

stress:
	@$(call need_apt,siege:siege)
	@if [ -x $(ARMV6_BIN) ]; then $(MAKE) --no-print-directory tools-qemu; fi
	@echo "building mote (release)..."
	@cargo build --release -q
	@STRESS_SECONDS=$(STRESS_SECONDS) STRESS_ARM_SECONDS=$(STRESS_ARM_SECONDS) \
		ARM_BIN=$(ARMV6_BIN) TARGET_DIR=$(TARGET_DIR) .ci/stress.sh

soak:
	@echo "building mote (release)..."
	@cargo build --release -q
	@python3 .ci/soak.py --bin $(TARGET_DIR)/release/mote --seconds $(SOAK_SECONDS)
