//go:build integration && ipvs

package integration

import (
	"bytes"
	"fmt"
	"maps"
	"net/netip"
	"os"
	"strconv"
	"strings"
	"testing"
	"time"
)

// What the VM layer's soak measures: the kernel's IPVS table of a
// director's namespace, and each lvsd's resource use.

// kernelTable reads d's kernel IPVS table: "virtual>real" -> weight.
// It reads /proc/net/ip_vs as the kernel prints it for d's namespace
// (thread-self: the thread locked in it), which is cheaper than a
// netlink dump of 500 destinations under TCG and owes nothing to lvsd's
// own netlink code.
func (s *vsoak) kernelTable(d string) (map[string]int, error) {
	var b []byte
	err := <-s.l.Lab.Go(s.ns[d], func() (err error) {
		b, err = os.ReadFile("/proc/thread-self/net/ip_vs")
		return err
	})
	if err != nil {
		return nil, err
	}
	return parseProcIPVS(string(b))
}

// parseProcIPVS parses /proc/net/ip_vs (IPv4 services):
//
//	TCP  C000020A:1F40 rr
//	  -> CB007101:1F40      Route   1      0          0
func parseProcIPVS(text string) (map[string]int, error) {
	out := map[string]int{}
	virtual := ""
	for _, line := range strings.Split(text, "\n") {
		f := strings.Fields(line)
		switch {
		case len(f) >= 3 && (f[0] == "TCP" || f[0] == "UDP"):
			a, err := hexAddrPort(f[1])
			if err != nil {
				return nil, err
			}
			virtual = a
		case len(f) >= 4 && f[0] == "->" && virtual != "" && f[1] != "RemoteAddress:Port":
			a, err := hexAddrPort(f[1])
			if err != nil {
				return nil, err
			}
			w, err := strconv.Atoi(f[3])
			if err != nil {
				return nil, fmt.Errorf("weight %q: %w", f[3], err)
			}
			out[virtual+">"+a] = w
		}
	}
	return out, nil
}

// hexAddrPort turns "C000020A:1F40" into "192.0.2.10:8000".
func hexAddrPort(s string) (string, error) {
	var a [4]byte
	var port uint16
	if _, err := fmt.Sscanf(s, "%02X%02X%02X%02X:%04X", &a[0], &a[1], &a[2], &a[3], &port); err != nil {
		return "", fmt.Errorf("address %q: %w", s, err)
	}
	return netip.AddrPortFrom(netip.AddrFrom4(a), port).String(), nil
}

// metrics reads d's process figures from its /metrics.
func (s *vsoak) metrics(d string) (procSample, error) {
	m, err := soakMetrics(s.l, s.ns[d], 3*time.Second)
	if err != nil {
		return m, err
	}
	// The size of the connection table, which a sweep and a handover
	// read (logged beside RSS, not judged).
	_ = <-s.l.Lab.Go(s.ns[d], func() error {
		b, err := os.ReadFile("/proc/thread-self/net/ip_vs_conn")
		if err == nil {
			m.IPVSConns = float64(bytes.Count(b, []byte("\n")) - 1) // less the header
		}
		return err
	})
	return m, nil
}

// vsoakWarmUp is how long a process runs before its warm-up figure is
// taken, and vsoakLeakSpan how long past it a process must run for the
// leak check to judge it: as in the namespace layer (soakWarmUp), a Go
// process's RSS settles only after its heap has grown to its working
// size, so short soaks judge no process.
const (
	vsoakWarmUp   = 30 * time.Second
	vsoakLeakSpan = 2 * time.Minute
)

// sampleAll takes the warm-up figure of each running, awake lvsd that
// has run vsoakWarmUp without one, and the last figure of every other.
func (s *vsoak) sampleAll() {
	s.sample([]string{"a", "b"}, s.metrics, vsoakWarmUp)
}

// checkLeaks logs every process's figures and holds those that ran
// vsoakLeakSpan past warm-up to 10%.
func (s *vsoak) checkLeaks() {
	s.judgeLives(s.l.TB, s.log, vsoakLeakSpan)
}

// TestParseProcIPVS reads the table the soak compares as the kernel
// prints it.
func TestParseProcIPVS(t *testing.T) {
	text := `IP Virtual Server version 1.2.1 (size=4096)
Prot LocalAddress:Port Scheduler Flags
  -> RemoteAddress:Port Forward Weight ActiveConn InActConn
TCP  C000020A:1B58 wrr
  -> C000020B:1B58      Route   3      0          1
  -> C000020C:1B58      Route   0      2          0
TCP  C000020A:1F40 rr
  -> CB007101:1F40      Masq    17     0          0
`
	got, err := parseProcIPVS(text)
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]int{"192.0.2.10:7000>192.0.2.11:7000": 3, "192.0.2.10:7000>192.0.2.12:7000": 0,
		"192.0.2.10:8000>203.0.113.1:8000": 17}
	if !maps.Equal(got, want) {
		t.Fatalf("got %v, want %v", got, want)
	}
}
