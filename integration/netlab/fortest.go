package netlab

import (
	"fmt"
	"net"
	"os"
	"testing"
	"time"

	"github.com/vishvananda/netlink"
)

// Environment variables that turn a skip for a missing kernel feature
// into a failure, so that a run meant to exercise it cannot pass by
// skipping. The VM harness sets LVSD_IN_VM=1.
const (
	EnvInVM        = "LVSD_IN_VM"
	EnvRequireIPVS = "LVSD_REQUIRE_IPVS"
)

// required reports whether missing features must fail the test.
func required() bool {
	return os.Getenv(EnvInVM) == "1" || os.Getenv(EnvRequireIPVS) == "1"
}

// SkipOrFail ends tb for want of something (root, IPVS, a program). A test
// skips and says why, unless the run requires its features (LVSD_IN_VM=1
// or LVSD_REQUIRE_IPVS=1), where it fails; a benchmark always fails, its
// figures being its point.
func SkipOrFail(tb testing.TB, reason string) {
	tb.Helper()
	if required() {
		tb.Fatalf("%s (%s=1 or %s=1: required, not skipped)", reason, EnvInVM, EnvRequireIPVS)
	}
	if _, bench := tb.(*testing.B); bench {
		tb.Fatalf("%s (a benchmark fails rather than skip; run the VM ones with make bench)", reason)
	}
	tb.Skipf("%s (run in the VM: go run ./integration/cmd/vmrun; see integration/README.md)", reason)
}

// NeedIPVS ends tb (see SkipOrFail) unless this process can program IPVS:
// it must be root, and the kernel must know the IPVS generic-netlink
// family. Looking the family up by name makes the kernel load ip_vs when
// it is a module (the family's module alias is
// net-pf-16-proto-16-family-IPVS).
func NeedIPVS(tb testing.TB) {
	tb.Helper()
	if os.Geteuid() != 0 {
		SkipOrFail(tb, "IPVS: needs root")
	}
	if _, err := netlink.GenlFamilyGet("IPVS"); err != nil {
		SkipOrFail(tb, fmt.Sprintf("IPVS: kernel has no IPVS generic-netlink family: %v", err))
	}
}

// T is a Lab for a test or a benchmark. Its methods of the same names as
// Lab's take the same arguments but fail TB instead of returning an
// error; Lab's own are at hand as l.Lab.X. The lab is closed at TB's
// cleanup, whatever happens.
type T struct {
	*Lab
	TB testing.TB
}

// ForTest returns a lab in TB's temporary directory, closed at its
// cleanup. Without root it ends TB (see SkipOrFail).
func ForTest(tb testing.TB) *T {
	tb.Helper()
	if os.Geteuid() != 0 {
		SkipOrFail(tb, "network namespaces: need root")
	}
	l := New(tb.TempDir())
	tb.Cleanup(l.Close)
	return &T{Lab: l, TB: tb}
}

// Must fails TB if err is not nil.
func (l *T) Must(err error) {
	l.TB.Helper()
	if err != nil {
		l.TB.Fatal(err)
	}
}

// NS creates a namespace; see Lab.NS.
func (l *T) NS(name string) string {
	l.TB.Helper()
	v, err := l.Lab.NS(name)
	l.Must(err)
	return v
}

// In runs a command inside ns and returns its output; see Lab.In.
func (l *T) In(ns string, args ...string) string {
	l.TB.Helper()
	v, err := l.Lab.In(ns, args...)
	l.Must(err)
	return v
}

// Try is Lab.In: a command whose failure the test handles.
func (l *T) Try(ns string, args ...string) (string, error) { return l.Lab.In(ns, args...) }

// Batch runs ip commands in ns; see Lab.Batch.
func (l *T) Batch(ns, script string) { l.TB.Helper(); l.Must(l.Lab.Batch(ns, script)) }

// Link joins a and b with a veth pair; see Lab.Link.
func (l *T) Link(a, ifa, addrA, b, ifb, addrB string) {
	l.TB.Helper()
	l.Must(l.Lab.Link(a, ifa, addrA, b, ifb, addrB))
}

// Bridge creates a bridge; see Lab.Bridge.
func (l *T) Bridge(ns, br string, addrs ...string) {
	l.TB.Helper()
	l.Must(l.Lab.Bridge(ns, br, addrs...))
}

// Plug joins ns to a bridge; see Lab.Plug.
func (l *T) Plug(sw, br, port, ns, ifc string, addrs ...string) {
	l.TB.Helper()
	l.Must(l.Lab.Plug(sw, br, port, ns, ifc, addrs...))
}

// Switch creates a switch and plugs hosts into it; see Lab.Switch.
func (l *T) Switch(name, ifc string, hosts map[string]string) string {
	l.TB.Helper()
	v, err := l.Lab.Switch(name, ifc, hosts)
	l.Must(err)
	return v
}

// Segment puts hosts on one switch; see Lab.Segment.
func (l *T) Segment(ifc string, hosts map[string]string) map[string]string {
	l.TB.Helper()
	v, err := l.Lab.Segment(ifc, hosts)
	l.Must(err)
	return v
}

// Start runs a long-lived command in ns; see Lab.Start.
func (l *T) Start(ns, name string, args ...string) *Proc {
	l.TB.Helper()
	v, err := l.Lab.Start(ns, name, args...)
	l.Must(err)
	return v
}

// StartGroup runs a long-lived command in ns in a process group of its
// own; see Lab.StartGroup.
func (l *T) StartGroup(ns, name string, args ...string) *Proc {
	l.TB.Helper()
	v, err := l.Lab.StartGroup(ns, name, args...)
	l.Must(err)
	return v
}

// Nginx starts nginx in ns; see Lab.Nginx.
func (l *T) Nginx(ns, name string, port int, body string) *Proc {
	l.TB.Helper()
	v, err := l.Lab.Nginx(ns, name, port, body)
	l.Must(err)
	return v
}

// WaitPort waits until something listens on port in ns; see Lab.WaitPort.
func (l *T) WaitPort(ns string, port int, limit time.Duration) {
	l.TB.Helper()
	l.Must(l.Lab.WaitPort(ns, port, limit))
}

// Write puts a file in Dir and returns its path; see Lab.Write.
func (l *T) Write(name, body string) string {
	l.TB.Helper()
	v, err := l.Lab.Write(name, body)
	l.Must(err)
	return v
}

// Mkdir makes a directory in Dir and returns its path; see Lab.Mkdir.
func (l *T) Mkdir(name string) string {
	l.TB.Helper()
	v, err := l.Lab.Mkdir(name)
	l.Must(err)
	return v
}

// Serve serves TCP on addr in ns; see Lab.Serve.
func (l *T) Serve(ns, addr string, handle func(net.Conn)) (stop func()) {
	l.TB.Helper()
	v, err := l.Lab.Serve(ns, addr, handle)
	l.Must(err)
	return v
}

// Echo serves line echo on addr in ns; see Lab.Echo.
func (l *T) Echo(ns, addr string) (stop func()) {
	l.TB.Helper()
	v, err := l.Lab.Echo(ns, addr)
	l.Must(err)
	return v
}

// Dial connects to addr from ns; see Lab.Dial.
func (l *T) Dial(ns, addr string, timeout time.Duration) net.Conn {
	l.TB.Helper()
	v, err := l.Lab.Dial(ns, addr, timeout)
	l.Must(err)
	return v
}

// DropVRRP drops VRRP in ns; see Lab.DropVRRP.
func (l *T) DropVRRP(ns string) { l.TB.Helper(); l.Must(l.Lab.DropVRRP(ns)) }

// AllowVRRP undoes DropVRRP; see Lab.AllowVRRP.
func (l *T) AllowVRRP(ns string) { l.TB.Helper(); l.Must(l.Lab.AllowVRRP(ns)) }

// DropVRRPOn drops VRRP on one interface; see Lab.DropVRRPOn.
func (l *T) DropVRRPOn(ns, ifc string) { l.TB.Helper(); l.Must(l.Lab.DropVRRPOn(ns, ifc)) }

// AllowVRRPOn undoes DropVRRPOn; see Lab.AllowVRRPOn.
func (l *T) AllowVRRPOn(ns, ifc string) { l.TB.Helper(); l.Must(l.Lab.AllowVRRPOn(ns, ifc)) }

// SetLink sets ifc in ns up or down; see Lab.SetLink.
func (l *T) SetLink(ns, ifc string, up bool) { l.TB.Helper(); l.Must(l.Lab.SetLink(ns, ifc, up)) }

// MAC returns the hardware address of ifc in ns; see Lab.MAC.
func (l *T) MAC(ns, ifc string) net.HardwareAddr {
	l.TB.Helper()
	v, err := l.Lab.MAC(ns, ifc)
	l.Must(err)
	return v
}

// InFresh runs fn in a fresh namespace; see the function InFresh.
func (l *T) InFresh(fn func() error) { l.TB.Helper(); l.Must(InFresh(fn)) }

// WaitFor polls cond every 5 ms until it holds, and returns how long that
// took; after limit it fails TB with what, and the text of each detail.
func (l *T) WaitFor(limit time.Duration, what string, cond func() bool, detail ...func() string) time.Duration {
	l.TB.Helper()
	took, ok := Poll(limit, 5*time.Millisecond, cond)
	if !ok {
		msg := fmt.Sprintf("%s: not within %v", what, limit)
		for _, d := range detail {
			msg += "\n" + d()
		}
		l.TB.Fatal(msg)
	}
	return took
}
