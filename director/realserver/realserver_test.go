package realserver

import (
	"net/netip"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

func vips(s ...string) []netip.Addr {
	var out []netip.Addr
	for _, a := range s {
		out = append(out, netip.MustParseAddr(a))
	}
	return out
}

func strs[T interface{ String() string }](cs []T) []string {
	var out []string
	for _, c := range cs {
		out = append(out, c.String())
	}
	return out
}

func statePath(t *testing.T) string { return filepath.Join(t.TempDir(), "run", "realserver.json") }

// DR with an IPv4 and an IPv6 VIP on lo: up sets ARP on all and on the
// default route's interface and adds both VIPs as host addresses; check
// then finds nothing; a second up changes nothing; down leaves the host
// exactly as it was and removes its record.
func TestUpCheckDownDR(t *testing.T) {
	h, path := newFakeHost(), statePath(t)
	before := h.snapshot()
	o := Options{VIPs: vips("192.0.2.10", "2001:db8::10")}
	made, err := Up(h, o, path)
	if err != nil {
		t.Fatal(err)
	}
	want := []string{
		"net.ipv4.conf.all.arp_ignore = 1 (was 0)", "net.ipv4.conf.all.arp_announce = 2 (was 0)",
		"net.ipv4.conf.eth0.arp_ignore = 1 (was 0)", "net.ipv4.conf.eth0.arp_announce = 2 (was 0)",
		"add 192.0.2.10/32 to lo", "add 2001:db8::10/128 to lo",
	}
	if got := strs(made); !slices.Equal(got, want) {
		t.Errorf("up made\n%s\nwant\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
	if missing, problems, err := Check(h, o); err != nil || len(missing) != 0 || len(problems) != 0 {
		t.Errorf("check after up: %v %v %v", missing, problems, err)
	}
	if again, err := Up(h, o, path); err != nil || len(again) != 0 {
		t.Errorf("second up: %v, %v; want nothing to do", strs(again), err)
	}
	undone, notes, err := Down(h, path)
	if err != nil || len(notes) != 0 {
		t.Fatalf("down: %v %v", err, notes)
	}
	if len(undone) != len(want) {
		t.Errorf("down undid %v", strs(undone))
	}
	if after := h.snapshot(); after != before {
		t.Errorf("after down:\n%s\nbefore up:\n%s", after, before)
	}
	if _, err := os.Stat(path); !os.IsNotExist(err) {
		t.Errorf("state file left behind: %v", err)
	}
}

// What was there before up stays after down: a stricter arp_ignore, a VIP
// already on lo, sysctls someone changes after up.
func TestDownUndoesOnlyItsOwn(t *testing.T) {
	h, path := newFakeHost(), statePath(t)
	h.sysctls["net/ipv4/conf/all/arp_ignore"] = "2"
	h.addrs["lo"] = append(h.addrs["lo"], netip.MustParsePrefix("192.0.2.10/32"))
	o := Options{VIPs: vips("192.0.2.10", "192.0.2.20")}
	made, err := Up(h, o, path)
	if err != nil {
		t.Fatal(err)
	}
	want := []string{
		"net.ipv4.conf.all.arp_announce = 2 (was 0)", "net.ipv4.conf.eth0.arp_ignore = 1 (was 0)",
		"net.ipv4.conf.eth0.arp_announce = 2 (was 0)", "add 192.0.2.20/32 to lo",
	}
	if got := strs(made); !slices.Equal(got, want) {
		t.Errorf("up made %q, want %q", got, want)
	}
	h.sysctls["net/ipv4/conf/eth0/arp_announce"] = "1" // the operator's, after up
	_, notes, err := Down(h, path)
	if err != nil {
		t.Fatal(err)
	}
	if len(notes) != 1 || !strings.Contains(notes[0], "net.ipv4.conf.eth0.arp_announce left at 1") {
		t.Errorf("notes %q", notes)
	}
	for name, v := range map[string]string{
		"net/ipv4/conf/all/arp_ignore": "2", "net/ipv4/conf/all/arp_announce": "0",
		"net/ipv4/conf/eth0/arp_ignore": "0", "net/ipv4/conf/eth0/arp_announce": "1",
	} {
		if h.sysctls[name] != v {
			t.Errorf("%s = %s after down, want %s", name, h.sysctls[name], v)
		}
	}
	if !slices.Contains(h.addrs["lo"], netip.MustParsePrefix("192.0.2.10/32")) ||
		slices.Contains(h.addrs["lo"], netip.MustParsePrefix("192.0.2.20/32")) {
		t.Errorf("lo after down: %v; want the VIP that was there, without the one up added", h.addrs["lo"])
	}
}

// TUN on a dummy: up creates the dummy and tunl0, sets them up, turns
// reverse-path filtering off on all and tunl0 (decapsulated packets come
// in on tunl0, which has no address, from clients routed elsewhere), and
// puts the VIP on the dummy; down deletes what it created.
func TestUpDownTunnelOnDummy(t *testing.T) {
	h, path := newFakeHost(), statePath(t)
	h.sysctls["net/ipv4/conf/all/rp_filter"] = "1"
	before := h.snapshot()
	o := Options{VIPs: vips("192.0.2.10"), Tunnel: true, Dummy: "lvs0"}
	made, err := Up(h, o, path)
	if err != nil {
		t.Fatal(err)
	}
	want := []string{
		"create dummy interface lvs0", "set lvs0 up", "create ipip interface tunl0", "set tunl0 up",
		"net.ipv4.conf.all.arp_ignore = 1 (was 0)", "net.ipv4.conf.all.arp_announce = 2 (was 0)",
		"net.ipv4.conf.eth0.arp_ignore = 1 (was 0)", "net.ipv4.conf.eth0.arp_announce = 2 (was 0)",
		"net.ipv4.conf.all.rp_filter = 0 (was 1)", "net.ipv4.conf.tunl0.rp_filter = 0 (was 1)",
		"add 192.0.2.10/32 to lvs0",
	}
	if got := strs(made); !slices.Equal(got, want) {
		t.Errorf("up made\n%s\nwant\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
	if _, _, err := Down(h, path); err != nil {
		t.Fatal(err)
	}
	if after := h.snapshot(); after != before {
		t.Errorf("after down:\n%s\nbefore up:\n%s", after, before)
	}
}

// When loading the ipip module makes tunl0 by itself, up only sets it up,
// and down only sets it down again: the kernel's device stays.
func TestTunnelDeviceFromModule(t *testing.T) {
	h, path := newFakeHost(), statePath(t)
	h.moduleMakesTunnel = true
	o := Options{VIPs: vips("192.0.2.10"), Tunnel: true}
	made, err := Up(h, o, path)
	if err != nil {
		t.Fatal(err)
	}
	if got := strs(made); slices.Contains(got, "create ipip interface tunl0") || !slices.Contains(got, "set tunl0 up") {
		t.Errorf("up made %q", got)
	}
	undone, _, err := Down(h, path)
	if err != nil {
		t.Fatal(err)
	}
	if got := strs(undone); slices.Contains(got, "delete ipip interface tunl0") || !slices.Contains(got, "set tunl0 down") {
		t.Errorf("down made %q", got)
	}
	if l, ok := h.links["tunl0"]; !ok || l.Up {
		t.Errorf("tunl0 after down: %+v %v, want present and down", l, ok)
	}
}

// A VIP on an interface that answers ARP would take the VIP from the
// director: up refuses before changing anything, and check says why.
func TestUpRefusesVIPOnARPInterface(t *testing.T) {
	h, path := newFakeHost(), statePath(t)
	h.addrs["eth0"] = append(h.addrs["eth0"], netip.MustParsePrefix("192.0.2.10/24"))
	h.addrs["lo"] = append(h.addrs["lo"], netip.MustParsePrefix("192.0.2.20/24"))
	before := h.snapshot()
	o := Options{VIPs: vips("192.0.2.10", "192.0.2.20")}
	if _, err := Up(h, o, path); err == nil || !strings.Contains(err.Error(), "nothing changed") {
		t.Fatalf("up: %v", err)
	}
	if h.snapshot() != before {
		t.Error("up changed the host although it refused")
	}
	if _, err := os.Stat(path); !os.IsNotExist(err) {
		t.Errorf("state file written by a refused up: %v", err)
	}
	_, problems, err := Check(h, o)
	if err != nil {
		t.Fatal(err)
	}
	var lines []string
	for _, p := range problems {
		lines = append(lines, string(p))
	}
	got := strings.Join(lines, "\n")
	for _, want := range []string{
		"VIP 192.0.2.10/24 is on eth0, which answers ARP for it",
		"VIP 192.0.2.20/24 on lo: the whole prefix is local to this host; want 192.0.2.20/32",
	} {
		if !strings.Contains(got, want) {
			t.Errorf("check problems lack %q:\n%s", want, got)
		}
	}
}

// An up that fails half-way has recorded what it did: down undoes it.
func TestFailedUpIsUndone(t *testing.T) {
	h, path := newFakeHost(), statePath(t)
	before := h.snapshot()
	h.failAdd = netip.MustParsePrefix("192.0.2.20/32")
	if _, err := Up(h, Options{VIPs: vips("192.0.2.10", "192.0.2.20")}, path); err == nil {
		t.Fatal("up did not report the failed address")
	}
	st, err := LoadState(path)
	if err != nil || len(st.Changes) != 5 {
		t.Fatalf("record after the failure: %+v %v", st, err)
	}
	if _, _, err := Down(h, path); err != nil {
		t.Fatal(err)
	}
	if after := h.snapshot(); after != before {
		t.Errorf("after down:\n%s\nbefore up:\n%s", after, before)
	}
}

// A dummy that holds others' addresses by the time of down is kept.
func TestDownKeepsADummyInUse(t *testing.T) {
	h, path := newFakeHost(), statePath(t)
	if _, err := Up(h, Options{VIPs: vips("192.0.2.10"), Dummy: "lvs0"}, path); err != nil {
		t.Fatal(err)
	}
	other := netip.MustParsePrefix("203.0.113.5/32")
	h.addrs["lvs0"] = append(h.addrs["lvs0"], other, netip.MustParsePrefix("fe80::1/64"))
	_, notes, err := Down(h, path)
	if err != nil {
		t.Fatal(err)
	}
	if _, ok := h.links["lvs0"]; !ok || !slices.Contains(h.addrs["lvs0"], other) ||
		len(notes) != 1 || !strings.Contains(notes[0], "lvs0 kept") {
		t.Errorf("lvs0 after down: %v %v; notes %q", ok, h.addrs["lvs0"], notes)
	}
}

func TestCheckReportsWhatIsMissing(t *testing.T) {
	h := newFakeHost()
	h.defaultLink = ""
	o := Options{VIPs: vips("192.0.2.10"), Tunnel: true}
	if _, _, err := Check(h, o); err == nil || !strings.Contains(err.Error(), "give --interface") {
		t.Errorf("no default route, no --interface: %v", err)
	}
	o.Interface = "eth0"
	missing, problems, err := Check(h, o)
	if err != nil || len(problems) != 0 {
		t.Fatal(err, problems)
	}
	var got []string
	for _, c := range missing {
		got = append(got, c.Missing())
	}
	want := []string{"ipip interface tunl0 missing", "tunl0 is down",
		"net.ipv4.conf.all.arp_ignore is 0, want 1", "net.ipv4.conf.all.arp_announce is 0, want 2",
		"net.ipv4.conf.eth0.arp_ignore is 0, want 1", "net.ipv4.conf.eth0.arp_announce is 0, want 2",
		"VIP 192.0.2.10/32 not on lo"}
	if !slices.Equal(got, want) {
		t.Errorf("check:\n%s\nwant\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
	o.Interface = "eth9"
	if _, _, err := Check(h, o); err == nil || !strings.Contains(err.Error(), "eth9: no such interface") {
		t.Errorf("unknown --interface: %v", err)
	}
}

// IPv6 alone needs no ARP settings and no ARP-facing interface.
func TestIPv6OnlyNeedsNoARP(t *testing.T) {
	h := newFakeHost()
	h.defaultLink = ""
	missing, _, err := Check(h, Options{VIPs: vips("2001:db8::10")})
	if err != nil || len(missing) != 1 || missing[0].String() != "add 2001:db8::10/128 to lo" {
		t.Errorf("check: %v %v", strs(missing), err)
	}
}

func TestDotted(t *testing.T) {
	if got := dotted("net/ipv4/conf/eth0.100/arp_ignore"); got != "net.ipv4.conf.eth0/100.arp_ignore" {
		t.Errorf("dotted: %s", got)
	}
}
