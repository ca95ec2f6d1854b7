package director

import (
	"path/filepath"
	"strings"

	"github.com/lvsd/lvsd/director/config"
	"github.com/lvsd/lvsd/director/ipvs"
	"github.com/lvsd/lvsd/director/notify"
)

// apply puts a configuration in service: the kernel settings its
// forwarding modes need are checked (and set, when so configured), and the
// director is handed its services.
func (d *Director) apply(cfg *config.Config) {
	unmet := ipvs.CheckPrerequisites(cfg, d.sysctls)
	for _, r := range unmet {
		d.log.WithField("sysctl", r.Path).Warn("kernel setting missing: " + r.String() +
			" (set it, or director.set_sysctls: true)")
	}
	d.unmet.Store(&unmet)
	if err := d.health.Set(targets(cfg)); err != nil {
		d.log.WithError(err).Error("some health checks could not be built; their realservers count as down")
	}
	d.touched.all(d.clock.Now()) // before Update: see Drain
	d.dir.Update(cfg.Services, d.Current().state)
	d.kickGate()
}

// statePath names a state file beside the control socket, after it
// (/run/lvsd/lvsd.sock: /run/lvsd/lvsd.ipvs-owned.json), so that two
// daemons with two sockets never share state, even in one directory.
func (d *Director) statePath(cfg *config.Config, name string) string {
	sock := d.socketOf(cfg)
	return strings.TrimSuffix(sock, filepath.Ext(sock)) + "." + name
}

// socketOf is the control socket this Director serves: the configured
// one, or in a dry run its own beside it (lvsd.sock: lvsd.dry-run.sock),
// so that a dry run never takes a live daemon's socket or state files.
func (d *Director) socketOf(cfg *config.Config) string {
	if d.mode != ModeDryRun {
		return cfg.ControlSocket
	}
	ext := filepath.Ext(cfg.ControlSocket)
	return strings.TrimSuffix(cfg.ControlSocket, ext) + ".dry-run" + ext
}

// notifyConfig is the notify hooks of cfg; a dry run runs none.
func (d *Director) notifyConfig(cfg *config.Config) notify.Config {
	if d.mode == ModeDryRun {
		return notify.Config{}
	}
	nc := notify.Config{Command: cfg.Notify.Command, Webhook: cfg.Notify.Webhook, Timeout: cfg.Notify.Timeout}
	if e := cfg.Notify.Email; e != nil {
		mail := notify.Email(*e) // the same fields: config checks them, notify sends
		nc.Email = &mail
	}
	return nc
}
