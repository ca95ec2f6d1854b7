//go:build integration && !ipvs

package integration

import (
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/lvsd/lvsd/vrrp"
)

// TestKeepalivedInterop: lvsd (a) and Debian's keepalived (b) are one
// virtual router, for VRRPv3 at 100 ms adverts and VRRPv2 at 1 s with a
// PASS password. They elect the higher priority and fail over in both
// directions, planned and unplanned:
//
//  1. lvsd (150) is elected over keepalived (100) and stays master;
//  2. lvsd dies (link down + SIGKILL): keepalived takes the VIP;
//  3. lvsd comes back and preempts keepalived;
//  4. `lvsd switchover` hands the VIP to keepalived without a gap;
//  5. keepalived dies (link down + SIGKILL): lvsd, at priority 1 after
//     the switchover, takes the VIP;
//  6. keepalived comes back and preempts lvsd;
//  7. keepalived stops (SIGTERM: priority 0 advert): lvsd takes over.
//
// After each step exactly one director holds the VIP (`ip -br addr` in
// both namespaces) and the client reaches it there.
func TestKeepalivedInterop(t *testing.T) {
	for _, c := range []struct {
		name string
		spec kadSpec
	}{
		{"v3", kadSpec{Version: 3, Advert: 100 * time.Millisecond, VRID: 61}},
		{"v2", kadSpec{Version: 2, Advert: time.Second, VRID: 62}},
	} {
		t.Run(c.name, func(t *testing.T) { testKeepalivedInterop(t, c.spec) })
	}
}

func testKeepalivedInterop(t *testing.T, spec kadSpec) {
	l := newKadLab(t)
	lspec, kspec := spec, spec
	lspec.Priority, kspec.Priority = 150, 100
	lv, ka := l.node("a", "lvsd", lspec), l.node("b", "keepalived", kspec)
	logs := func() string { return lv.log() + ka.log() }
	// onlyHolder waits until want alone holds the VIP, then for the client
	// to reach it there, and logs how long the step took.
	onlyHolder := func(step, want string, start time.Time, limit time.Duration) {
		t.Helper()
		l.WaitFor(limit, step+": "+want+" alone holds "+kadVIP, func() bool {
			h := l.holders()
			return len(h) == 1 && h[0] == want
		}, func() string { return "holders: " + strings.Join(l.holders(), ",") + "\n" + logs() })
		took := time.Since(start)
		l.answered(want, 2*time.Second)
		t.Logf("%s: %s alone holds the VIP after %v (lvsd %s, keepalived %s)",
			step, want, took.Round(time.Millisecond), lv.state(), ka.state())
	}
	// steady checks that want stays the only holder for d (longer than
	// the other's Master_Down_Interval: it hears want's adverts).
	steady := func(step, want string, d time.Duration) {
		t.Helper()
		for end := time.Now().Add(d); time.Now().Before(end); time.Sleep(20 * time.Millisecond) {
			if h := l.holders(); len(h) != 1 || h[0] != want {
				t.Fatalf("%s: holders %v, want only %s\n%s", step, h, want, logs())
			}
		}
	}
	wantStates := func(step, lvsd, keepalived string) {
		t.Helper()
		l.WaitFor(2*spec.Advert+time.Second, step+": lvsd "+lvsd+", keepalived "+keepalived, func() bool {
			return lv.state() == lvsd && ka.state() == keepalived
		}, func() string { return "lvsd " + lv.state() + ", keepalived " + ka.state() + "\n" + logs() })
	}

	start := time.Now()
	ka.start()
	lv.start()
	onlyHolder("1. election", "a", start, spec.masterDown(150)+3*time.Second)
	steady("1. election", "a", spec.masterDown(100)+spec.Advert)
	wantStates("1. election", "MASTER", "BACKUP")

	start = time.Now()
	lv.kill()
	onlyHolder("2. lvsd dies", "b", start, spec.masterDown(100)+2*time.Second)
	wantStates("2. lvsd dies", "?", "MASTER")

	start = time.Now()
	l.reboot("a")
	lv.start()
	onlyHolder("3. lvsd back, preempts", "a", start, spec.masterDown(150)+3*time.Second)
	wantStates("3. lvsd back, preempts", "MASTER", "BACKUP")

	// Someone holds the VIP at every sample of the switchover.
	start = time.Now()
	gap := make(chan string, 1)
	stop := make(chan struct{})
	go func() {
		for {
			select {
			case <-stop:
				gap <- ""
				return
			default:
			}
			if len(l.holders()) == 0 {
				gap <- "nobody held the VIP " + time.Since(start).String() + " into the switchover"
				return
			}
		}
	}()
	lv.switchover(kspec.Priority)
	onlyHolder("4. lvsd switchover", "b", start, 5*time.Second)
	close(stop)
	if g := <-gap; g != "" {
		t.Errorf("4. lvsd switchover: %s", g)
	}
	wantStates("4. lvsd switchover", "BACKUP", "MASTER")

	start = time.Now()
	ka.kill()
	onlyHolder("5. keepalived dies", "a", start, spec.masterDown(1)+2*time.Second)
	wantStates("5. keepalived dies", "MASTER", "?")

	start = time.Now()
	l.reboot("b")
	ka.start()
	onlyHolder("6. keepalived back, preempts", "b", start, spec.masterDown(100)+3*time.Second)
	wantStates("6. keepalived back, preempts", "BACKUP", "MASTER")

	start = time.Now()
	ka.term()
	onlyHolder("7. keepalived stops (priority 0)", "a", start, spec.masterDown(1)+2*time.Second)
	ka.wait(10 * time.Second)

	kadCheckClean(t, lv, ka)
}

// kadBadLine matches keepalived's complaints about received adverts
// (checksum, authentication, interval, addresses, version, TTL).
var kadBadLine = regexp.MustCompile(`(?i)invalid|mismatch|bogus|unexpected|authentication|auth type|checksum|ipvs`)

// kadCheckClean checks that neither side dropped the other's adverts: lvsd
// counts no drops and heard keepalived, keepalived logged no complaint.
func kadCheckClean(t *testing.T, lv, ka *kadNode) {
	t.Helper()
	st := lv.vrrpStatus()
	for reason, n := range st.Counters.Drops {
		if n > 0 {
			t.Errorf("lvsd dropped %d of keepalived's adverts: %s", n, reason)
		}
	}
	if st.Counters.AdvertsReceived == 0 {
		t.Error("lvsd received no advert from keepalived")
	}
	if st.Priority != 1 || st.Master.String() != kadAddr["a"] {
		t.Errorf("lvsd: priority %d, master %v; want 1 (after switchover) and itself", st.Priority, st.Master)
	}
	for _, line := range strings.Split(ka.log(), "\n") {
		if kadBadLine.MatchString(line) && !strings.Contains(line, "Command line") {
			t.Errorf("keepalived: %s", line)
		}
	}
	t.Logf("lvsd counters: %+v", st.Counters)
	if testing.Verbose() {
		t.Logf("keepalived's state changes:\n%s", strings.Join(kadStateRE.FindAllString(ka.log(), -1), "\n"))
	}
}

// TestKeepalivedInteropAuthMismatch: with different VRRPv2 passwords each
// side drops the other's adverts, so both become master; lvsd counts the
// drops as auth and keepalived logs them. This shows that the password the
// interop test matches is really compared, both ways.
func TestKeepalivedInteropAuthMismatch(t *testing.T) {
	l := newKadLab(t)
	lspec := kadSpec{Version: 2, Advert: time.Second, VRID: 63, Priority: 150, AuthPass: "other"}
	kspec := kadSpec{Version: 2, Advert: time.Second, VRID: 63, Priority: 100}
	lv, ka := l.node("a", "lvsd", lspec), l.node("b", "keepalived", kspec)
	logs := func() string { return lv.log() + ka.log() }
	ka.start()
	lv.start()
	l.WaitFor(kspec.masterDown(100)+3*time.Second, "both hold the VIP", func() bool { return len(l.holders()) == 2 },
		func() string { return "holders: " + strings.Join(l.holders(), ",") + "\n" + logs() })
	l.WaitFor(2*time.Second, "lvsd drops keepalived's adverts as auth", func() bool {
		return lv.vrrpStatus().Counters.Drops[string(vrrp.ReasonAuth)] > 0
	}, logs)
	l.WaitFor(2*time.Second, "keepalived drops lvsd's adverts", func() bool {
		return strings.Contains(ka.log(), "received an invalid passwd")
	}, logs)
	if lv.state() != "MASTER" || ka.state() != "MASTER" {
		t.Errorf("lvsd %s, keepalived %s; want both MASTER", lv.state(), ka.state())
	}
}
