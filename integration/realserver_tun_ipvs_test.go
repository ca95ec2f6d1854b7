//go:build integration && ipvs

package integration

import (
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/lvsd/lvsd/integration/netlab"
)

// TestRealserverTunnel runs in the VM, whose kernel has the ipip and
// dummy modules this machine's lacks (no IPVS is needed). A director
// sends the VIP's packets to the realserver in IP-in-IP, as IPVS TUN
// does. With the distributions' strict reverse-path filtering the
// realserver drops them even with the VIP on lo and tunl0 up (the
// control, which the kernel counts); after lvsd realserver up --tun
// --dummy it serves them; down leaves the namespace as it was.
func TestRealserverTunnel(t *testing.T) {
	// Loaded first, the module puts its fallback tunl0 in every
	// namespace made from then on (and it cannot be deleted): the
	// realserver's namespace has it, down, before and after.
	if out, err := exec.Command("modprobe", "ipip").CombinedOutput(); err != nil {
		netlab.SkipOrFail(t, "modprobe ipip: "+err.Error()+": "+string(out))
	}
	r := newRSLab(t)
	r.l.In(r.director, "ip", "addr", "del", rsVIP+"/24", "dev", "eth0") // the director reaches it by tunnel only
	r.l.Batch(r.director, "link add tun1 type ipip local 192.0.2.1 remote 192.0.2.11\n"+
		"link set tun1 up\nroute add "+rsVIP+"/32 dev tun1\n")
	r.l.In(r.rs, "sysctl", "-qw", "net.ipv4.conf.all.rp_filter=1")
	r.l.Echo(r.rs, ":7000")
	viaTunnel := func() error {
		return <-r.l.Go(r.director, func() error { return echoWithin(rsVIP+":7000", time.Second) })
	}

	r.l.Batch(r.rs, "addr add "+rsVIP+"/32 dev lo\nlink set tunl0 up\n")
	if err := viaTunnel(); err == nil {
		t.Fatal("control: served through the tunnel under strict reverse-path filtering; the test would prove nothing")
	}
	if n := r.l.In(r.rs, "nstat", "-az", "TcpExtIPReversePathFilter"); !strings.Contains(n, "TcpExtIPReversePathFilter") ||
		strings.Fields(n[strings.Index(n, "TcpExtIPReversePathFilter"):])[1] == "0" {
		t.Fatalf("control: the tunnelled SYN was not dropped by reverse-path filtering:\n%s", n)
	}
	r.l.Batch(r.rs, "addr del "+rsVIP+"/32 dev lo\nlink set tunl0 down\n")

	before := r.snapshot()
	out, code := r.lvsd("up", "--vip", rsVIP, "--tun", "--dummy", "lvs0")
	t.Logf("up:\n%s", out)
	for _, want := range []string{"create dummy interface lvs0", "set tunl0 up", "net.ipv4.conf.all.rp_filter = 0 (was 1)",
		"add 192.0.2.10/32 to lvs0"} {
		if code != 0 || !strings.Contains(out, want) {
			t.Fatalf("up: exit %d, want %q", code, want)
		}
	}
	if out, code := r.lvsd("check"); code != 0 {
		t.Errorf("check after up: exit %d\n%s", code, out)
	}
	if err := viaTunnel(); err != nil {
		t.Errorf("the realserver does not serve the VIP through the tunnel: %v", err)
	}
	out, code = r.lvsd("down")
	t.Logf("down:\n%s", out)
	if code != 0 {
		t.Fatalf("down: exit %d", code)
	}
	if after := r.snapshot(); after != before {
		t.Errorf("after down the namespace differs from before up:\n--- before\n%s\n--- after\n%s", before, after)
	}
}
