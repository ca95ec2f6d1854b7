//go:build integration && !ipvs

package integration

import (
	"fmt"
	"syscall"
	"time"

	"github.com/lvsd/lvsd/director/api"
)

// inject runs fault f to its end, recovery included; an error means the
// lab could not inject or recover (a daemon that would not restart).
func (s *soakLab) inject(f fault) error {
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
		if err := s.procOf(d).Stop(10 * time.Second); err != nil {
			return err
		}
		time.Sleep(f.Dur)
		return s.start(d)
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
		return s.flap(d, f.Dur, time.Duration(20+f.Param)*time.Millisecond)
	case "partition":
		return s.partition(d, f.Param, f.Dur)
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
	case "reload":
		s.mu.Lock()
		s.weights[d] = 1 + f.Param
		s.mu.Unlock()
		s.writeServices(false)
		return s.reloadAll(true)
	case "reload-invalid":
		s.writeServices(true)
		err := s.reloadAll(false)
		s.writeServices(false) // the files as the daemons hold them
		return err
	case "switchover":
		return s.switchover(f.Dur)
	case "drain":
		return s.drain(d, f.Dur)
	}
	return fmt.Errorf("unknown fault kind %q", f.Kind)
}

func (s *soakLab) procOf(d string) interface {
	Wait() error
	Stop(time.Duration) error
} {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.proc[d]
}

// flap toggles d's link every period for dur, ending up.
func (s *soakLab) flap(d string, dur, period time.Duration) error {
	s.set(s.linkDown, d, true)
	defer s.set(s.linkDown, d, false)
	up := true
	for end := time.Now().Add(dur); time.Now().Before(end); time.Sleep(period) {
		up = !up
		if err := s.l.Lab.SetLink(s.ns[d], "e0", up); err != nil {
			return err
		}
	}
	if err := s.l.Lab.SetLink(s.ns[d], "e0", true); err != nil {
		return err
	}
	_, err := waitLinksReady(s.l.Lab, s.ns[d], []string{"e0"}, 5*time.Second)
	return err
}

// partition drops VRRP at d for dur: both ways (mode 0), only what d
// receives (1) or only what it sends (2).
func (s *soakLab) partition(d string, mode int, dur time.Duration) error {
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

// reloadAll reloads both daemons; want says whether the files are valid.
// A daemon that takes an invalid file, or refuses a valid one, is an
// error; so is one that does not answer.
func (s *soakLab) reloadAll(want bool) error {
	for _, d := range []string{"a", "b"} {
		var r api.ReloadResult
		if err := s.call(d, api.CmdReload, nil, &r); err != nil && want {
			return fmt.Errorf("reload %s: %w", d, err)
		} else if err == nil && r.OK != want {
			return fmt.Errorf("reload %s: ok %v, want %v (%v)", d, r.OK, want, r.Errors)
		}
		if want {
			s.mu.Lock()
			for n, w := range s.weights {
				s.loaded[d][n] = w
			}
			s.mu.Unlock()
		}
	}
	return nil
}

// switchover hands the VIPs from the master to the peer, waits dur, and
// gives the master its priority back (lvsd switchover --restore).
func (s *soakLab) switchover(dur time.Duration) error {
	m := ""
	for _, d := range []string{"a", "b"} {
		if lvsdState(s.sock[d]) == "MASTER" {
			m = d
		}
	}
	if m == "" {
		return nil // nobody to hand over from: nothing planned happens
	}
	var r api.SwitchoverResult
	if err := s.call(m, api.CmdSwitchover, api.SwitchoverArgs{}, &r); err != nil {
		return fmt.Errorf("switchover on %s: %w", m, err)
	}
	time.Sleep(dur)
	if err := s.call(m, api.CmdSwitchover, api.SwitchoverArgs{Restore: true}, &r); err != nil {
		return fmt.Errorf("switchover --restore on %s: %w", m, err)
	}
	return nil
}

// drain drains realserver n on both directors for dur, then undrains it.
func (s *soakLab) drain(n string, dur time.Duration) error {
	real := soakReals[n] + ":7000"
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
