package director

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

	"github.com/lvsd/lvsd/director/api"
	"github.com/lvsd/lvsd/director/config"
)

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

// Drain sets or clears an operator drain; the realserver must exist in the
// configuration in service.
func (d *Director) Drain(a api.DrainArgs) error {
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
	d.touched.service(a.Service, d.clock.Now()) // before Changed: the gate must never see it applied early
	d.dir.Changed(a.Service)
	d.kickGate()
	return nil
}
