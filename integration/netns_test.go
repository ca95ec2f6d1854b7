//go:build integration

package integration

import (
	"fmt"
	"os"
	"runtime"
	"testing"

	"github.com/vishvananda/netlink"
	"github.com/vishvananda/netns"
)

// Environment variables that turn a skip for a missing kernel feature
// into a failure, so that a run meant to exercise it cannot pass by
// skipping. The VM harness sets LVSD_IN_VM=1.
const (
	envInVM        = "LVSD_IN_VM"
	envRequireIPVS = "LVSD_REQUIRE_IPVS"
)

// requireFeatures reports whether missing features must fail the test.
func requireFeatures() bool {
	return os.Getenv(envInVM) == "1" || os.Getenv(envRequireIPVS) == "1"
}

// skipOrFail skips the test with reason, or fails it when the run
// requires the feature (see requireFeatures).
func skipOrFail(t *testing.T, reason string) {
	t.Helper()
	if requireFeatures() {
		t.Fatalf("%s (%s=1 or %s=1: required, not skipped)", reason, envInVM, envRequireIPVS)
	}
	t.Skipf("%s (run in the VM: go run ./integration/cmd/vmrun; see integration/README.md)", reason)
}

// needIPVS skips the test (or fails it, see skipOrFail) unless this
// process can program IPVS: it must be root, and the kernel must know
// the IPVS generic-netlink family. Looking the family up by name makes
// the kernel load ip_vs when it is a module (the family's module alias
// is net-pf-16-proto-16-family-IPVS).
func needIPVS(t *testing.T) {
	t.Helper()
	if os.Geteuid() != 0 {
		skipOrFail(t, "IPVS: needs root")
	}
	if _, err := netlink.GenlFamilyGet("IPVS"); err != nil {
		skipOrFail(t, fmt.Sprintf("IPVS: kernel has no IPVS generic-netlink family: %v", err))
	}
}

// inNetns runs fn in a fresh network namespace, on an OS thread locked
// for the purpose, with lo up. Sockets and netlink handles that fn opens
// stay in that namespace, and so do processes it starts with os/exec:
// Go forks them from the calling (locked) thread. The thread is never
// unlocked, so it ends with the goroutine and the namespace with it.
func inNetns(t *testing.T, fn func() error) {
	t.Helper()
	if os.Geteuid() != 0 {
		skipOrFail(t, "network namespace: needs root")
	}
	if err := inFreshNetns(fn); err != nil {
		t.Fatal(err)
	}
}

// inFreshNetns is inNetns without the test: it returns fn's error.
func inFreshNetns(fn func() error) error {
	errc := make(chan error, 1)
	go func() {
		runtime.LockOSThread() // never unlocked: thread exits with goroutine
		ns, err := netns.New()
		if err != nil {
			errc <- fmt.Errorf("new netns: %w", err)
			return
		}
		defer ns.Close()
		if err := linkUp("lo"); err != nil {
			errc <- err
			return
		}
		errc <- fn()
	}()
	return <-errc
}

// linkUp sets the named link up in the calling thread's namespace.
// Without lo up the kernel rejects IPVS real servers as not unicast.
func linkUp(name string) error {
	l, err := netlink.LinkByName(name)
	if err != nil {
		return fmt.Errorf("link %s: %w", name, err)
	}
	if err := netlink.LinkSetUp(l); err != nil {
		return fmt.Errorf("link %s up: %w", name, err)
	}
	return nil
}

// needIPVSB is needIPVS for benchmarks: a benchmark run without IPVS
// fails, since its figures are the point.
func needIPVSB(b *testing.B) {
	b.Helper()
	if os.Geteuid() != 0 {
		b.Fatal("IPVS: needs root")
	}
	if _, err := netlink.GenlFamilyGet("IPVS"); err != nil {
		b.Fatalf("IPVS: kernel has no IPVS generic-netlink family: %v (run in the VM: make bench)", err)
	}
}

// inNetnsB is inNetns for benchmarks.
func inNetnsB(b *testing.B, fn func() error) {
	b.Helper()
	if err := inFreshNetns(fn); err != nil {
		b.Fatal(err)
	}
}
