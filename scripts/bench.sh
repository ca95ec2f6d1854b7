#!/usr/bin/env bash
# Runs every benchmark (unit ones on this kernel, IPVS and VRRP ones where
# they need to be) and ends with one markdown table of the figures that
# benchmarks tagged as BENCH|figure|lvsd|reference|note.
set -uo pipefail
BUILD=${BUILD:-$PWD/.build}
GO=${GO:-go}
log=$(mktemp)
trap 'rm -f "$log"' EXIT
run() { echo "== $*"; "$@" 2>&1 | tee -a "$log"; }
status=0
run $GO test -run='^$' -bench=. -benchmem ./... || status=1
CGO_ENABLED=0 $GO build -o "$BUILD/lvsd" ./cmd/lvsd || exit 1
# Two builds of the integration tests (integration/README.md): without the
# ipvs tag for this kernel, with it for the VM.
CGO_ENABLED=0 $GO test -c -tags integration -o "$BUILD/integration.test" ./integration/ || exit 1
CGO_ENABLED=0 $GO test -c -tags integration,ipvs -o "$BUILD/integration-ipvs.test" ./integration/ || exit 1
# On this kernel (namespaces, no IPVS): VRRP failover and health checks.
( cd integration && run env LVSD_BIN="$BUILD/lvsd" "$BUILD/integration.test" -test.run '^$' \
    -test.bench . -test.benchtime 1x ) || status=1
# In the VM (real IPVS). 2 GiB: BenchmarkIPVSMemoryVsKeepalived runs lvsd,
# then keepalived, with 100,000 realservers against 10,000 listeners.
run $GO run ./integration/cmd/vmrun -timeout 30m -mem 2048 -dir "$PWD/integration" -- "$BUILD/integration-ipvs.test" \
  -test.run '^$' -test.bench . -test.benchtime 1x || status=1
echo
echo "## lvsd figures (this run)"
echo
echo "| figure | lvsd | beside it | note |"
echo "|---|---|---|---|"
grep -h '^BENCH|' "$log" | awk -F'|' '{ printf "| %s | %s | %s | %s |\n", $2, $3, $4, $5 }'
exit $status
