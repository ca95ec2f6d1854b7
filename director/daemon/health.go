package daemon

import (
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"net/netip"
	"os"
	"slices"
	"sync"

	"github.com/sirupsen/logrus"

	"github.com/lvsd/lvsd/director"
	"github.com/lvsd/lvsd/director/config"
	"github.com/lvsd/lvsd/director/notify"
	"github.com/lvsd/lvsd/healthcheck"
)

// targets lists one health check per realserver of every service.
func targets(cfg *config.Config) []healthcheck.Target {
	var out []healthcheck.Target
	for _, s := range cfg.Services {
		for _, r := range s.Reals {
			out = append(out, healthcheck.Target{Service: s.Name, Real: r.Addr, Check: r.Check})
		}
	}
	return out
}

// onHealth is the health runner's callback (the runner logs the
// transition and its reason): it tells the director which service changed,
// so the kernel follows within a netlink round trip of the decision, then
// the notify hooks.
func (d *Daemon) onHealth(ev healthcheck.Event) {
	d.dir.Changed(ev.Service)
	state := "down"
	if ev.Up {
		state = "up"
	}
	d.notify.Notify(notify.Event{Kind: "realserver", Node: d.Current().Config.Node, At: ev.At,
		Service: ev.Service, Real: ev.Real.String(), State: state, Reason: ev.Detail})
}

// stateFunc returns the director's view of the realservers of cfg: the
// health runner's verdict (before the runner tracks a realserver, its
// check's initial state) and the operator's drain. It is built once per
// configuration, not per event.
func (d *Daemon) stateFunc(cfg *config.Config) director.StateFunc {
	type key struct {
		service string
		real    netip.AddrPort
	}
	initial := map[key]bool{}
	for _, s := range cfg.Services {
		for _, r := range s.Reals {
			initial[key{s.Name, r.Addr}] = r.Check.Initial != "down"
		}
	}
	return func(service string, real netip.AddrPort) director.RealState {
		up, known := d.health.State(service, real)
		if !known {
			up = initial[key{service, real}]
		}
		return director.RealState{Up: up, Drained: d.drains.has(service, real)}
	}
}

// drains are realservers the operator took out with `lvsd drain`: weight
// 0, existing connections finish. They survive reloads and restarts (a
// file beside the control socket, see statePath) until `lvsd undrain`.
type drains struct {
	path string
	mu   sync.Mutex
	set  map[string][]netip.AddrPort // service -> reals
}

func loadDrains(path string) (*drains, error) {
	d := &drains{path: path, set: map[string][]netip.AddrPort{}}
	b, err := os.ReadFile(path)
	if errors.Is(err, fs.ErrNotExist) {
		return d, nil
	}
	if err != nil {
		return d, fmt.Errorf("read %s: %w", path, err)
	}
	if err := json.Unmarshal(b, &d.set); err != nil {
		return d, fmt.Errorf("parse %s: %w", path, err)
	}
	return d, nil
}

func (d *drains) has(service string, real netip.AddrPort) bool {
	d.mu.Lock()
	defer d.mu.Unlock()
	return slices.Contains(d.set[service], real)
}

// mark drains (on) or undrains a realserver and saves the set.
func (d *drains) mark(service string, real netip.AddrPort, on bool) error {
	d.mu.Lock()
	defer d.mu.Unlock()
	cur := slices.DeleteFunc(slices.Clone(d.set[service]), func(a netip.AddrPort) bool { return a == real })
	if on {
		cur = append(cur, real)
	}
	if len(cur) == 0 {
		delete(d.set, service)
	} else {
		d.set[service] = cur
	}
	b, err := json.Marshal(d.set)
	if err != nil {
		return err
	}
	tmp := d.path + ".tmp"
	if err := os.WriteFile(tmp, b, 0o600); err != nil {
		return fmt.Errorf("save drains: %w", err)
	}
	return os.Rename(tmp, d.path)
}

func (d *drains) list() map[string][]string {
	d.mu.Lock()
	defer d.mu.Unlock()
	out := map[string][]string{}
	for s, reals := range d.set {
		for _, r := range reals {
			out[s] = append(out[s], r.String())
		}
	}
	return out
}

// DrainArgs names a realserver for `lvsd drain` and `lvsd undrain`.
type DrainArgs struct {
	Service string `json:"service"`
	Real    string `json:"real"`
	Drain   bool   `json:"drain"`
}

// Drain sets or clears an operator drain; the realserver must exist in the
// configuration in service.
func (d *Daemon) Drain(a DrainArgs) error {
	real, err := netip.ParseAddrPort(a.Real)
	if err != nil {
		return fmt.Errorf("realserver %q: not address:port", a.Real)
	}
	cfg := d.Current().Config
	i := slices.IndexFunc(cfg.Services, func(s config.Service) bool { return s.Name == a.Service })
	if i < 0 {
		return fmt.Errorf("no service named %q", a.Service)
	}
	if !slices.ContainsFunc(cfg.Services[i].Reals, func(r config.Real) bool { return r.Addr == real }) {
		return fmt.Errorf("service %q has no realserver %v", a.Service, real)
	}
	if err := d.drains.mark(a.Service, real, a.Drain); err != nil {
		return err
	}
	d.log.WithFields(logrus.Fields{"service": a.Service, "real": a.Real, "drained": a.Drain}).Info("operator drain")
	d.dir.Changed(a.Service)
	return nil
}
