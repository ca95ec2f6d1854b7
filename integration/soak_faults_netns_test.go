//go:build integration && !ipvs

package integration

import (
	"fmt"
	"time"
)

// inject runs fault f to its end, recovery included; an error means the
// lab could not inject or recover (a daemon that would not restart).
func (s *soakLab) inject(f fault) error {
	d := f.Target
	switch f.Kind {
	case "sigkill", "sigstop", "sigterm":
		return injectSignal(s, f, 10*time.Second)
	case "link-down":
		s.set(s.linkDown, d, true)
		if err := s.l.Lab.SetLink(s.ns[d], "e0", false); err != nil {
			return err
		}
		time.Sleep(f.Dur)
		err := s.l.Lab.SetLink(s.ns[d], "e0", true)
		if err == nil {
			// Healthy once the kernel says the link is up (soak_link_test.go).
			_, err = waitLinksReady(s.l.Lab, s.ns[d], []string{"e0"}, 5*time.Second)
		}
		s.set(s.linkDown, d, false)
		return err
	case "link-flap":
		return s.flap(s.l, d, s.ns[d], f.Dur, time.Duration(20+f.Param)*time.Millisecond)
	case "partition":
		return soakPartition(s.l, s.ns[d], f.Param, f.Dur)
	case "lan-loss":
		return s.lanLoss(d, f.Param, f.Dur)
	case "realserver-kill":
		s.mu.Lock()
		stop := s.rsStop[d]
		s.rsUpSince[d], s.rsDownAt[d] = time.Time{}, time.Now()
		s.mu.Unlock()
		stop()
		time.Sleep(f.Dur)
		start, err := s.l.Lab.Echo(s.ns[d], ":7000")
		if err != nil {
			return err
		}
		s.mu.Lock()
		s.rsStop[d], s.rsUpSince[d] = start, time.Now()
		s.mu.Unlock()
		return nil
	case "reload", "reload-invalid":
		return injectReload(s, f)
	case "switchover":
		return s.switchover(f.Dur)
	case "drain":
		return drainFor(s, d, soakReals[d]+":7000", f.Dur)
	}
	return fmt.Errorf("unknown fault kind %q", f.Kind)
}

// lanLoss drops packets at random at host h's port for dur: 20% both
// ways (mode 0), 10% of what h receives (1), 30% of what it sends (2).
// nftables' numgen, because this kernel has no sch_netem (delay and
// reordering need it: the VM's kernel has it).
func (s *soakLab) lanLoss(h string, mode int, dur time.Duration) error {
	rules := map[int]string{
		0: "add rule inet soakloss in numgen random mod 100 < 20 drop; add rule inet soakloss out numgen random mod 100 < 20 drop",
		1: "add rule inet soakloss in numgen random mod 100 < 10 drop",
		2: "add rule inet soakloss out numgen random mod 100 < 30 drop",
	}[mode]
	if _, err := s.l.Lab.In(s.ns[h], "nft", "add table inet soakloss; "+
		"add chain inet soakloss in { type filter hook input priority 0; }; "+
		"add chain inet soakloss out { type filter hook output priority 0; }; "+rules); err != nil {
		return err
	}
	time.Sleep(dur)
	_, err := s.l.Lab.In(s.ns[h], "nft", "delete", "table", "inet", "soakloss")
	return err
}

// switchover hands the VIPs from the master to the peer, waits dur, and
// gives the master its priority back (switchoverFrom).
func (s *soakLab) switchover(dur time.Duration) error {
	m := ""
	for _, d := range []string{"a", "b"} {
		if lvsdState(s.sock[d]) == "MASTER" {
			m = d
		}
	}
	return switchoverFrom(s, m, dur)
}
