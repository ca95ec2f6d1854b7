package main

import (
	"context"
	"fmt"
	"maps"
	"os"
	"os/signal"
	"syscall"
	"time"

	sddaemon "github.com/coreos/go-systemd/v22/daemon"
	"github.com/sirupsen/logrus"
	"github.com/spf13/cobra"

	"github.com/lvsd/lvsd/director"
	"github.com/lvsd/lvsd/director/config"
	"github.com/lvsd/lvsd/director/handover/rstguard"
	"github.com/lvsd/lvsd/director/ipvs"
)

func runCmd() *cobra.Command {
	c := &cobra.Command{
		Use:   "run",
		Short: "Run the director daemon (SIGHUP reloads, SIGTERM stops)",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			gc, gcFromEnv := director.SetDefaultGC() // before the configuration's load, whose peak it bounds
			logger := logrus.New()
			opts := director.Options{Log: logrus.NewEntry(logger), Version: version, Lifecycle: director.ReleaseWhenReady(sdNotify)}
			dry, _ := cmd.Flags().GetBool("dry-run")
			table, _ := cmd.Flags().GetString("ipvs")
			switch {
			case dry:
				// Touches nothing: VRRP listens only, IPVS is an in-memory
				// copy of the kernel's table, no sysctl, sync daemon,
				// nftables table or notify hook (see director.ModeDryRun).
				opts.Mode = director.ModeDryRun
				opts.OpenIPVS = func(*config.Config) (ipvs.IPVS, error) { return kernelCopy(opts.Log), nil }
				logger.SetLevel(logrus.DebugLevel)
			case table == "memory":
				// Real VRRP, in-memory IPVS: network labs on a kernel
				// without IPVS. Not a dry run: it sends adverts and takes
				// the VIPs.
				opts.Mode = director.ModeIPVSMemory
				opts.OpenIPVS = func(*config.Config) (ipvs.IPVS, error) { return ipvs.NewMemory(), nil }
			case table != "kernel":
				return fmt.Errorf("--ipvs %q: want kernel or memory", table)
			}
			if opts.Mode != director.ModeKernel {
				opts.Sysctls = ipvs.ReadOnly(ipvs.ProcSysctls{})
				opts.Sync = dryRunSync{log: opts.Log}
				opts.Handover = dryRunHandover{log: opts.Log}
			}
			d, err := director.New(configPath(cmd), opts)
			if err != nil {
				return err
			}
			setupLog(logger, d.Current().Config)
			opts.Log.WithFields(logrus.Fields{"gc_percent": gc, "from_gogc": gcFromEnv}).Debug("garbage collection target")
			procs, procsFromEnv := setVRRPProcs(len(d.Current().Config.Instances)) // before Run starts the loops
			opts.Log.WithFields(logrus.Fields{"gomaxprocs": procs, "from_gomaxprocs": procsFromEnv}).Debug("processors")
			ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM, syscall.SIGINT)
			defer stop()
			return d.Run(ctx, hangups(ctx))
		},
	}
	c.Flags().Bool("dry-run", false, "touch nothing: listen to VRRP, compute against an in-memory copy of the kernel's IPVS table, log what would be done (own socket: NAME.dry-run.sock)")
	c.Flags().String("ipvs", "kernel", "IPVS table to program: kernel, or memory (real VRRP, in-memory IPVS: for network labs without IPVS; not a dry run)")
	return c
}

// hangups turns SIGHUP into reload requests for the daemon's loop.
func hangups(ctx context.Context) <-chan struct{} {
	sig := make(chan os.Signal, 1)
	signal.Notify(sig, syscall.SIGHUP)
	out := make(chan struct{})
	go func() {
		defer signal.Stop(sig)
		for {
			select {
			case <-ctx.Done():
				return
			case <-sig:
				select {
				case out <- struct{}{}:
				case <-ctx.Done():
					return
				}
			}
		}
	}()
	return out
}

func setupLog(l *logrus.Logger, cfg *config.Config) {
	// Millisecond timestamps: failover and health decisions are measured
	// in milliseconds, and operators read them off the log.
	const stamp = "2006-01-02T15:04:05.000Z07:00"
	if cfg.LogFormat == "json" {
		l.SetFormatter(&logrus.JSONFormatter{TimestampFormat: stamp})
	} else {
		l.SetFormatter(&logrus.TextFormatter{FullTimestamp: true, TimestampFormat: stamp})
	}
	if lvl, err := logrus.ParseLevel(cfg.LogLevel); err == nil {
		l.SetLevel(lvl)
	}
}

// kernelCopy is the dry run's IPVS table: an in-memory copy of the
// kernel's, so that the operations logged are those a real start would
// make. It reads the kernel only where IPVS is already loaded
// (/proc/net/ip_vs exists): asking for the netlink family would load the
// module, and a dry run changes nothing.
func kernelCopy(log *logrus.Entry) *ipvs.Memory {
	m := ipvs.NewMemory()
	if _, err := os.Stat("/proc/net/ip_vs"); err != nil {
		log.Info("dry run: IPVS is not loaded here; computing against an empty table")
		return m
	}
	k, err := ipvs.OpenKernel(false)
	if err == nil {
		var t ipvs.Table
		if t, err = k.Table(); err == nil {
			m.Edit(func(mt ipvs.Table) { maps.Copy(mt, t) })
			log.WithField("services", len(t)).Info("dry run: computing against a copy of the kernel's IPVS table")
			return m
		}
	}
	log.WithError(err).Warn("dry run: kernel IPVS table not readable; computing against an empty table")
	return m
}

// dryRunSync logs the sync daemons lvsd would start.
type dryRunSync struct{ log *logrus.Entry }

func (s dryRunSync) Start(role ipvs.SyncRole, iface string, id uint8) error {
	s.log.Infof("dry run: would start the ipvs sync %s daemon on %s (syncid %d)", role, iface, id)
	return nil
}

func (s dryRunSync) Stop(role ipvs.SyncRole) error {
	s.log.Infof("dry run: would stop the ipvs sync %s daemon", role)
	return nil
}

// dryRunHandover logs the connection handovers lvsd would make.
type dryRunHandover struct{ log *logrus.Entry }

func (h dryRunHandover) Flush(cfg *config.Config) (int, error) {
	if cfg.Sync != nil {
		h.log.Infof("dry run: would send the connection table to the peer on %s", cfg.Sync.Interface)
	}
	return 0, nil
}

func (h dryRunHandover) Hold(held rstguard.Holds, d time.Duration) error {
	if len(held.Resets)+len(held.Replies) > 0 {
		h.log.Debugf("dry run: would hold resets from %v and untranslated replies from %v for %v", held.Resets, held.Replies, d)
	}
	return nil
}

func (h dryRunHandover) Relay(r rstguard.Relays, d time.Duration) error {
	if !r.Empty() {
		h.log.Debugf("dry run: would relay to the other director for %v: %d VIP:ports, %d realservers, %d kept local",
			d, len(r.In), len(r.Replies), len(r.Local))
	}
	return nil
}

// Sweep touches nothing in a dry run (it would run every few seconds on
// a backup: no log either).
func (dryRunHandover) Sweep(*config.Config, func() bool) (int, error) { return 0, nil }

func (dryRunHandover) Held() (uint64, error) { return 0, nil }
func (dryRunHandover) Close() error          { return nil }

// sdNotify tells systemd (Type=notify) where lvsd stands; outside systemd
// (no NOTIFY_SOCKET) it does nothing.
func sdNotify(state string) {
	msg := map[string]string{
		"ready": sddaemon.SdNotifyReady, "reloading": sddaemon.SdNotifyReloading, "stopping": sddaemon.SdNotifyStopping,
	}[state]
	if msg != "" {
		_, _ = sddaemon.SdNotify(false, msg)
	}
}
