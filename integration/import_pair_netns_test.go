//go:build integration && !ipvs

package integration

import (
	"os"
	"strings"
	"testing"
	"time"

	"github.com/lvsd/lvsd/director/migrate"
	"github.com/lvsd/lvsd/director/migrate/keepalived"
)

// importPairCommon is the configuration both nodes share; each node's own
// file sets PRIO and includes it, as a pair's configuration management
// would. It says nothing of the VRRP version, so keepalived runs its
// default, version 2, and the import must say so; auth_pass and nopreempt
// must reach lvsd too, or the pair does not form one virtual router.
const importPairCommon = `vrrp_instance front {
    state BACKUP
    interface e0
    virtual_router_id 64
    priority $PRIO
    advert_int 1
    nopreempt
    authentication {
        auth_type PASS
        auth_pass migrate1
    }
    virtual_ipaddress {
        203.0.113.10/24
    }
}
`

// TestMixedPairRunbook runs docs/migration.md's half-migrated pair:
// keepalived on A with its configuration, lvsd on B with the import of the
// same configuration (B's file), and checks
//
//  1. election: A (started first) is master, B backup;
//  2. failover A to B: A dies, B takes the VIP;
//  3. A comes back and stays backup (nopreempt, on both sides);
//  4. failover B to A: lvsd dies, A takes the VIP;
//  5. B comes back as backup;
//  6. switchover: keepalived on A stops (priority 0), B takes the VIP.
//
// After each step exactly one director holds the VIP and the client
// reaches it there; neither side drops the other's adverts.
func TestMixedPairRunbook(t *testing.T) {
	l := newKadLab(t)
	spec := kadSpec{Version: 2, Advert: time.Second, VRID: 64}
	ka, lv := l.node("a", "keepalived", spec), l.node("b", "lvsd", spec)
	l.Write("common.conf", importPairCommon)
	// keepalived on A: its own file includes the shared one.
	if err := os.WriteFile(ka.conf, []byte("$PRIO=150\ninclude ../common.conf\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	// lvsd on B: lvsd import of B's file.
	bconf := l.Write("b-keepalived.conf", "$PRIO=100\ninclude common.conf\n")
	r, err := keepalived.Import(bconf, keepalived.Options{ConfigID: "b"})
	if err != nil {
		t.Fatal(err)
	}
	if r.Findings.ChangesTraffic() {
		t.Fatalf("the import changes traffic:\n%s", r.Findings)
	}
	if _, err := migrate.Write(lv.dir, r, bconf); err != nil {
		t.Fatal(err)
	}
	appendFile(t, lv.conf, "node: b\ncontrol: {socket: ctl.sock}\nhttp: {listen: \"\"}\n")
	t.Logf("peer notes: %s", strings.Join(r.Peer, "; "))
	in := r.Main.VRRP.Instances[0]
	if in.Version != 2 || in.AuthPass != "migrate1" || in.Preempt == nil || *in.Preempt {
		t.Fatalf("imported instance %+v: want version 2, auth_pass, preempt false", in)
	}

	logs := func() string { return lv.log() + ka.log() }
	only := func(step, want string, limit time.Duration) {
		t.Helper()
		start := time.Now()
		l.WaitFor(limit, step+": "+want+" alone holds "+kadVIP, func() bool {
			h := l.holders()
			return len(h) == 1 && h[0] == want
		}, func() string { return "holders: " + strings.Join(l.holders(), ",") + "\n" + logs() })
		l.answered(want, 2*time.Second)
		t.Logf("%s: %s holds the VIP after %v (keepalived %s, lvsd %s)", step, want, time.Since(start).Round(time.Millisecond), ka.state(), lv.state())
	}
	down := spec.masterDown(100) + 3*time.Second

	ka.start()
	only("1. election", "a", spec.masterDown(150)+3*time.Second)
	lv.start()
	time.Sleep(spec.masterDown(100) + spec.Advert) // longer than B's Master_Down_Interval: it heard A
	only("1. election", "a", time.Second)
	if lv.state() != "BACKUP" {
		t.Fatalf("1. election: lvsd %s, want BACKUP\n%s", lv.state(), logs())
	}

	ka.kill()
	only("2. failover A to B", "b", down)

	l.reboot("a")
	ka.start()
	time.Sleep(spec.masterDown(150) + spec.Advert)
	only("3. A back, nopreempt", "b", time.Second)

	lv.kill()
	only("4. failover B to A", "a", down)

	l.reboot("b")
	lv.start()
	time.Sleep(spec.masterDown(100) + spec.Advert)
	only("5. B back as backup", "a", time.Second)

	ka.term()
	only("6. switchover: keepalived on A stops", "b", down)
	ka.wait(10 * time.Second)

	st := lv.vrrpStatus()
	for reason, n := range st.Counters.Drops {
		if n > 0 {
			t.Errorf("lvsd dropped %d of keepalived's adverts: %s", n, reason)
		}
	}
	if st.Counters.AdvertsReceived == 0 {
		t.Error("lvsd received no advert from keepalived")
	}
	for _, line := range strings.Split(ka.log(), "\n") {
		if kadBadLine.MatchString(line) && !strings.Contains(line, "Command line") {
			t.Errorf("keepalived: %s", line)
		}
	}
}

func appendFile(t *testing.T, path, s string) {
	t.Helper()
	f, err := os.OpenFile(path, os.O_APPEND|os.O_WRONLY, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if _, err := f.WriteString(s); err != nil {
		t.Fatal(err)
	}
}
