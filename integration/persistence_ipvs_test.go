//go:build integration && ipvs

package integration

import (
	"os/exec"
	"strings"
	"testing"

	"github.com/lvsd/lvsd/director/api"
	"github.com/lvsd/lvsd/integration/netlab"
)

// persistentService is natService with client affinity: every connection
// of a client goes to the realserver its persistence template names.
const persistentService = `name: web
virtual: 192.0.2.10:80
scheduler: wrr
forward: nat
persistence: {timeout: 300s}
check: {type: none}
reals:
  - address: 198.51.100.11:8080
  - address: 198.51.100.12:8080
`

// TestIPVSPersistenceLeavesADrainedRealserver: a drained realserver (weight
// 0) of a persistent service gets no new connection of a client whose
// template names it, because lvsd (set_sysctls) sets
// net.ipv4.vs.expire_quiescent_template=1, a prerequisite of persistent
// services. With the kernel's default (0), set back by hand for the
// second half, the client's new connections follow its template to the
// drained realserver for as long as the template lives (300 s here).
func TestIPVSPersistenceLeavesADrainedRealserver(t *testing.T) {
	netlab.NeedIPVS(t)
	bin := lvsdBinary(t)
	l, client, dir, _ := natLab(t, "rs1", "rs2")
	conf := l.Write("lvsd/lvsd.yaml", "node: dir\ncontrol: {socket: ctl.sock}\nhttp: {listen: \"\"}\ndirector: {set_sysctls: true}\n")
	l.Write("lvsd/services.d/web.yaml", persistentService)
	_, sock := startLvsd(l, dir, bin, "lvsd")
	const sysctl = "/proc/sys/net/ipv4/vs/expire_quiescent_template"
	if v := strings.TrimSpace(l.In(dir, "cat", sysctl)); v != "1" {
		t.Fatalf("%s is %q after lvsd started with set_sysctls, want 1", sysctl, v)
	}
	addr := map[string]string{"rs1": "198.51.100.11:8080", "rs2": "198.51.100.12:8080"}
	// only asserts that every request went to one realserver, and returns it.
	only := func(when string) string {
		t.Helper()
		p := requests(l, client, "192.0.2.10:80", 6)
		if p.failed != 0 || len(p.bodies) != 1 {
			t.Fatalf("%s: want 6 requests to one realserver: %v", when, p)
		}
		for rs := range p.bodies {
			return rs
		}
		return ""
	}
	drain := func(rs string, on bool) {
		t.Helper()
		cmd := "undrain"
		if on {
			cmd = "drain"
		}
		if out, err := exec.Command(bin, cmd, "-c", conf, "web", addr[rs]).CombinedOutput(); err != nil {
			t.Fatalf("lvsd %s web %s: %v\n%s", cmd, addr[rs], err, out)
		}
		want := 1
		if on {
			want = 0
		}
		waitStatus(t, sock, func(s api.Status) bool {
			for _, svc := range s.IPVS.Services {
				for _, r := range svc.Reals {
					if r.Addr == addr[rs] {
						return r.Weight == want
					}
				}
			}
			return false
		})
	}
	other := map[string]string{"rs1": "rs2", "rs2": "rs1"}

	first := only("before any drain (persistence)")
	drain(first, true)
	if got := only(first + " drained, expire_quiescent_template=1"); got != other[first] {
		t.Fatalf("%s drained: the client still goes to it", first)
	}
	drain(first, false)
	// The client's template now names the other realserver. With the
	// kernel's default, draining that one changes nothing for it.
	second := other[first]
	l.In(dir, "sh", "-c", "echo 0 > "+sysctl)
	drain(second, true)
	if got := only(second + " drained, expire_quiescent_template=0"); got != second {
		t.Fatalf("with the kernel's default, the client left the drained %s for %s: the test no longer shows why lvsd sets it", second, got)
	}
}
