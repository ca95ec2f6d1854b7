//go:build integration && ipvs

package integration

import (
	"fmt"
	"maps"
	"strings"
	"syscall"
	"time"

	"github.com/lvsd/lvsd/director/api"
)

// inject runs fault f to its end, recovery included; an error means the
// lab could not inject or recover (a daemon that would not restart), or
// a killed daemon's kernel table was not reconciled after its restart.
func (s *vsoak) inject(f fault) error {
	d := f.Target
	switch f.Kind {
	case "sigkill":
		s.sampleAll() // this process's last figures
		s.set(s.running, d, false)
		if err := s.signal(d, syscall.SIGKILL); err != nil {
			return err
		}
		_ = s.procOf(d).Wait()
		time.Sleep(f.Dur)
		return s.start(d)
	case "sigstop":
		s.set(s.stopped, d, true)
		if err := s.signal(d, syscall.SIGSTOP); err != nil {
			return err
		}
		time.Sleep(f.Dur)
		err := s.signal(d, syscall.SIGCONT)
		s.set(s.stopped, d, false)
		return err
	case "sigterm":
		s.sampleAll()
		s.set(s.running, d, false)
		if err := s.procOf(d).Stop(15 * time.Second); err != nil {
			return err
		}
		time.Sleep(f.Dur)
		return s.start(d)
	case "link-down":
		return s.linkDownFor(d, s.linksOf(f.Param), f.Dur)
	case "link-flap":
		return s.flap(d, f.Dur, time.Duration(20+f.Param)*time.Millisecond)
	case "partition":
		return s.partition(d, f.Param, f.Dur)
	case "netem":
		return s.netem(d, f.Param, f.Dur)
	case "realserver-kill":
		s.killReal(d)
		time.Sleep(f.Dur)
		return s.serveReal(d)
	case "reload":
		s.mu.Lock()
		s.weights[d] = 1 + f.Param
		s.mu.Unlock()
		s.writeServices(false)
		return s.reloadAll(true, "a", "b")
	case "reload-invalid":
		s.writeServices(true)
		err := s.reloadAll(false, "a", "b")
		s.writeServices(false) // the files as the daemons hold them
		return err
	case "switchover":
		return s.switchover(f.Dur)
	case "drain":
		return s.drain(d, f.Dur)
	case "bulk-kill":
		return s.bulkKill(d, 1+f.Param, f.Dur)
	}
	return fmt.Errorf("unknown fault kind %q", f.Kind)
}

// linksOf picks the links a link fault takes down: in NAT, the front
// (0), the back (1) or both (2); in DR the only one.
func (s *vsoak) linksOf(param int) []string {
	if len(s.links) == 1 {
		return s.links
	}
	return [][]string{{"e0"}, {"e1"}, {"e0", "e1"}}[param%3]
}

func (s *vsoak) setLinks(d string, links []string, up bool) error {
	for _, l := range links {
		s.trace("%s: %s up=%v", d, l, up)
		if err := s.l.Lab.SetLink(s.ns[d], l, up); err != nil {
			return err
		}
	}
	return nil
}

func (s *vsoak) linkDownFor(d string, links []string, dur time.Duration) error {
	s.set(s.linkDown, d, true)
	defer s.set(s.linkDown, d, false)
	if err := s.setLinks(d, links, false); err != nil {
		return err
	}
	time.Sleep(dur)
	if err := s.setLinks(d, links, true); err != nil {
		return err
	}
	return s.linksReady(d, links)
}

// linksReady waits until the kernel reports d's links up (see
// soak_link_test.go): d is healthy again from then.
func (s *vsoak) linksReady(d string, links []string) error {
	took, err := waitLinksReady(s.l.Lab, s.ns[d], links, 5*time.Second)
	s.trace("%s: %v operationally up %v after set up", d, links, took.Round(time.Millisecond))
	return err
}

// flap toggles d's front link every period for dur, ending up.
func (s *vsoak) flap(d string, dur, period time.Duration) error {
	s.set(s.linkDown, d, true)
	defer s.set(s.linkDown, d, false)
	up := true
	for end := time.Now().Add(dur); time.Now().Before(end); time.Sleep(period) {
		up = !up
		if err := s.l.Lab.SetLink(s.ns[d], "e0", up); err != nil {
			return err
		}
	}
	s.trace("%s: flap ends, e0 up", d)
	if err := s.l.Lab.SetLink(s.ns[d], "e0", true); err != nil {
		return err
	}
	return s.linksReady(d, []string{"e0"})
}

// partition drops VRRP at d (every link) for dur: both ways (mode 0),
// only what d receives (1) or only what it sends (2).
func (s *vsoak) partition(d string, mode int, dur time.Duration) error {
	rules := map[int]string{
		0: "add rule inet soak in meta l4proto 112 drop; add rule inet soak out meta l4proto 112 drop",
		1: "add rule inet soak in meta l4proto 112 drop",
		2: "add rule inet soak out meta l4proto 112 drop",
	}[mode]
	if _, err := s.l.Lab.In(s.ns[d], "nft", "add table inet soak; "+
		"add chain inet soak in { type filter hook input priority 0; }; "+
		"add chain inet soak out { type filter hook output priority 0; }; "+rules); err != nil {
		return err
	}
	time.Sleep(dur)
	_, err := s.l.Lab.In(s.ns[d], "nft", "delete", "table", "inet", "soak")
	return err
}

// netem disturbs what h sends on its front link for dur: 10% loss (mode
// 0), 20 ms ± 10 ms delay with 25% reordered (1), 40 ms delay and 5%
// loss (2).
func (s *vsoak) netem(h string, mode int, dur time.Duration) error {
	args := map[int][]string{
		0: {"loss", "10%"},
		1: {"delay", "20ms", "10ms", "reorder", "25%"},
		2: {"delay", "40ms", "loss", "5%"},
	}[mode]
	if _, err := s.l.Lab.In(s.ns[h], append([]string{"tc", "qdisc", "add", "dev", "e0", "root", "netem"}, args...)...); err != nil {
		return err
	}
	time.Sleep(dur)
	_, err := s.l.Lab.In(s.ns[h], "tc", "qdisc", "del", "dev", "e0", "root")
	return err
}

// reloadAll reloads the daemons ds; want says whether the files are
// valid. A daemon that takes an invalid file, or refuses a valid one, is
// an error; so is one that does not answer.
func (s *vsoak) reloadAll(want bool, ds ...string) error {
	for _, d := range ds {
		var r api.ReloadResult
		if err := s.call(d, api.CmdReload, nil, &r); err != nil && want {
			return fmt.Errorf("reload %s: %w", d, err)
		} else if err == nil && r.OK != want {
			return fmt.Errorf("reload %s: ok %v, want %v (%v)", d, r.OK, want, r.Errors)
		}
		if want {
			s.mu.Lock()
			maps.Copy(s.loaded[d], s.weights)
			s.mu.Unlock()
		}
	}
	return nil
}

// switchover hands the VIPs from the master to the peer, waits dur, and
// gives the master its priority back (lvsd switchover --restore).
func (s *vsoak) switchover(dur time.Duration) error {
	m := s.master()
	if m == "" {
		return nil // nobody to hand over from: nothing planned happens
	}
	var r api.SwitchoverResult
	s.trace("%s: switchover", m)
	if err := s.call(m, api.CmdSwitchover, api.SwitchoverArgs{}, &r); err != nil {
		return fmt.Errorf("switchover on %s: %w", m, err)
	}
	s.trace("%s: switchover answered", m)
	time.Sleep(dur)
	s.trace("%s: switchover --restore", m)
	if err := s.call(m, api.CmdSwitchover, api.SwitchoverArgs{Restore: true}, &r); err != nil {
		return fmt.Errorf("switchover --restore on %s: %w", m, err)
	}
	return nil
}

// drain drains realserver n on both directors for dur, then undrains it.
func (s *vsoak) drain(n string, dur time.Duration) error {
	real := s.reals[n] + ":7000"
	for _, drain := range []bool{true, false} {
		for _, d := range []string{"a", "b"} {
			if err := s.call(d, api.CmdDrain, api.DrainArgs{Service: "echo", Real: real, Drain: drain}, nil); err != nil {
				return fmt.Errorf("drain=%v %s on %s: %w", drain, n, d, err)
			}
		}
		s.mu.Lock()
		s.drained[n] = drain
		s.mu.Unlock()
		if drain {
			time.Sleep(dur)
		}
	}
	return nil
}

// bulkKill changes the weight of the 500 bulk realservers to weight
// (another than theirs), reloads the peer, then sends d SIGHUP and
// SIGKILLs it after delay, in the middle of its 500 IPVS operations;
// it restarts d, which must reconcile its kernel table to the files
// within 1 s of its first reconcile (the ipvs-table invariant of the
// restarted daemon, whichever its state).
func (s *vsoak) bulkKill(d string, weight int, delay time.Duration) error {
	s.mu.Lock()
	if weight == s.weights["bulk"] {
		weight = weight%100 + 1
	}
	s.weights["bulk"] = weight
	s.mu.Unlock()
	s.writeServices(false)
	peer := map[string]string{"a": "b", "b": "a"}[d]
	if err := s.reloadAll(true, peer); err != nil {
		return err
	}
	s.sampleAll()
	if err := s.signal(d, syscall.SIGHUP); err != nil {
		return err
	}
	// Kill it while the kernel holds some but not all of the new
	// weights. The 500 operations take 40 to 200 ms (pipelined), about
	// what one read of the table takes under TCG, so reading cannot
	// catch them: the first bulk-kill of a pair reads until it sees them
	// and takes the time from SIGHUP as its estimate; later ones kill at
	// a fraction of the estimate, and move it later when they found
	// none applied and earlier when they found all.
	hup := time.Now()
	s.mu.Lock()
	est := s.bulkEst
	s.mu.Unlock()
	applied := -1
	if est == 0 {
		for deadline := hup.Add(10 * time.Second); time.Now().Before(deadline); {
			t, err := s.kernelTable(d)
			if err != nil {
				return err
			}
			if applied = countWeight(t, weight); applied > 0 {
				break
			}
		}
		s.mu.Lock()
		s.bulkEst = time.Since(hup)
		s.mu.Unlock()
	} else {
		time.Sleep(est * time.Duration(80+int(delay/(20*time.Millisecond))) / 100)
	}
	s.set(s.running, d, false)
	if err := s.signal(d, syscall.SIGKILL); err != nil {
		return err
	}
	_ = s.procOf(d).Wait()
	if t, err := s.kernelTable(d); err == nil {
		n := countWeight(t, weight)
		s.mu.Lock()
		s.applied = append(s.applied, fmt.Sprint(n))
		if n > 0 && n < 2*vsoakBulk {
			s.bulkMid++
		}
		switch {
		case est != 0 && n == 0:
			s.bulkEst = est * 11 / 10
		case est != 0 && n == 2*vsoakBulk:
			s.bulkEst = est * 9 / 10
		}
		s.mu.Unlock()
	}
	if err := s.start(d); err != nil {
		return err
	}
	up := time.Now()
	var bad int
	for {
		t, err := s.kernelTable(d)
		if err != nil {
			return err
		}
		bad = 2*vsoakBulk - countWeight(t, weight)
		s.log.checked("ipvs-table")
		if bad == 0 {
			return nil
		}
		if time.Since(up) > time.Second {
			break
		}
		time.Sleep(100 * time.Millisecond)
	}
	s.log.violate("ipvs-table", time.Now(), fmt.Sprintf("%s restarted after a kill during 500 IPVS operations: %d bulk realservers still not at weight %d %v after its first reconcile",
		d, bad, weight, time.Since(up).Round(time.Millisecond)))
	return nil
}

func isBulk(key string) bool {
	return strings.HasPrefix(key, "192.0.2.10:8000>") || strings.HasPrefix(key, "192.0.2.10:8001>")
}

// countWeight counts the bulk realservers at weight in t.
func countWeight(t map[string]int, weight int) int {
	n := 0
	for k, w := range t {
		if isBulk(k) && w == weight {
			n++
		}
	}
	return n
}
