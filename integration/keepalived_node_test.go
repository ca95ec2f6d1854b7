//go:build integration && !ipvs

package integration

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"syscall"
	"time"

	"github.com/lvsd/lvsd/director/api"
	"github.com/lvsd/lvsd/integration/netlab"
)

// kadSpec is one VRRP instance as both daemons are configured: the same
// VRID, version, interval and VIP, so that they form one virtual router.
type kadSpec struct {
	Version  int           // 2 (with auth_pass) or 3
	Advert   time.Duration // 1s for version 2; 100ms for version 3
	VRID     int
	Priority int
	// AuthPass is the version 2 password; "" means kadAuthPass.
	AuthPass string
	// VirtualMAC puts the VIP on a macvlan with the virtual router MAC
	// (lvsd: virtual_mac; keepalived: use_vmac).
	VirtualMAC bool
}

// kadAuthPass is the version 2 password (keepalived: auth_type PASS).
const kadAuthPass = "secret"

// password returns the version 2 password of the spec.
func (s kadSpec) password() string {
	if s.AuthPass == "" {
		return kadAuthPass
	}
	return s.AuthPass
}

// masterDown is Master_Down_Interval of a backup of priority p with this
// spec: 3 * interval + (256 - p) * interval / 256 (RFC 5798 §6.1; RFC
// 3768 §6.1 gives the same with a whole number of seconds).
func (s kadSpec) masterDown(p int) time.Duration {
	return 3*s.Advert + time.Duration(256-p)*s.Advert/256
}

// kadNode is one director daemon, lvsd or keepalived, in a lab host. Each
// start is a new process in a new process group, so that stopping it also
// stops keepalived's VRRP child.
type kadNode struct {
	l    *kadLab
	host string // "a" or "b"
	impl string // "lvsd" or "keepalived"
	spec kadSpec
	name string // of its directory in the lab's
	dir  string
	conf string
	proc *netlab.Proc   // the current (or last) start
	runs []*netlab.Proc // every start, each with its log
}

// node writes the configuration of impl on host and returns the daemon,
// not started.
func (l *kadLab) node(host, impl string, spec kadSpec) *kadNode {
	l.TB.Helper()
	l.seq++
	n := &kadNode{l: l, host: host, impl: impl, spec: spec, name: fmt.Sprintf("%02d-%s-%s", l.seq, host, impl)}
	n.dir = l.Mkdir(n.name)
	n.writeConf()
	return n
}

// writeConf writes the daemon's configuration for its current spec.
func (n *kadNode) writeConf() {
	n.l.TB.Helper()
	var conf, file string
	switch n.impl {
	case "lvsd":
		file = "lvsd.yaml"
		n.l.Mkdir(filepath.Join(n.name, "services.d"))
		auth := ""
		if n.spec.Version == 2 {
			auth = "      auth_pass: " + n.spec.password() + "\n"
		}
		if n.spec.VirtualMAC {
			auth += "      virtual_mac: true\n"
		}
		conf = fmt.Sprintf(`node: %s
control: {socket: ctl.sock}
http: {listen: ""}
vrrp:
  instances:
    - name: front
      interface: e0
      vrid: %d
      priority: %d
      version: %d
      advert_interval: %v
%s      virtual_ips: [%s/24]
      handover: {on_stop: true, timeout: 2s}
`, n.host, n.spec.VRID, n.spec.Priority, n.spec.Version, n.spec.Advert, auth, kadVIP)
	case "keepalived":
		file = "keepalived.conf"
		auth := ""
		if n.spec.Version == 2 {
			auth = "  authentication {\n    auth_type PASS\n    auth_pass " + n.spec.password() + "\n  }\n"
		}
		if n.spec.VirtualMAC {
			auth += "  use_vmac\n"
		}
		conf = fmt.Sprintf(`global_defs {
  router_id %s
}
vrrp_instance front {
  state BACKUP
  interface e0
  virtual_router_id %d
  priority %d
  version %d
  advert_int %g
%s  virtual_ipaddress {
    %s/24
  }
}
`, n.host, n.spec.VRID, n.spec.Priority, n.spec.Version, n.spec.Advert.Seconds(), auth, kadVIP)
	}
	n.conf = n.l.Write(filepath.Join(n.name, file), conf)
}

// start starts the daemon and waits (bounded) until it runs its instance.
// It leads a process group of its own (netlab's StartGroup), so that kill
// and stop take keepalived's VRRP child with it.
func (n *kadNode) start() {
	n.l.TB.Helper()
	var argv []string
	switch n.impl {
	case "lvsd":
		argv = []string{lvsdBinary(n.l.TB), "run", "--ipvs=memory", "-c", n.conf}
	case "keepalived":
		// A SIGKILLed keepalived leaves its pid files, and the VRRP child's
		// pid may still be a zombie, or reused: keepalived would then
		// refuse to start ("daemon is already running").
		for _, f := range []string{"keepalived.pid", "vrrp.pid", "checkers.pid"} {
			_ = os.Remove(filepath.Join(n.dir, f))
		}
		// --vrrp: the VRRP child only, no checker child, so nothing asks
		// for IPVS; --dont-fork and --log-console keep it in our hands
		// and its log in the lab's; the pid files are ours, not /run's.
		argv = []string{"keepalived", "--dont-fork", "--log-console", "--log-detail", "--no-syslog",
			"--vrrp", "--use-file", n.conf, "--pid", filepath.Join(n.dir, "keepalived.pid"),
			"--vrrp_pid", filepath.Join(n.dir, "vrrp.pid"), "--checkers_pid", filepath.Join(n.dir, "checkers.pid")}
	}
	p := n.l.StartGroup(n.l.ns[n.host], fmt.Sprintf("%s/run%d", n.name, len(n.runs)+1), argv...)
	n.proc, n.runs = p, append(n.runs, p)
	n.l.WaitFor(10*time.Second, n.impl+" on "+n.host+" starts", func() bool {
		select {
		case <-p.Exited():
			return true // reported below
		default:
		}
		return n.state() != "?"
	}, n.log)
	select {
	case <-p.Exited():
		n.l.TB.Fatalf("%s on %s exited at start:\n%s", n.impl, n.host, n.log())
	default:
	}
}

// kill is the death of the director's machine: its e0 goes down and the
// daemon's process group is SIGKILLed in the same breath, link first, so
// that nothing it might still send (keepalived's VRRP child gets SIGTERM
// from the kernel when its parent dies) reaches the segment.
func (n *kadNode) kill() {
	n.l.setLink(n.host, false)
	n.proc.Kill()
	n.wait(5 * time.Second)
}

// term sends SIGTERM, the graceful stop of both daemons, and returns at
// once; wait waits for the exit.
func (n *kadNode) term() { _ = n.proc.Signal(syscall.SIGTERM) }

// wait waits (bounded) until the daemon has exited.
func (n *kadNode) wait(timeout time.Duration) {
	n.l.TB.Helper()
	select {
	case <-n.proc.Exited():
	case <-time.After(timeout):
		n.l.TB.Fatalf("%s on %s still running %v after it was stopped", n.impl, n.host, timeout)
	}
}

// stop kills the daemon's whole process group, for the end of a run.
func (n *kadNode) stop() {
	if n.proc == nil {
		return
	}
	n.proc.Kill()
	n.wait(5 * time.Second)
}

// switchover hands the master role to the peer the way operators do it
// with each daemon. lvsd: `lvsd switchover` (resign with priority 0,
// VIPs kept until the peer is heard, then priority 1). keepalived has no
// such command: the common practice is to lower the priority in the
// configuration below the peer's and reload (SIGHUP, what `systemctl
// reload keepalived` sends); the preempting peer then takes over after
// its Master_Down_Interval.
func (n *kadNode) switchover(peerPriority int) {
	n.l.TB.Helper()
	switch n.impl {
	case "lvsd":
		out, err := exec.Command(lvsdBinary(n.l.TB), "switchover", "-c", n.conf).CombinedOutput()
		if err != nil {
			n.l.TB.Fatalf("lvsd switchover on %s: %v\n%s", n.host, err, out)
		}
	case "keepalived":
		n.spec.Priority = max(1, peerPriority/2)
		n.writeConf()
		_ = n.proc.Signal(syscall.SIGHUP)
	}
}

// kadStateRE finds keepalived's state changes in its log.
var kadStateRE = regexp.MustCompile(`\(front\) Entering (\w+) STATE`)

// state returns the daemon's VRRP state ("MASTER", "BACKUP", ...), or "?"
// while it is not running its instance.
func (n *kadNode) state() string {
	if n.proc == nil {
		return "?"
	}
	select {
	case <-n.proc.Exited():
		return "?"
	default:
	}
	switch n.impl {
	case "lvsd":
		st, err := n.status()
		if err != nil || len(st.VRRP) == 0 {
			return "?"
		}
		return string(st.VRRP[0].State)
	default:
		log := n.lastLog()
		m := kadStateRE.FindAllStringSubmatchIndex(log, -1)
		switch {
		case len(m) == 0:
			return "?"
		case strings.Contains(log[m[len(m)-1][1]:], ": Stopping\n"):
			return "STOPPING"
		}
		last := m[len(m)-1]
		return log[last[2]:last[3]]
	}
}

// status asks lvsd for its status.
func (n *kadNode) status() (api.Status, error) {
	ctx, cancel := context.WithTimeout(context.Background(), time.Second)
	defer cancel()
	var s api.Status
	err := api.Call(ctx, filepath.Join(n.dir, "ctl.sock"), "status", nil, &s)
	return s, err
}

// vrrpStatus returns lvsd's instance status.
func (n *kadNode) vrrpStatus() api.Instance {
	n.l.TB.Helper()
	s, err := n.status()
	if err != nil || len(s.VRRP) == 0 {
		n.l.TB.Fatalf("lvsd on %s: status: %v", n.host, err)
	}
	return s.VRRP[0]
}

// lastLog returns what the current (or last) process has logged.
func (n *kadNode) lastLog() string {
	if n.proc == nil {
		return ""
	}
	return n.l.LogOf(n.proc.Name)
}

// log returns every log of the daemon, for failure messages.
func (n *kadNode) log() string {
	var b strings.Builder
	for i, p := range n.runs {
		fmt.Fprintf(&b, "== %s on %s, run %d (%s.log)\n%s", n.impl, n.host, i+1, p.Name, n.l.LogOf(p.Name))
	}
	return b.String()
}
