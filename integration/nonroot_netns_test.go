//go:build integration && !ipvs

package integration

import (
	"fmt"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/lvsd/lvsd/director/privilege"
	"github.com/lvsd/lvsd/integration/netlab"
)

// nobody is the unprivileged user the pair runs as (uid and gid 65534).
const nobody = "65534"

// lvsdCaps are what the systemd unit grants lvsd, and all it needs.
const lvsdCaps = privilege.NetAdmin | privilege.NetRaw

// asLvsdUser is the systemd unit's privilege set for a command run as
// nobody: CAP_NET_ADMIN and CAP_NET_RAW as ambient capabilities (the
// unit's AmbientCapabilities=), nothing else in the bounding set
// (CapabilityBoundingSet=), no_new_privs (NoNewPrivileges=).
func asLvsdUser(argv ...string) []string {
	caps := "-all,+net_admin,+net_raw"
	return append([]string{"setpriv", "--reuid=" + nobody, "--regid=" + nobody, "--clear-groups",
		"--inh-caps=" + caps, "--ambient-caps=" + caps, "--bounding-set=" + caps, "--no-new-privs", "--"}, argv...)
}

// capsScript reports the capability sets of the process running it (the
// shell lvsd started: $$) into DIR/KIND.caps, KIND being its first
// argument; lvsd's own arguments follow and are ignored.
const capsScript = "#!/bin/sh\ngrep -E '^(Uid|Cap)' /proc/$$/status > \"$(dirname \"$0\")/$1.caps.new\"\n" +
	"mv \"$(dirname \"$0\")/$1.caps.new\" \"$(dirname \"$0\")/$1.caps\"\n"

// TestNonRootPairFailover runs the pair as the systemd unit runs lvsd:
// as an unprivileged user holding only CAP_NET_ADMIN and CAP_NET_RAW. The
// pair elects a master, which takes the VIP; the programs lvsd starts (a
// notify command, a track script, an external check) hold no capability;
// when the master dies the backup takes the VIP over.
func TestNonRootPairFailover(t *testing.T) {
	l := netlab.ForTest(t)
	if _, err := exec.LookPath("setpriv"); err != nil {
		netlab.SkipOrFail(t, "needs setpriv (util-linux)")
	}
	bin := nobodyCanRun(t, l, lvsdBinary(t))
	ns := l.Segment("e0", map[string]string{"client": "192.0.2.100/24", "a": "192.0.2.1/24", "b": "192.0.2.2/24"})
	vip := netip.MustParseAddr(pairVIP)
	config, sock, proc := map[string]string{}, map[string]string{}, map[string]*netlab.Proc{}
	for name, prio := range map[string]int{"a": 150, "b": 100} {
		config[name], sock[name] = nonRootNode(t, l, name, prio)
		proc[name] = l.Start(ns[name], "lvsd-"+name, asLvsdUser(bin, "run", "--ipvs=memory", "-c", config[name])...)
	}
	logs := func() string { return "== a\n" + l.LogOf("lvsd-a") + "== b\n" + l.LogOf("lvsd-b") }
	for _, name := range []string{"a", "b"} {
		waitUp(t, sock[name])
		self, err := privilege.ReadStatus(fmt.Sprintf("/proc/%d/status", proc[name].Pid()))
		if err != nil {
			t.Fatal(err)
		}
		if self.Effective != lvsdCaps || self.Permitted != lvsdCaps || self.Ambient != 0 || self.Inheritable != 0 {
			t.Errorf("lvsd %s runs with %+v, want permitted and effective %#x only, nothing to pass on", name, self, lvsdCaps)
		}
	}
	l.WaitFor(5*time.Second, "a master with the VIP", func() bool {
		return lvsdState(sock["a"]) == "MASTER" && lvsdState(sock["b"]) == "BACKUP" && l.HasAddr(ns["a"], "e0", vip)
	}, logs)

	// Each kind of child reports its sets once it has run as lvsd's child.
	dir := filepath.Dir(config["a"])
	for _, kind := range []string{"notify", "track", "check"} {
		path := filepath.Join(dir, kind+".caps")
		l.WaitFor(10*time.Second, "a's "+kind+" program to run", func() bool { _, err := os.Stat(path); return err == nil }, logs)
		child, uid := childCaps(t, path)
		if uid != nobody {
			t.Errorf("%s program ran as uid %s, want %s", kind, uid, nobody)
		}
		if child.Effective|child.Permitted|child.Ambient|child.Inheritable != 0 {
			t.Errorf("%s program holds capabilities: %+v (lvsd's are %#x)", kind, child, lvsdCaps)
		}
	}

	// The master dies with its link; the unprivileged backup takes over.
	proc["a"].Kill()
	l.SetLink(ns["a"], "e0", false)
	took := l.WaitFor(5*time.Second, "b master with the VIP", func() bool {
		return lvsdState(sock["b"]) == "MASTER" && l.HasAddr(ns["b"], "e0", vip)
	}, logs)
	t.Logf("unprivileged b took the VIP over %v after a died", took)
}

// nobodyCanRun copies bin where the user nobody can execute it: the test's
// temporary directories are root's alone.
func nobodyCanRun(t *testing.T, l *netlab.T, bin string) string {
	t.Helper()
	for _, d := range []string{filepath.Dir(l.Dir), l.Dir} {
		if err := os.Chmod(d, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	b, err := os.ReadFile(bin)
	if err != nil {
		t.Fatal(err)
	}
	dst := filepath.Join(l.Mkdir("bin"), "lvsd")
	if err := os.WriteFile(dst, b, 0o755); err != nil {
		t.Fatal(err)
	}
	return dst
}

// nonRootNode writes director name's files into a directory that nobody
// owns (lvsd keeps its socket and state there) and returns the main
// file's path and the control socket's. Its notify command, track script
// and external check all run capsScript.
func nonRootNode(t *testing.T, l *netlab.T, name string, prio int) (config, sock string) {
	t.Helper()
	dir := l.Mkdir(name)
	script := l.Write(name+"/caps.sh", capsScript)
	if err := os.Chmod(script, 0o755); err != nil {
		t.Fatal(err)
	}
	config = l.Write(name+"/lvsd.yaml", fmt.Sprintf(`node: %s
control: {socket: ctl.sock}
http: {listen: ""}
notify: {command: [%[2]s, notify], timeout: 2s}
vrrp:
  instances:
    - name: front
      interface: e0
      vrid: 51
      priority: %d
      advert_interval: 100ms
      virtual_ips: [%s/24]
      track:
        scripts:
          - {name: caps, command: [%[2]s, track], interval: 500ms}
`, name, script, prio, pairVIP))
	l.Write(name+"/services.d/echo.yaml", fmt.Sprintf(`name: echo
virtual: %s:7000
forward: dr
check: {type: external, command: [%s, check], interval: 500ms, timeout: 400ms}
reals:
  - address: 192.0.2.11:7000
`, pairVIP, script))
	if err := filepath.Walk(dir, func(p string, _ os.FileInfo, err error) error {
		if err != nil {
			return err
		}
		return os.Chown(p, 65534, 65534)
	}); err != nil {
		t.Fatal(err)
	}
	return config, filepath.Join(dir, "ctl.sock")
}

// childCaps reads what capsScript wrote: the sets and the real uid.
func childCaps(t *testing.T, path string) (privilege.Sets, string) {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	s, err := privilege.ParseStatus(strings.NewReader(string(b)))
	if err != nil {
		t.Fatalf("%s: %v\n%s", path, err, b)
	}
	var uid string
	for _, line := range strings.Split(string(b), "\n") {
		if f := strings.Fields(line); len(f) > 1 && f[0] == "Uid:" {
			uid = f[1]
		}
	}
	return s, uid
}
