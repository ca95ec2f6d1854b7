//go:build integration

package integration

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/lvsd/lvsd/director/api"
	"github.com/lvsd/lvsd/integration/netlab"
)

// lvsdBinary is the lvsd binary under test, built before the VM boots
// (make vm passes LVSD_BIN).
func lvsdBinary(t *testing.T) string {
	t.Helper()
	p := os.Getenv("LVSD_BIN")
	if p == "" {
		p, _ = filepath.Abs("../.build/lvsd")
	}
	if _, err := os.Stat(p); err != nil {
		skipOrFail(t, "lvsd binary not built: "+p+" (make vm builds it)")
	}
	return p
}

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
func (l *lab) requests(ns, url string, n int) *reqProbe {
	p := &reqProbe{bodies: map[string]int{}}
	err := <-l.goIn(ns, func() error {
		for i := 0; i < n; i++ {
			p.get(url)
		}
		return nil
	})
	if err != nil {
		l.t.Fatal(err)
	}
	return p
}

// loop probes url from ns every interval until stop is closed.
func (l *lab) loop(ns, url string, every time.Duration, stop <-chan struct{}) (*reqProbe, <-chan error) {
	p := &reqProbe{bodies: map[string]int{}}
	done := l.goIn(ns, func() error {
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
func natLab(t *testing.T, reals ...string) (l *lab, client, dir string, servers map[string]*exec.Cmd) {
	l = newLab(t)
	client, dir = l.ns("client"), l.ns("dir")
	l.link(client, "c0", "192.0.2.100/24", dir, "d0", "192.0.2.1/24")
	l.in(dir, "ip", "addr", "add", "192.0.2.10/32", "dev", "d0")
	l.in(dir, "ip", "link", "add", "br0", "type", "bridge")
	l.in(dir, "ip", "addr", "add", "198.51.100.1/24", "dev", "br0")
	l.in(dir, "ip", "link", "set", "br0", "up")
	servers = map[string]*exec.Cmd{}
	for i, name := range reals {
		rs := l.ns(name)
		l.link(dir, "d"+name, "", rs, "e0", fmt.Sprintf("198.51.100.%d/24", 11+i))
		l.in(dir, "ip", "link", "set", "d"+name, "master", "br0")
		l.in(rs, "ip", "route", "add", "default", "via", "198.51.100.1")
		servers[name] = l.nginx(rs, name, 8080, name)
	}
	return l, client, dir, servers
}

// startLvsd runs lvsd in ns with the given service file and waits until
// its control socket answers; it returns the command and the socket.
func (l *lab) startLvsd(ns, bin, name string) (*os.Process, string) {
	l.t.Helper()
	sock := filepath.Join(l.dir, "lvsd", "ctl.sock")
	cmd := l.start(ns, name, bin, "run", "-c", filepath.Join(l.dir, "lvsd", "lvsd.yaml"))
	l.waitUp(sock)
	return cmd.Process, sock
}

// waitUp waits until lvsd answers on sock and has reconciled once.
func (l *lab) waitUp(sock string) {
	l.t.Helper()
	l.waitStatus(sock, func(s api.Status) bool { return s.Generation >= 1 && !s.IPVS.At.IsZero() })
}

func (l *lab) waitStatus(sock string, cond func(api.Status) bool) api.Status {
	l.t.Helper()
	var s api.Status
	for end := time.Now().Add(15 * time.Second); time.Now().Before(end); time.Sleep(20 * time.Millisecond) {
		ctx, cancel := context.WithTimeout(context.Background(), time.Second)
		err := api.Call(ctx, sock, "status", nil, &s)
		cancel()
		if err == nil && cond(s) {
			return s
		}
	}
	l.t.Fatalf("lvsd status never reached the wanted state; last %+v", s)
	return s
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
	needIPVS(t)
	bin := lvsdBinary(t)
	l, client, dir, _ := natLab(t, "rs1", "rs2")
	l.write("lvsd/lvsd.yaml", "node: dir\ncontrol: {socket: ctl.sock}\nhttp: {listen: \"\"}\ndirector: {set_sysctls: true}\n")
	svc := l.write("lvsd/services.d/web.yaml", fmt.Sprintf(natService, 1))
	proc, sock := l.startLvsd(dir, bin, "lvsd")

	p := l.requests(client, "192.0.2.10:80", 20)
	if p.failed != 0 || p.bodies["rs1"] != 10 || p.bodies["rs2"] != 10 {
		t.Fatalf("weighted round robin 1:1 over NAT: %v", p)
	}
	// lvsd status carries the kernel's counters. The kernel copies its
	// per-CPU totals out every 2 s (the rate estimator), so wait for them.
	st := l.waitStatus(sock, func(s api.Status) bool {
		return len(s.IPVS.Services) == 1 && s.IPVS.Services[0].Connections >= 20
	})
	if c := st.IPVS.Services[0]; c.Connections != 20 || c.Reals[0].Active+c.Reals[0].Inactive != 10 || c.InBytes == 0 {
		t.Errorf("counters after 20 requests: %+v", c)
	}

	stop := make(chan struct{})
	loop, done := l.loop(client, "192.0.2.10:80", 5*time.Millisecond, stop)
	time.Sleep(300 * time.Millisecond)
	// Reload with a weight change.
	if err := os.WriteFile(svc, []byte(fmt.Sprintf(natService, 3)), 0o644); err != nil {
		t.Fatal(err)
	}
	_ = proc.Signal(syscall.SIGHUP)
	l.waitStatus(sock, func(s api.Status) bool {
		return s.Generation == 2 && len(s.IPVS.Services) == 1 && s.IPVS.Services[0].Reals[0].Weight == 3
	})
	time.Sleep(300 * time.Millisecond)
	// Orderly stop and start again.
	_ = proc.Signal(syscall.SIGTERM)
	_, _ = proc.Wait()
	time.Sleep(200 * time.Millisecond)
	proc, _ = l.startLvsd(dir, bin, "lvsd-2")
	time.Sleep(300 * time.Millisecond)
	// Killed outright and started again.
	_ = proc.Kill()
	_, _ = proc.Wait()
	time.Sleep(200 * time.Millisecond)
	l.startLvsd(dir, bin, "lvsd-3")
	time.Sleep(300 * time.Millisecond)
	close(stop)
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	t.Logf("client during reload, stop/start and kill/start: %v", loop)
	if loop.failed != 0 || loop.ok < 100 {
		t.Errorf("requests during reload and restarts: %v\nlvsd log:\n%s", loop, l.logOf("lvsd"))
	}
	if loop.bodies["rs1"] <= loop.bodies["rs2"] {
		t.Errorf("the reload to weights 3:1 is not visible in the spread: %v", loop.bodies)
	}
}

// TestIPVSDatapathDR: direct routing on one segment; the realservers hold
// the VIP on lo (arp_ignore=1, arp_announce=2) and answer the client
// directly.
func TestIPVSDatapathDR(t *testing.T) {
	needIPVS(t)
	bin := lvsdBinary(t)
	l := newLab(t)
	sw := l.ns("sw")
	l.in(sw, "ip", "link", "add", "br0", "type", "bridge")
	l.in(sw, "ip", "link", "set", "br0", "up")
	hosts := map[string]string{"client": "192.0.2.100/24", "dir": "192.0.2.1/24", "rs1": "192.0.2.11/24", "rs2": "192.0.2.12/24"}
	ns := map[string]string{}
	for _, name := range []string{"client", "dir", "rs1", "rs2"} {
		ns[name] = l.ns(name)
		l.link(ns[name], "e0", hosts[name], sw, "p"+name, "")
		l.in(sw, "ip", "link", "set", "p"+name, "master", "br0")
	}
	l.in(ns["dir"], "ip", "addr", "add", "192.0.2.10/32", "dev", "e0")
	for _, rs := range []string{"rs1", "rs2"} {
		l.in(ns[rs], "sysctl", "-qw", "net.ipv4.conf.all.arp_ignore=1", "net.ipv4.conf.all.arp_announce=2")
		l.in(ns[rs], "ip", "addr", "add", "192.0.2.10/32", "dev", "lo")
		l.nginx(ns[rs], rs, 80, rs)
	}
	l.write("lvsd/lvsd.yaml", "node: dir\ncontrol: {socket: ctl.sock}\nhttp: {listen: \"\"}\ndirector: {reconcile_interval: 1s}\n")
	l.write("lvsd/services.d/web.yaml", `name: web
virtual: 192.0.2.10:80
scheduler: rr
forward: dr
check: {type: none}
reals:
  - address: 192.0.2.11:80
  - address: 192.0.2.12:80
`)
	_, sock := l.startLvsd(ns["dir"], bin, "lvsd")
	p := l.requests(ns["client"], "192.0.2.10:80", 20)
	if p.failed != 0 || p.bodies["rs1"] != 10 || p.bodies["rs2"] != 10 {
		t.Fatalf("round robin over DR: %v", p)
	}
	// Drift: someone flushes the table, then edits a weight; the periodic
	// reconcile (1 s here) puts back what the files say, and logs it.
	for _, edit := range [][]string{{"ipvsadm", "-C"}, {"ipvsadm", "-e", "-t", "192.0.2.10:80", "-r", "192.0.2.11:80", "-g", "-w", "9"}} {
		if edit[1] == "-e" {
			l.waitStatus(sock, func(s api.Status) bool { return len(s.IPVS.Services) == 1 })
		}
		l.in(ns["dir"], edit...)
		for end := time.Now().Add(10 * time.Second); ; time.Sleep(100 * time.Millisecond) {
			out, _ := l.try(ns["dir"], "ipvsadm", "-Ln")
			if strings.Contains(out, "192.0.2.11:80                Route   1") && strings.Contains(out, "192.0.2.12:80") {
				break
			}
			if time.Now().After(end) {
				t.Fatalf("drift after %v not repaired:\n%s\n%s", edit, out, l.logOf("lvsd"))
			}
		}
	}
	if log := l.logOf("lvsd"); strings.Count(log, "ipvs drift repaired") < 2 {
		t.Errorf("drift repairs not logged:\n%s", log)
	}
	// The replies came straight from the realservers: the client learned
	// the VIP's MAC from the director only.
	neigh := l.in(ns["client"], "ip", "neigh", "show", "192.0.2.10")
	dirMAC := strings.Fields(l.in(ns["dir"], "cat", "/sys/class/net/e0/address"))[0]
	if !strings.Contains(neigh, dirMAC) {
		t.Errorf("client's neighbour entry for the VIP %q is not the director's MAC %s", neigh, dirMAC)
	}
}
