//go:build integration

package integration

import (
	"fmt"
	"time"

	"github.com/lvsd/lvsd/director/api"
	"github.com/lvsd/lvsd/integration/netlab"
)

// The faults both layers inject through the control socket (reload,
// drain) and with nftables (partition).

// soakControl is what those faults need of a layer: its processes'
// bookkeeping, a control request to a director's daemon within the
// layer's timeout, and its service files written from the weights (or
// broken).
type soakControl interface {
	procs() *soakProcs
	call(d, cmd string, args, out any) error
	writeServices(broken bool)
}

// injectReload runs a reload fault: realserver f.Target's weight in the
// files becomes 1+f.Param and both daemons must take the files
// ("reload"), or both must refuse broken files ("reload-invalid").
func injectReload(s soakControl, f fault) error {
	p := s.procs()
	switch f.Kind {
	case "reload":
		p.mu.Lock()
		p.weights[f.Target] = 1 + f.Param
		p.mu.Unlock()
		s.writeServices(false)
		return reloadAll(s, true, "a", "b")
	case "reload-invalid":
		s.writeServices(true)
		err := reloadAll(s, false, "a", "b")
		s.writeServices(false) // the files as the daemons hold them
		return err
	}
	return fmt.Errorf("not a reload fault: %q", f.Kind)
}

// reloadAll reloads the daemons ds; want says whether the files are
// valid. A daemon that takes an invalid file, or refuses a valid one, is
// an error; so is one that does not answer.
func reloadAll(s soakControl, want bool, ds ...string) error {
	for _, d := range ds {
		var r api.ReloadResult
		if err := s.call(d, api.CmdReload, nil, &r); err != nil && want {
			return fmt.Errorf("reload %s: %w", d, err)
		} else if err == nil && r.OK != want {
			return fmt.Errorf("reload %s: ok %v, want %v (%v)", d, r.OK, want, r.Errors)
		}
		if want {
			s.procs().reloaded(d)
		}
	}
	return nil
}

// drainFor drains realserver n (address real) on both directors for
// dur, then undrains it.
func drainFor(s soakControl, n, real string, dur time.Duration) error {
	p := s.procs()
	for _, drain := range []bool{true, false} {
		for _, d := range []string{"a", "b"} {
			if err := s.call(d, api.CmdDrain, api.DrainArgs{Service: "echo", Real: real, Drain: drain}, nil); err != nil {
				return fmt.Errorf("drain=%v %s on %s: %w", drain, n, d, err)
			}
		}
		p.mu.Lock()
		p.drained[n] = drain
		p.mu.Unlock()
		if drain {
			time.Sleep(dur)
		}
	}
	return nil
}

// soakPartition drops VRRP in namespace ns (every link) for dur: both
// ways (mode 0), only what it receives (1) or only what it sends (2).
func soakPartition(l *netlab.T, ns string, mode int, dur time.Duration) error {
	rules := map[int]string{
		0: "add rule inet soak in meta l4proto 112 drop; add rule inet soak out meta l4proto 112 drop",
		1: "add rule inet soak in meta l4proto 112 drop",
		2: "add rule inet soak out meta l4proto 112 drop",
	}[mode]
	if _, err := l.Lab.In(ns, "nft", "add table inet soak; "+
		"add chain inet soak in { type filter hook input priority 0; }; "+
		"add chain inet soak out { type filter hook output priority 0; }; "+rules); err != nil {
		return err
	}
	time.Sleep(dur)
	_, err := l.Lab.In(ns, "nft", "delete", "table", "inet", "soak")
	return err
}

// switchoverFrom hands the VIPs from the master m to the peer, waits
// dur, and gives m its priority back (lvsd switchover --restore); with
// no master ("") nothing planned happens.
func switchoverFrom(s soakControl, m string, dur time.Duration) error {
	if m == "" {
		return nil // nobody to hand over from: nothing planned happens
	}
	p := s.procs()
	var r api.SwitchoverResult
	p.notef("%s: switchover", m)
	if err := s.call(m, api.CmdSwitchover, api.SwitchoverArgs{}, &r); err != nil {
		return fmt.Errorf("switchover on %s: %w", m, err)
	}
	p.notef("%s: switchover answered", m)
	time.Sleep(dur)
	p.notef("%s: switchover --restore", m)
	if err := s.call(m, api.CmdSwitchover, api.SwitchoverArgs{Restore: true}, &r); err != nil {
		return fmt.Errorf("switchover --restore on %s: %w", m, err)
	}
	return nil
}
