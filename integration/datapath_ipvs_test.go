//go:build integration && ipvs

package integration

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/lvsd/lvsd/director/api"
	"github.com/lvsd/lvsd/integration/netlab"
)

// probe is a client looping over a URL with one new connection per
// request, counting what it gets.
type reqProbe struct {
	mu     sync.Mutex
	ok     int
	failed int
	bodies map[string]int
	errs   []string
}

// get makes one HTTP/1.0 request over a new connection. It dials on the
// calling goroutine, which goIn locked into the client's namespace
// (http.Transport would dial on a goroutine of its own, on a thread in
// another namespace).
func (p *reqProbe) get(addr string) {
	body, err := netlab.HTTPGet(addr, 2*time.Second)
	p.mu.Lock()
	defer p.mu.Unlock()
	if err != nil {
		p.failed++
		if len(p.errs) < 10 {
			p.errs = append(p.errs, time.Now().Format("15:04:05.000")+" "+err.Error())
		}
		return
	}
	p.ok++
	p.bodies[body]++
}

func (p *reqProbe) String() string {
	p.mu.Lock()
	defer p.mu.Unlock()
	return fmt.Sprintf("%d ok, %d failed, by realserver %v, errors %v", p.ok, p.failed, p.bodies, p.errs)
}

// requests makes n sequential requests from namespace ns.
func requests(l *netlab.T, ns, url string, n int) *reqProbe {
	l.TB.Helper()
	p := &reqProbe{bodies: map[string]int{}}
	l.Must(<-l.Go(ns, func() error {
		for i := 0; i < n; i++ {
			p.get(url)
		}
		return nil
	}))
	return p
}

// requestLoop requests url from ns every interval until stop is closed.
func requestLoop(l *netlab.T, ns, url string, every time.Duration, stop <-chan struct{}) (*reqProbe, <-chan error) {
	p := &reqProbe{bodies: map[string]int{}}
	done := l.Go(ns, func() error {
		tick := time.NewTicker(every)
		defer tick.Stop()
		for {
			select {
			case <-stop:
				return nil
			case <-tick.C:
				p.get(url)
			}
		}
	})
	return p, done
}

// natLab builds client -- director -- nginx realservers behind NAT:
// client 192.0.2.100, VIP 192.0.2.10 on the director, realservers
// 198.51.100.11, .12, ... on port 8080 (each answering its own name)
// routing back through 198.51.100.1. It returns the realservers' nginx.
func natLab(t *testing.T, reals ...string) (l *netlab.T, client, dir string, servers map[string]*netlab.Proc) {
	l = netlab.ForTest(t)
	client, dir = l.NS("client"), l.NS("dir")
	l.Link(client, "c0", "192.0.2.100/24", dir, "d0", "192.0.2.1/24")
	l.In(dir, "ip", "addr", "add", "192.0.2.10/32", "dev", "d0")
	l.Bridge(dir, "br0", "198.51.100.1/24")
	servers = map[string]*netlab.Proc{}
	for i, name := range reals {
		rs := l.NS(name)
		l.Plug(dir, "br0", "d"+name, rs, "e0", fmt.Sprintf("198.51.100.%d/24", 11+i))
		l.In(rs, "ip", "route", "add", "default", "via", "198.51.100.1")
		servers[name] = l.Nginx(rs, name, 8080, name)
	}
	return l, client, dir, servers
}

// startLvsd runs lvsd in ns with the lab's lvsd/lvsd.yaml and waits until
// its control socket answers; it returns the process and the socket.
func startLvsd(l *netlab.T, ns, bin, name string) (*netlab.Proc, string) {
	l.TB.Helper()
	sock := filepath.Join(l.Dir, "lvsd", "ctl.sock")
	p := l.Start(ns, name, bin, "run", "-c", filepath.Join(l.Dir, "lvsd", "lvsd.yaml"))
	waitUp(l.TB, sock)
	return p, sock
}

const natService = `name: web
virtual: 192.0.2.10:80
scheduler: wrr
forward: nat
check: {type: none}
reals:
  - address: 198.51.100.11:8080
    weight: %d
  - address: 198.51.100.12:8080
`

// TestIPVSDatapathNAT: a client fetches through the VIP from nginx
// realservers behind NAT, spread by weighted round robin; then, while it loops, lvsd
// reloads, stops and restarts, and is killed and restarted: no request
// may fail, because lvsd never flushes and adopts what the kernel has.
func TestIPVSDatapathNAT(t *testing.T) {
	netlab.NeedIPVS(t)
	bin := lvsdBinary(t)
	l, client, dir, _ := natLab(t, "rs1", "rs2")
	l.Write("lvsd/lvsd.yaml", "node: dir\ncontrol: {socket: ctl.sock}\nhttp: {listen: \"\"}\ndirector: {set_sysctls: true}\n")
	svc := l.Write("lvsd/services.d/web.yaml", fmt.Sprintf(natService, 1))
	proc, sock := startLvsd(l, dir, bin, "lvsd")

	p := requests(l, client, "192.0.2.10:80", 20)
	if p.failed != 0 || p.bodies["rs1"] != 10 || p.bodies["rs2"] != 10 {
		t.Fatalf("weighted round robin 1:1 over NAT: %v", p)
	}
	// lvsd status carries the kernel's counters. The kernel copies its
	// per-CPU totals out every 2 s (the rate estimator), so wait for them.
	st := waitStatus(t, sock, func(s api.Status) bool {
		return len(s.IPVS.Services) == 1 && s.IPVS.Services[0].Connections >= 20
	})
	if c := st.IPVS.Services[0]; c.Connections != 20 || c.Reals[0].Active+c.Reals[0].Inactive != 10 || c.InBytes == 0 {
		t.Errorf("counters after 20 requests: %+v", c)
	}

	stop := make(chan struct{})
	loop, done := requestLoop(l, client, "192.0.2.10:80", 5*time.Millisecond, stop)
	time.Sleep(300 * time.Millisecond)
	// Reload with a weight change.
	if err := os.WriteFile(svc, []byte(fmt.Sprintf(natService, 3)), 0o644); err != nil {
		t.Fatal(err)
	}
	_ = proc.Signal(syscall.SIGHUP)
	waitStatus(t, sock, func(s api.Status) bool {
		return s.Generation == 2 && len(s.IPVS.Services) == 1 && s.IPVS.Services[0].Reals[0].Weight == 3
	})
	time.Sleep(300 * time.Millisecond)
	// Orderly stop and start again.
	_ = proc.Signal(syscall.SIGTERM)
	_ = proc.Wait()
	time.Sleep(200 * time.Millisecond)
	proc, _ = startLvsd(l, dir, bin, "lvsd-2")
	time.Sleep(300 * time.Millisecond)
	// Killed outright and started again.
	proc.Kill()
	_ = proc.Wait()
	time.Sleep(200 * time.Millisecond)
	startLvsd(l, dir, bin, "lvsd-3")
	time.Sleep(300 * time.Millisecond)
	close(stop)
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	t.Logf("client during reload, stop/start and kill/start: %v", loop)
	if loop.failed != 0 || loop.ok < 100 {
		t.Errorf("requests during reload and restarts: %v\nlvsd log:\n%s", loop, l.LogOf("lvsd"))
	}
	if loop.bodies["rs1"] <= loop.bodies["rs2"] {
		t.Errorf("the reload to weights 3:1 is not visible in the spread: %v", loop.bodies)
	}
}

// TestIPVSDatapathDR: direct routing on one segment; the realservers hold
// the VIP on lo (arp_ignore=1, arp_announce=2) and answer the client
// directly.
func TestIPVSDatapathDR(t *testing.T) {
	netlab.NeedIPVS(t)
	bin := lvsdBinary(t)
	l := netlab.ForTest(t)
	ns := l.Segment("e0", map[string]string{"client": "192.0.2.100/24", "dir": "192.0.2.1/24", "rs1": "192.0.2.11/24", "rs2": "192.0.2.12/24"})
	l.In(ns["dir"], "ip", "addr", "add", "192.0.2.10/32", "dev", "e0")
	for _, rs := range []string{"rs1", "rs2"} {
		l.In(ns[rs], "sysctl", "-qw", "net.ipv4.conf.all.arp_ignore=1", "net.ipv4.conf.all.arp_announce=2")
		l.In(ns[rs], "ip", "addr", "add", "192.0.2.10/32", "dev", "lo")
		l.Nginx(ns[rs], rs, 80, rs)
	}
	l.Write("lvsd/lvsd.yaml", "node: dir\ncontrol: {socket: ctl.sock}\nhttp: {listen: \"\"}\ndirector: {reconcile_interval: 1s}\n")
	l.Write("lvsd/services.d/web.yaml", `name: web
virtual: 192.0.2.10:80
scheduler: rr
forward: dr
check: {type: none}
reals:
  - address: 192.0.2.11:80
  - address: 192.0.2.12:80
`)
	_, sock := startLvsd(l, ns["dir"], bin, "lvsd")
	p := requests(l, ns["client"], "192.0.2.10:80", 20)
	if p.failed != 0 || p.bodies["rs1"] != 10 || p.bodies["rs2"] != 10 {
		t.Fatalf("round robin over DR: %v", p)
	}
	// Drift: someone flushes the table, then edits a weight; the periodic
	// reconcile (1 s here) puts back what the files say, and logs it.
	for _, edit := range [][]string{{"ipvsadm", "-C"}, {"ipvsadm", "-e", "-t", "192.0.2.10:80", "-r", "192.0.2.11:80", "-g", "-w", "9"}} {
		if edit[1] == "-e" {
			waitStatus(t, sock, func(s api.Status) bool { return len(s.IPVS.Services) == 1 })
		}
		l.In(ns["dir"], edit...)
		for end := time.Now().Add(10 * time.Second); ; time.Sleep(100 * time.Millisecond) {
			out, _ := l.Try(ns["dir"], "ipvsadm", "-Ln")
			if strings.Contains(out, "192.0.2.11:80                Route   1") && strings.Contains(out, "192.0.2.12:80") {
				break
			}
			if time.Now().After(end) {
				t.Fatalf("drift after %v not repaired:\n%s\n%s", edit, out, l.LogOf("lvsd"))
			}
		}
	}
	if log := l.LogOf("lvsd"); strings.Count(log, "ipvs drift repaired") < 2 {
		t.Errorf("drift repairs not logged:\n%s", log)
	}
	// The replies came straight from the realservers: the client learned
	// the VIP's MAC from the director only.
	neigh := l.In(ns["client"], "ip", "neigh", "show", "192.0.2.10")
	dirMAC := strings.Fields(l.In(ns["dir"], "cat", "/sys/class/net/e0/address"))[0]
	if !strings.Contains(neigh, dirMAC) {
		t.Errorf("client's neighbour entry for the VIP %q is not the director's MAC %s", neigh, dirMAC)
	}
}
