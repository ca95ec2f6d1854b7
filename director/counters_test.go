package director

import (
	"context"
	"fmt"
	"net/netip"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/lvsd/lvsd/director/ipvs"
)

// TestCounterCacheReadsOncePerTTL checks that scrapes within countersTTL
// of a read, concurrent ones included, share it, and that a later one or
// a new configuration reads again.
func TestCounterCacheReadsOncePerTTL(t *testing.T) {
	var mu sync.Mutex
	reads := 0
	read := func(context.Context) (map[ipvs.ServiceKey]ipvs.Counters, error) {
		mu.Lock()
		defer mu.Unlock()
		reads++
		return map[ipvs.ServiceKey]ipvs.Counters{}, nil
	}
	var c counterCache
	ctx := context.Background()
	t0 := time.Unix(1000, 0)
	l1, l2 := &labelSet{}, &labelSet{}
	var wg sync.WaitGroup
	for range 8 {
		wg.Go(func() {
			if rows, err := c.rowsFor(ctx, t0, l1, read, &counterRows{}); rows == nil || err != nil {
				t.Errorf("rows %v, err %v", rows, err)
			}
		})
	}
	wg.Wait()
	c.get(ctx, t0.Add(countersTTL-time.Millisecond), read)
	if reads != 1 {
		t.Fatalf("%d reads within the TTL, want 1", reads)
	}
	c.get(ctx, t0.Add(countersTTL), read)
	if reads != 2 {
		t.Fatalf("%d reads after the TTL, want 2", reads)
	}
	c.rowsFor(ctx, t0.Add(countersTTL), l2, read, &counterRows{})
	if reads != 3 {
		t.Fatalf("%d reads after a new configuration, want 3", reads)
	}
}

// TestCountersFollowReadsInReusedRows checks the exposition of the
// kernel's counters across reads that a scrape's scratch lays out into
// the same rows: new values after a read, a destination gone from the
// kernel gone from the exposition, one the files do not list shown
// while the kernel has it and no longer after.
func TestCountersFollowReadsInReusedRows(t *testing.T) {
	mem := ipvs.NewMemory()
	d, _ := runFarmOn(t, farm(t, 2, 3, freeAddr(t)), mem, nil)
	key := ipvs.ServiceKey{Protocol: syscall.IPPROTO_TCP, Addr: netip.MustParseAddrPort("192.0.2.1:1000")}
	rs1, rs2 := netip.MustParseAddrPort("198.51.100.1:8080"), netip.MustParseAddrPort("198.51.100.2:8080")
	extra := netip.MustParseAddrPort("198.51.100.99:8080")
	line := func(rs netip.AddrPort) string {
		return `lvsd_ipvs_real_connections_total{service="svc0000",local_address="192.0.2.1",local_port="1000",proto="TCP",local_mark="",remote_address="` +
			rs.Addr().String() + `",remote_port="8080"} `
	}
	total := uint32(0)
	readAgain := func(add uint32) string { // traffic, then a scrape after the TTL
		t.Helper()
		total += add
		mem.Traffic(func(ipvs.ServiceKey, netip.AddrPort) ipvs.DestCounters { return ipvs.DestCounters{Total: add} })
		d.metrics.counters.mu.Lock()
		d.metrics.counters.at = time.Time{}
		d.metrics.counters.mu.Unlock()
		return scrape(t, d)
	}
	want := func(out string, rs netip.AddrPort, v uint32) {
		t.Helper()
		if l := line(rs) + strconv.FormatUint(uint64(v), 10) + "\n"; !strings.Contains(out, l) {
			t.Errorf("exposition lacks %q", l)
		}
	}
	absent := func(out string, rs netip.AddrPort) {
		t.Helper()
		if strings.Contains(out, line(rs)) {
			t.Errorf("exposition still has %s", line(rs))
		}
	}
	out := readAgain(1)
	want(out, rs1, 1)
	out = readAgain(4)
	want(out, rs1, 5)
	want(out, rs2, 5)
	if err := mem.Apply(ipvs.Op{Kind: ipvs.AddDest, Key: key, Addr: extra, Dest: ipvs.Dest{Forward: "nat", Weight: 1}}); err != nil {
		t.Fatal(err)
	}
	out = readAgain(2)
	want(out, rs1, 7)
	want(out, extra, 2)
	for _, a := range []netip.AddrPort{rs2, extra} {
		if err := mem.Apply(ipvs.Op{Kind: ipvs.DelDest, Key: key, Addr: a}); err != nil {
			t.Fatal(err)
		}
	}
	out = readAgain(1)
	want(out, rs1, 8)
	absent(out, rs2)
	absent(out, extra)
}

// TestCountersOfRealsListedOutOfOrder: a service whose file lists its
// realservers out of address order (the kernel's order) still gets each
// realserver's own counters.
func TestCountersOfRealsListedOutOfOrder(t *testing.T) {
	dir := t.TempDir()
	if err := os.Mkdir(filepath.Join(dir, "services.d"), 0o755); err != nil {
		t.Fatal(err)
	}
	main := filepath.Join(dir, "lvsd.yaml")
	if err := os.WriteFile(main, fmt.Appendf(nil, "node: t\ncontrol: {socket: lvsd.sock}\nhttp: {listen: %q}\n", freeAddr(t)), 0o644); err != nil {
		t.Fatal(err)
	}
	octets := []int{7, 3, 12, 1, 5}
	var b strings.Builder
	b.WriteString("name: web\nvirtual: 192.0.2.1:80\nforward: nat\ncheck: {type: none}\nreals:\n")
	for _, o := range octets {
		fmt.Fprintf(&b, "  - address: 198.51.100.%d:8080\n", o)
	}
	if err := os.WriteFile(filepath.Join(dir, "services.d", "web.yaml"), []byte(b.String()), 0o644); err != nil {
		t.Fatal(err)
	}
	mem := ipvs.NewMemory()
	d, _ := runFarmOn(t, main, mem, nil)
	mem.Traffic(func(_ ipvs.ServiceKey, a netip.AddrPort) ipvs.DestCounters {
		return ipvs.DestCounters{Total: uint32(a.Addr().As4()[3])}
	})
	out := scrape(t, d)
	for _, o := range octets {
		l := fmt.Sprintf(`lvsd_ipvs_real_connections_total{service="web",local_address="192.0.2.1",local_port="80",proto="TCP",local_mark="",remote_address="198.51.100.%d",remote_port="8080"} %d`+"\n", o, o)
		if !strings.Contains(out, l) {
			t.Errorf("exposition lacks %q", l)
		}
	}
}
