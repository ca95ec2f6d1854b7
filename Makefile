# lvsd: `make demo` runs the pair, `make test` runs every test.
GO       ?= go
BUILD    := $(CURDIR)/.build
FUZZTIME ?= 2m
SHELL    := /bin/bash
.SHELLFLAGS := -o pipefail -ec
VERSION  ?= $(shell git describe --always --dirty 2>/dev/null || echo dev)

.PHONY: all build deps test unit deb deb-check netns vm bench fuzz lint demo clean soak

all: build

# Without cgo: only then can lvsd clear the capabilities of all its
# threads before it runs a program (director/privilege).
build:
	CGO_ENABLED=0 $(GO) build -ldflags "-X main.version=$(VERSION)" -o $(BUILD)/lvsd ./cmd/lvsd

deps:
	@scripts/deps.sh

# Unit tests under the race detector, the Debian package through lintian,
# then the namespace tests on this kernel, then the IPVS tests inside a VM
# running Debian's kernel.
test: deps lint unit deb-check netns vm

unit:
	$(GO) test -race -count=1 ./...

# The Debian package (.build/lvsd_VERSION_amd64.deb, built by nfpm), and
# the check that lintian finds no error or warning in it, that it holds
# every file it must and that its unit rates OK in systemd-analyze.
deb:
	@scripts/deb.sh

deb-check:
	scripts/deb-check.sh

# Namespace tests on the host kernel: the build without the ipvs tag (see
# integration/README.md). The tests that need IPVS are built only with it,
# into the binary that `make vm` runs in the VM.
netns:
	CGO_ENABLED=0 $(GO) build -o $(BUILD)/lvsd ./cmd/lvsd
	LVSD_BIN=$(BUILD)/lvsd $(GO) test -tags integration -race -count=1 -v ./integration/ 2>&1 | scripts/summarize.sh netns

vm:
	CGO_ENABLED=0 $(GO) build -o $(BUILD)/lvsd ./cmd/lvsd
	CGO_ENABLED=0 $(GO) test -c -tags integration,ipvs -o $(BUILD)/integration-ipvs.test ./integration/
	$(GO) run ./integration/cmd/vmrun -timeout 10m -env LVSD_BIN=$(BUILD)/lvsd -dir $(CURDIR)/integration -- $(BUILD)/integration-ipvs.test -test.v -test.count=1 -test.skip '^TestSoakIPVS$$' 2>&1 | scripts/summarize.sh vm

# Benchmarks print figures; they never assert timings. The IPVS ones run
# in the VM beside ipvsadm on the same kernel; the run ends with one table.
bench: deps
	scripts/bench.sh

fuzz:
	FUZZTIME=$(FUZZTIME) scripts/fuzz.sh

# The chaos soak (integration/soak_*): a seeded sequence of FAULTS faults
# against the pair in namespaces, invariants checked throughout; it ends
# with "N faults, M violations". SEED replays a failed run (it prints
# both). make test runs the short soak (50 faults) as part of netns.
# VMFAULTS=N runs the VM layer too, after it (integration/soak_ipvs_*:
# real IPVS, DR then NAT, with sync; the same SEED), N faults at about
# 5 s each: make soak FAULTS=1000 VMFAULTS=200. It is out of make vm
# (it skips without VMFAULTS) while the violations it finds stand.
# ONLY=FIRST-LAST replays only those faults of the VM plan, against a
# fresh pair: make soak SEED=7 FAULTS=1 VMFAULTS=200 ONLY=92-99.
VMFAULTS ?=
ONLY ?=
soak:
	CGO_ENABLED=0 $(GO) build -o $(BUILD)/lvsd ./cmd/lvsd
	LVSD_BIN=$(BUILD)/lvsd LVSD_SOAK_SEED=$(SEED) LVSD_SOAK_FAULTS=$(FAULTS) \
	  $(GO) test -tags integration -count=1 -timeout 0 -v -run '^TestSoak$$' ./integration/
	if [ -n "$(VMFAULTS)" ]; then \
	  CGO_ENABLED=0 $(GO) test -c -tags integration,ipvs -o $(BUILD)/soak-ipvs.test ./integration/ && \
	  $(GO) run ./integration/cmd/vmrun -timeout $$((600 + 15 * $(VMFAULTS)))s -env LVSD_BIN=$(BUILD)/lvsd \
	    -env LVSD_SOAK_SEED=$(SEED) -env LVSD_SOAK_FAULTS=$(VMFAULTS) -env LVSD_SOAK_ONLY=$(ONLY) -dir $(CURDIR)/integration -- \
	    $(BUILD)/soak-ipvs.test -test.v -test.count=1 -test.timeout 0 -test.run '^TestSoakIPVS$$'; \
	fi

lint:
	@out=$$(gofmt -l $$(git ls-files '*.go') $$(git ls-files --others --exclude-standard '*.go')); \
	  if [ -n "$$out" ]; then echo "gofmt needed:"; echo "$$out"; exit 1; fi
	$(GO) vet ./...
	$(GO) vet -tags integration ./integration/...
	$(GO) vet -tags integration,ipvs ./integration/...
	$(GO) test -count=1 ./scripts/layout/

# The pair in network namespaces (in the VM harness when this kernel has
# no IPVS): traffic through the VIP, a failover, a switchover, the figures.
demo: deps
	CGO_ENABLED=0 $(GO) build -o $(BUILD)/lvsd ./cmd/lvsd
	CGO_ENABLED=0 $(GO) build -o $(BUILD)/demo ./integration/cmd/demo
	$(BUILD)/demo -lvsd $(BUILD)/lvsd -examples examples/pair

clean:
	rm -rf $(BUILD)
