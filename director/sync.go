package director

import (
	"errors"

	"github.com/sirupsen/logrus"

	"github.com/lvsd/lvsd/director/config"
	"github.com/lvsd/lvsd/director/ipvs"
)

// startSync starts the connection sync daemons: the backup always (it
// receives the peer's connections); the master follows VRRP
// (syncFollower), or runs all along on a director without VRRP.
func (d *Director) startSync(cfg *config.Config) {
	if cfg.Sync == nil {
		return
	}
	roles := []ipvs.SyncRole{ipvs.SyncBackup}
	if len(cfg.Instances) == 0 {
		roles = append(roles, ipvs.SyncMaster) // no VRRP to follow
	}
	for _, role := range roles {
		if err := d.sync.Start(role, cfg.Sync.Interface, cfg.Sync.SyncID); err != nil {
			d.log.WithError(err).Error("ipvs connection sync not started")
			continue
		}
		d.log.WithFields(logrus.Fields{"role": role, "interface": cfg.Sync.Interface, "sync_id": cfg.Sync.SyncID}).
			Info("ipvs connection sync started")
	}
}

// stopSync stops the sync daemons only when lvsd also clears its IPVS
// services on stop; otherwise they keep running with the table, so that a
// restart loses no synced connection.
func (d *Director) stopSync(cfg *config.Config) error {
	if cfg.Sync == nil || cfg.Director.OnStop != "clear" {
		return nil
	}
	return errors.Join(d.sync.Stop(ipvs.SyncMaster), d.sync.Stop(ipvs.SyncBackup))
}
