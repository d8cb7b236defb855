# ZoneBoot: `make run` serves the example zone, `make test` runs every test.
# Both install what they need (Debian packages) and are safe to run again.

SWIFT ?= $(shell command -v swift 2>/dev/null || echo /opt/swift/usr/bin/swift)
# Debian's python: the only one that sees python3-scapy and the other python3-* packages.
PYTHON := /usr/bin/python3
STATE ?= .state
ZONE ?= zones/ams1.yaml

# What the tests and benchmarks drive: relays, clients, load generators, peers to compare with.
APT_PACKAGES := libsqlite3-dev sqlite3 iproute2 time procps \
	python3 python3-venv python3-yaml python3-jsonschema python3-pytest python3-scapy \
	isc-dhcp-relay isc-dhcp-client busybox dhcpcd-base kea-admin kea-dhcp4-server \
	ipxe qemu-system-x86 ipxe-qemu ovmf curl tftp-hpa atftp tftpd-hpa wrk nginx openssl tcpdump util-linux \
	etcd-server etcd-client prometheus systemd libc-bin \
	chromium

# From PyPI, into the repository's own virtualenv (Debian's python is externally
# managed): real Ansible for the inventory tests, and sushy-tools, the Redfish BMC the
# hook tests register. Tests and benchmarks find them in $(VENV)/bin.
VENV := .venv
PIP_PACKAGES := ansible-core==2.19.14 sushy-tools==2.2.0

.PHONY: deps firmware build release package run test test-swift test-e2e fuzz fuzz-smoke bench clean

deps:
	@missing=$$(for p in $(APT_PACKAGES); do \
		dpkg-query -W -f='$${Status}\n' $$p 2>/dev/null | grep -q '^install ok installed' || echo $$p; done); \
	if [ -n "$$missing" ]; then \
		echo "make deps: installing$$(echo $$missing | sed 's/^/ /')"; \
		[ "$$(id -u)" = 0 ] || { echo "make deps: run as root to install packages" >&2; exit 1; }; \
		policy=; if [ ! -e /usr/sbin/policy-rc.d ]; then \
			printf '#!/bin/sh\nexit 101\n' > /usr/sbin/policy-rc.d && chmod +x /usr/sbin/policy-rc.d && policy=1; fi; \
		DEBIAN_FRONTEND=noninteractive apt-get -o DPkg::Lock::Timeout=600 update -qq && \
		DEBIAN_FRONTEND=noninteractive apt-get -o DPkg::Lock::Timeout=600 install -y -qq --no-install-recommends $$missing >/dev/null; \
		status=$$?; [ -n "$$policy" ] && rm -f /usr/sbin/policy-rc.d; [ $$status = 0 ] || exit $$status; \
	fi
	@for p in $(PIP_PACKAGES); do \
		[ -x $(VENV)/bin/python ] && \
			[ "$$($(VENV)/bin/python -m pip show $${p%%==*} 2>/dev/null | sed -n 's/^Version: //p')" = "$${p##*==}" ] && continue; \
		echo "make deps: installing $(PIP_PACKAGES) into $(VENV)"; \
		[ -x $(VENV)/bin/python ] || $(PYTHON) -m venv $(VENV) || exit 1; \
		$(VENV)/bin/python -m pip install -q $(PIP_PACKAGES) || exit 1; break; \
	done

# Boot loaders from Debian's ipxe package into firmware/cache, checked against firmware/manifest.json.
firmware: deps
	$(PYTHON) firmware/fetch.py

# The git revision `--version` prints (Sources/CBuildInfo); "-dirty" with uncommitted changes.
# Release builds only: the flag reaches every C compile, and debug builds should not redo them per commit.
GIT_REVISION := $(shell git describe --always --dirty --abbrev=12 2>/dev/null || echo unknown)
REVISION_FLAGS := -Xcc -DZONEBOOT_GIT_REVISION='"$(GIT_REVISION)"'

build:
	$(SWIFT) build

release:
	$(SWIFT) build -c release $(REVISION_FLAGS)

# The Debian package (packaging/build-deb.sh): release zonebootd and zonectl with the Swift
# runtime linked in, the systemd unit, /etc/zoneboot and the firmware manifest, into .build/package/.
package: deps
	$(SWIFT) build -c release --static-swift-stdlib $(REVISION_FLAGS)
	packaging/build-deb.sh

# Serves the example zone from the embedded store, answering DHCP on 127.0.0.1 only.
run: deps firmware build
	.build/debug/zonebootd --zone $(ZONE) --state $(STATE) --listen 127.0.0.1

test-swift: deps
	$(SWIFT) build --build-tests
	$(SWIFT) test

# Real peers (dhcrelay, dhclient, udhcpc, dhcpcd, scapy) in network namespaces the tests make and remove.
test-e2e: deps firmware build
	@[ "$$(id -u)" = 0 ] || { echo "make test-e2e: network namespaces need root" >&2; exit 1; }
	ZONEBOOTD=$(CURDIR)/.build/debug/zonebootd ZONECTL=$(CURDIR)/.build/debug/zonectl \
		$(PYTHON) -m pytest -q -p no:cacheprovider tests/e2e

# libFuzzer targets (fuzz/): the DHCPv4 message, Option 82, UDPFrame, TFTP packet and zone
# loader, each built with swiftc -sanitize=fuzzer,address and run for FUZZ_SECONDS; prints
# executions, exec/s and crashes per target and fails on a crash. fuzz-smoke: 6 s each. The zone
# loader links swift-crypto from the debug build (`build`).
FUZZ_SECONDS ?= 600
FUZZ_RSS_MB ?= 2048
fuzz: build
	$(SWIFT) package resolve
	SWIFTC=$(SWIFT)c fuzz/build.sh
	FUZZ_SECONDS=$(FUZZ_SECONDS) FUZZ_RSS_MB=$(FUZZ_RSS_MB) fuzz/run.sh

fuzz-smoke:
	@$(MAKE) --no-print-directory fuzz FUZZ_SECONDS=6

# The end-to-end tests first, then the fuzz smoke run, Swift's own last: its summary is
# the run's closing line.
test: deps build
	$(MAKE) --no-print-directory test-e2e
	$(MAKE) --no-print-directory fuzz-smoke
	$(MAKE) --no-print-directory test-swift

bench: deps firmware release
	ANSIBLE_INVENTORY=$(CURDIR)/$(VENV)/bin/ansible-inventory bench/zone-bench.sh
	$(PYTHON) bench/dhcp_bench.py
	$(PYTHON) bench/boot_storm.py
	$(PYTHON) bench/http_bench.py
	$(PYTHON) bench/tftp_bench.py
	$(PYTHON) bench/hooks_bench.py
	$(PYTHON) bench/apply_bench.py
	$(PYTHON) bench/etcd_roundtrip.py
	$(PYTHON) bench/etcd_follow.py
	$(PYTHON) bench/etcd_pair_bench.py
	$(PYTHON) bench/zone_view_bench.py
	$(PYTHON) bench/etcd_pair_storm.py

clean:
	rm -rf .build $(STATE) $(VENV)
