// Package daemon runs lvsd: it owns the loaded configuration, reloads it on
// request without ever dropping the running one for a broken one, and
// answers the control socket. VRRP, the IPVS director and the health
// checks plug in as they arrive.
package daemon

import (
	"context"
	"errors"
	"fmt"
	"net"
	"path/filepath"
	"reflect"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/sirupsen/logrus"

	"github.com/lvsd/lvsd/director"
	"github.com/lvsd/lvsd/director/config"
	"github.com/lvsd/lvsd/director/control"
	"github.com/lvsd/lvsd/director/notify"
	"github.com/lvsd/lvsd/healthcheck"
)

// Options configure a Daemon.
type Options struct {
	Config  config.Options
	Log     *logrus.Entry
	Version string
	// OpenIPVS opens the IPVS table the director programs; nil opens the
	// kernel's (director.OpenKernel). `lvsd run --dry-run` passes an
	// in-memory table.
	OpenIPVS func(*config.Config) (director.IPVS, error)
	// Sysctls reads (and with director.set_sysctls writes) the kernel
	// settings the forwarding modes need; nil means /proc/sys.
	Sysctls director.Sysctls
	// Sync starts and stops the IPVS connection sync daemons; nil means
	// the kernel's.
	Sync SyncControl
	// Handover flushes connections to the peer and holds resets at VIP
	// moves; nil means the kernel's (package connsync, an nftables table).
	Handover Handover
	// Lifecycle, if set, hears "ready" once lvsd serves, "reloading" and
	// "ready" around each reload, and "stopping" (systemd's sd_notify).
	Lifecycle func(state string)
}

// SyncControl starts and stops the IPVS connection sync daemons.
type SyncControl interface {
	Start(role director.SyncRole, iface string, syncID uint8) error
	Stop(role director.SyncRole) error
}

// Daemon is one running lvsd.
type Daemon struct {
	path     string
	opts     config.Options
	open     func(*config.Config) (director.IPVS, error)
	log      *logrus.Entry
	version  string
	now      func() time.Time
	dir      *director.Director
	sysctls  director.Sysctls
	sync     SyncControl
	handover Handover
	follow   *follower
	life     func(string)
	health   *healthcheck.Runner
	notify   *notify.Notifier
	// notifyStop ends the notifier after the final transitions are queued.
	notifyStop context.CancelFunc
	notifyDone chan struct{}
	vrrp       *vrrpSet
	drains     *drains
	unmet      atomic.Pointer[[]director.Requirement]

	cur     atomic.Pointer[Loaded]
	mu      sync.Mutex // guards last, and orders it with stores to cur
	last    *ReloadResult
	reloads chan chan ReloadResult
	started time.Time
}

// Loaded is a configuration in service, with its generation (1 at start,
// +1 on each accepted reload).
type Loaded struct {
	Config     *config.Config
	Generation int
	At         time.Time
	state      director.StateFunc // the realservers' state under Config
}

// ReloadResult tells how the last reload attempt went.
type ReloadResult struct {
	At         time.Time `json:"at"`
	OK         bool      `json:"ok"`
	Generation int       `json:"generation"`
	Errors     []string  `json:"errors,omitempty"`
}

// New loads the configuration at path; it fails if the file is invalid,
// because a daemon must never start on a configuration it cannot trust.
func New(path string, o Options) (*Daemon, error) {
	cfg, err := config.Load(path, o.Config)
	if err != nil {
		return nil, err
	}
	if o.Log == nil {
		o.Log = logrus.NewEntry(logrus.New())
	}
	if o.OpenIPVS == nil {
		o.OpenIPVS = func(c *config.Config) (director.IPVS, error) { return director.OpenKernel(c.Director.LoadModule) }
	}
	if o.Sysctls == nil {
		o.Sysctls = director.ProcSysctls{}
	}
	if o.Sync == nil {
		o.Sync = director.KernelSync{}
	}
	if o.Handover == nil {
		o.Handover = &kernelHandover{}
	}
	if o.Lifecycle == nil {
		o.Lifecycle = func(string) {}
	}
	d := &Daemon{
		path: path, opts: o.Config, open: o.OpenIPVS, log: o.Log, version: o.Version, now: time.Now,
		reloads: make(chan chan ReloadResult), sysctls: o.Sysctls, sync: o.Sync, life: o.Lifecycle,
		handover: o.Handover,
	}
	d.follow = &follower{d: d}
	d.started = d.now()
	d.cur.Store(&Loaded{Config: cfg, Generation: 1, At: d.started, state: d.stateFunc(cfg)})
	return d, nil
}

// Current returns the configuration in service.
func (d *Daemon) Current() *Loaded { return d.cur.Load() }

// Run serves until ctx is done. Each value on hup (SIGHUP) reloads.
func (d *Daemon) Run(ctx context.Context, hup <-chan struct{}) error {
	cfg := d.Current().Config
	ln, err := d.prepare(cfg)
	if err != nil {
		return err
	}
	defer d.health.Shutdown()
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	d.apply(cfg)
	d.startSync(cfg)
	directed := make(chan error, 1)
	go func() { directed <- d.dir.Run(ctx) }()
	d.waitFirstReconcile(10 * time.Second) // the table is in place before any VIP arrives
	// VRRP runs under a context of its own: at stop it hands the VIPs
	// over first, while IPVS and the sync daemons still serve.
	vctx, vcancel := context.WithCancel(context.Background())
	defer vcancel()
	changed := make(chan struct{}, 1)
	d.follow.arm(cfg) // before any VIP can arrive
	d.vrrp, err = d.startVRRP(vctx, cfg, changed)
	if err != nil {
		cancel()
		return errors.Join(err, <-directed)
	}
	go d.follow.run(vctx, d.vrrp, changed)
	served := make(chan error, 1)
	go func() { served <- control.Serve(ctx, ln, d.handle) }()
	d.log.WithFields(logrus.Fields{
		"config": d.path, "socket": cfg.ControlSocket, "services": len(cfg.Services),
		"instances": len(cfg.Instances), "version": d.version,
	}).Info("lvsd started")
	d.life("ready")
	for {
		select {
		case <-ctx.Done():
			return d.stop(vcancel, cancel, served, directed)
		case err := <-served:
			// Serve ends with nil when ctx ends; anything else is a
			// failure of the socket, which ends the daemon too.
			if err != nil {
				err = fmt.Errorf("control socket: %w", err)
			}
			served <- nil
			return errors.Join(err, d.stop(vcancel, cancel, served, directed))
		case <-hup:
			d.reload()
		case reply := <-d.reloads:
			reply <- d.reload()
		}
	}
}

// prepare opens what Run needs: the IPVS table, the control socket, the
// operator drains, the health runner and the director.
func (d *Daemon) prepare(cfg *config.Config) (net.Listener, error) {
	k, err := d.open(cfg)
	if err != nil {
		return nil, err
	}
	ln, err := control.Listen(cfg.ControlSocket)
	if err != nil {
		return nil, err
	}
	if d.drains, err = loadDrains(statePath(cfg, "drains.json")); err != nil {
		d.log.WithError(err).Warn("operator drains not restored")
	}
	d.notify = notify.New(notifyConfig(cfg), d.log.WithField("part", "notify"))
	notifyCtx, notifyStop := context.WithCancel(context.Background())
	d.notifyDone = make(chan struct{})
	d.notifyStop = notifyStop
	go func() { defer close(d.notifyDone); d.notify.Run(notifyCtx) }()
	if d.health, err = healthcheck.NewRunner(d.log.WithField("part", "health"), d.onHealth); err != nil {
		ln.Close()
		return nil, err
	}
	d.dir = director.New(k, director.Options{
		Interval:    cfg.Director.ReconcileInterval,
		OwnedPath:   statePath(cfg, "ipvs-owned.json"),
		ClearOnStop: cfg.Director.OnStop == "clear",
		Log:         d.log.WithField("part", "director"),
	})
	return ln, nil
}

func (d *Daemon) waitFirstReconcile(limit time.Duration) {
	for end := time.Now().Add(limit); d.dir.Last().At.IsZero() && time.Now().Before(end); {
		time.Sleep(5 * time.Millisecond)
	}
}

// reload loads the files again. A configuration that fails validation is
// rejected with all its errors and the running one keeps serving.
func (d *Daemon) reload() ReloadResult {
	d.life("reloading")
	defer d.life("ready")
	old := d.Current()
	res := ReloadResult{At: d.now(), Generation: old.Generation}
	cfg, err := config.Load(d.path, d.opts)
	if err != nil {
		res.Errors = errorLines(err)
		d.log.WithFields(logrus.Fields{"errors": len(res.Errors), "generation": old.Generation}).
			Error("reload rejected, the running configuration stays in service:\n" + err.Error())
	} else {
		if cfg.ControlSocket != old.Config.ControlSocket {
			d.log.WithField("socket", cfg.ControlSocket).Warn("control.socket changes take effect at restart")
		}
		if !reflect.DeepEqual(cfg.Instances, old.Config.Instances) || !reflect.DeepEqual(cfg.Groups, old.Config.Groups) {
			d.log.Warn("vrrp instance changes take effect at restart (lvsd switchover first for no loss); services and checks are reloaded now")
		}
		res.OK, res.Generation = true, old.Generation+1
	}
	// The new generation and the outcome that made it appear together to
	// Status, which reads both under the same lock.
	d.mu.Lock()
	if res.OK {
		d.cur.Store(&Loaded{Config: cfg, Generation: res.Generation, At: res.At, state: d.stateFunc(cfg)})
	}
	d.last = &res
	d.mu.Unlock()
	if res.OK {
		d.notify.SetConfig(notifyConfig(cfg))
		d.apply(cfg)
		d.follow.reloaded(cfg)
		d.log.WithFields(logrus.Fields{"generation": res.Generation, "services": len(cfg.Services)}).
			Info("configuration reloaded")
	}
	return res
}

// stop hands the VIPs over (bounded by the longest handover timeout),
// then ends the control socket, the director and the sync daemons.
func (d *Daemon) stop(vcancel, cancel context.CancelFunc, served, directed <-chan error) error {
	d.life("stopping")
	vcancel()
	limit := 5 * time.Second
	for _, in := range d.Current().Config.Instances {
		limit = max(limit, in.Handover.Timeout+5*time.Second)
	}
	var verr error
	select {
	case <-d.vrrp.done:
		verr = errors.Join(d.vrrp.errs...)
	case <-time.After(limit):
		verr = fmt.Errorf("vrrp instances still stopping after %v", limit)
	}
	d.follow.final()
	cancel()
	err := errors.Join(verr, <-served, <-directed, d.stopSync(d.Current().Config))
	d.notifyStop() // deliver what is queued, each hook bounded by its timeout
	<-d.notifyDone
	d.log.Info("lvsd stopped")
	return err
}

// statePath names a state file beside the control socket, after it
// (/run/lvsd/lvsd.sock: /run/lvsd/lvsd.ipvs-owned.json), so that two
// daemons with two sockets never share state, even in one directory.
func statePath(cfg *config.Config, name string) string {
	return strings.TrimSuffix(cfg.ControlSocket, filepath.Ext(cfg.ControlSocket)) + "." + name
}

func notifyConfig(cfg *config.Config) notify.Config {
	return notify.Config{Command: cfg.Notify.Command, Webhook: cfg.Notify.Webhook, Timeout: cfg.Notify.Timeout}
}

// apply puts a configuration in service: the kernel settings its
// forwarding modes need are checked (and set, when so configured), and the
// director is handed its services.
func (d *Daemon) apply(cfg *config.Config) {
	unmet := director.CheckPrerequisites(cfg, d.sysctls)
	for _, r := range unmet {
		d.log.WithField("sysctl", r.Path).Warn("kernel setting missing: " + r.String() +
			" (set it, or director.set_sysctls: true)")
	}
	d.unmet.Store(&unmet)
	if err := d.health.Set(targets(cfg)); err != nil {
		d.log.WithError(err).Error("some health checks could not be built; their realservers count as down")
	}
	d.dir.Update(cfg.Services, d.Current().state)
}

// startSync starts the connection sync daemons: the backup always (it
// receives the peer's connections); the master follows VRRP
// (syncFollower), or runs all along on a director without VRRP.
func (d *Daemon) startSync(cfg *config.Config) {
	if cfg.Sync == nil {
		return
	}
	roles := []director.SyncRole{director.SyncBackup}
	if len(cfg.Instances) == 0 {
		roles = append(roles, director.SyncMaster) // no VRRP to follow
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
func (d *Daemon) stopSync(cfg *config.Config) error {
	if cfg.Sync == nil || cfg.Director.OnStop != "clear" {
		return nil
	}
	return errors.Join(d.sync.Stop(director.SyncMaster), d.sync.Stop(director.SyncBackup))
}

// Reload asks the running loop to reload and waits for the outcome.
func (d *Daemon) Reload(ctx context.Context) (ReloadResult, error) {
	reply := make(chan ReloadResult, 1)
	select {
	case d.reloads <- reply:
	case <-ctx.Done():
		return ReloadResult{}, ctx.Err()
	}
	select {
	case r := <-reply:
		return r, nil
	case <-ctx.Done():
		return ReloadResult{}, ctx.Err()
	}
}

func errorLines(err error) []string {
	if es, ok := config.AsErrors(err); ok {
		out := make([]string, len(es))
		for i, e := range es {
			out[i] = e.Error()
		}
		return out
	}
	return []string{err.Error()}
}

var errUnknownCmd = errors.New("unknown command")
