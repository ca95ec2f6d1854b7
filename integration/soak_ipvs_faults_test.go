//go:build integration && ipvs

package integration

import (
	"fmt"
	"strings"
	"syscall"
	"time"
)

// inject runs fault f to its end, recovery included; an error means the
// lab could not inject or recover (a daemon that would not restart), or
// a killed daemon's kernel table was not reconciled after its restart.
func (s *vsoak) inject(f fault) error {
	d := f.Target
	switch f.Kind {
	case "sigkill", "sigstop", "sigterm":
		return injectSignal(s, f, 15*time.Second)
	case "link-down":
		return s.linkDownFor(d, s.linksOf(f.Param), f.Dur)
	case "link-flap":
		return s.flap(s.l, d, s.ns[d], f.Dur, time.Duration(20+f.Param)*time.Millisecond)
	case "partition":
		return soakPartition(s.l, s.ns[d], f.Param, f.Dur)
	case "netem":
		return s.netem(d, f.Param, f.Dur)
	case "realserver-kill":
		s.killReal(d)
		time.Sleep(f.Dur)
		return s.serveReal(d)
	case "reload", "reload-invalid":
		return injectReload(s, f)
	case "switchover":
		return s.switchover(f.Dur)
	case "drain":
		return drainFor(s, d, s.reals[d]+":7000", f.Dur)
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
	return s.linksReady(s.l, d, s.ns[d], links)
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

// switchover hands the VIPs from the master (every instance MASTER) to
// the peer, waits dur, and gives the master its priority back
// (switchoverFrom).
func (s *vsoak) switchover(dur time.Duration) error {
	return switchoverFrom(s, s.master(), dur)
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
	if err := reloadAll(s, true, peer); err != nil {
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
