//go:build integration && !ipvs

package integration

import (
	"os"
	"strings"
	"testing"
	"time"
)

// arpAnswerers returns the MACs that answer a broadcast ARP request for
// the VIP from the client (iputils arping, broadcasts only).
func (r *rsLab) arpAnswerers() map[string]bool {
	r.l.TB.Helper()
	out, _ := r.l.Try(r.client, "arping", "-b", "-c", "3", "-w", "4", "-I", "eth0", rsVIP)
	macs := map[string]bool{}
	for _, line := range strings.Split(out, "\n") {
		if i, j := strings.Index(line, "["), strings.Index(line, "]"); strings.Contains(line, "reply from") && i >= 0 && j > i {
			macs[strings.ToLower(line[i+1:j])] = true
		}
	}
	return macs
}

// TestRealserverUpCheckDown: lvsd realserver up makes a DR realserver
// that accepts the VIP's traffic without answering ARP for it (a bare
// VIP on lo does answer: the control), check passes, a second up changes
// nothing, and down leaves the namespace as it was.
func TestRealserverUpCheckDown(t *testing.T) {
	r := newRSLab(t)
	rsMAC := strings.ToLower(r.l.MAC(r.rs, "eth0").String())
	dirMAC := strings.ToLower(r.l.MAC(r.director, "eth0").String())

	// The control: the VIP on lo with the kernel's default ARP settings
	// is answered by the realserver too, taking the VIP from the director.
	r.l.In(r.rs, "ip", "addr", "add", rsVIP+"/32", "dev", "lo")
	if got := r.arpAnswerers(); !got[rsMAC] || !got[dirMAC] {
		t.Fatalf("control: ARP for the VIP answered by %v, want the director %s and the realserver %s", got, dirMAC, rsMAC)
	}
	r.l.In(r.rs, "ip", "addr", "del", rsVIP+"/32", "dev", "lo")

	before := r.snapshot()
	out, code := r.lvsd("up", "--vip", rsVIP, "--vip", "2001:db8::10")
	t.Logf("up:\n%s", out)
	if code != 0 || !strings.Contains(out, "add 192.0.2.10/32 to lo") ||
		!strings.Contains(out, "net.ipv4.conf.eth0.arp_ignore = 1") {
		t.Fatalf("up: exit %d", code)
	}
	for _, args := range [][]string{{"check", "--vip", rsVIP, "--vip", "2001:db8::10"}, {"check"}} {
		if out, code := r.lvsd(args...); code != 0 || !strings.Contains(out, "ok: 2 VIP(s) ready") {
			t.Errorf("%v after up: exit %d\n%s", args, code, out)
		}
	}
	if out, code := r.lvsd("up", "--vip", rsVIP, "--vip", "2001:db8::10"); code != 0 || !strings.Contains(out, "nothing to do") {
		t.Errorf("second up: exit %d\n%s", code, out)
	}

	if got := r.arpAnswerers(); got[rsMAC] || !got[dirMAC] {
		t.Errorf("after up: ARP for the VIP answered by %v, want the director %s alone, never the realserver %s", got, dirMAC, rsMAC)
	}
	// What a DR director does: send the VIP's packets to the realserver's
	// MAC. The client routes the VIP through the realserver to do the same.
	r.l.Echo(r.rs, ":7000")
	r.l.In(r.client, "ip", "route", "add", rsVIP+"/32", "via", "192.0.2.11", "dev", "eth0")
	if err := <-r.l.Go(r.client, func() error { return echoWithin(rsVIP+":7000", 2*time.Second) }); err != nil {
		t.Errorf("the realserver does not serve the VIP: %v", err)
	}
	r.l.In(r.client, "ip", "route", "del", rsVIP+"/32")

	out, code = r.lvsd("down")
	t.Logf("down:\n%s", out)
	if code != 0 {
		t.Fatalf("down: exit %d", code)
	}
	if after := r.snapshot(); after != before {
		t.Errorf("after down the namespace differs from before up:\n--- before\n%s\n--- after\n%s", before, after)
	}
	if _, err := os.Stat(r.state); !os.IsNotExist(err) {
		t.Errorf("state file after down: %v", err)
	}
	if out, code := r.lvsd("check", "--vip", rsVIP); code != 1 || !strings.Contains(out, "VIP 192.0.2.10/32 not on lo") {
		t.Errorf("check after down: exit %d, want 1\n%s", code, out)
	}
}

// A VIP on the ARP-facing interface is refused: up changes nothing and
// check says why.
func TestRealserverRefusesVIPOnEth0(t *testing.T) {
	r := newRSLab(t)
	r.l.In(r.rs, "ip", "addr", "add", rsVIP+"/24", "dev", "eth0")
	before := r.snapshot()
	if out, code := r.lvsd("up", "--vip", rsVIP); code == 0 || !strings.Contains(out, "is on eth0, which answers ARP for it") {
		t.Errorf("up with the VIP on eth0: exit %d\n%s", code, out)
	}
	if after := r.snapshot(); after != before {
		t.Errorf("a refused up changed the namespace:\n--- before\n%s\n--- after\n%s", before, after)
	}
	if out, code := r.lvsd("check", "--vip", rsVIP); code != 1 || !strings.Contains(out, "problem: VIP 192.0.2.10/24 is on eth0") {
		t.Errorf("check: exit %d\n%s", code, out)
	}
}
