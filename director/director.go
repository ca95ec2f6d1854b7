// Package director is the engine of one director node: it owns the
// configuration in service and its generations, starts and stops the
// parts in order, and joins what they say (VRRP state, health results,
// operator drains) into the IPVS table the kernel should hold.
//
// One job per file: director.go (wiring and stop order), reload.go
// (generations and reloads), apply.go (putting a configuration in
// service), instances.go and switchover.go (VRRP), health.go (health
// results to the reconciler), drains.go (operator drains), follower.go
// (connection handover following mastership), sync.go (the kernel's sync
// daemons), control.go (control-socket dispatch), status.go (the
// snapshot, in package api's types), diff.go (`lvsd diff`).
//
// The parts live in their own packages and never import this one:
// ipvs (the reconciler), handover, notify, api, config, and the top-level
// vrrp and healthcheck.
package director

import (
	"context"
	"errors"
	"fmt"
	"net"
	"sync"
	"sync/atomic"
	"time"

	"github.com/jonboulle/clockwork"
	"github.com/sirupsen/logrus"

	"github.com/lvsd/lvsd/director/api"
	"github.com/lvsd/lvsd/director/config"
	"github.com/lvsd/lvsd/director/handover"
	"github.com/lvsd/lvsd/director/ipvs"
	"github.com/lvsd/lvsd/director/notify"
	"github.com/lvsd/lvsd/director/web"
	"github.com/lvsd/lvsd/healthcheck"
)

// Options configure a Director.
type Options struct {
	Config  config.Options
	Log     *logrus.Entry
	Version string
	// OpenIPVS opens the IPVS table the director programs; nil opens the
	// kernel's (ipvs.OpenKernel). `lvsd run --dry-run` passes an
	// in-memory table.
	OpenIPVS func(*config.Config) (ipvs.IPVS, error)
	// Sysctls reads (and with director.set_sysctls writes) the kernel
	// settings the forwarding modes need; nil means /proc/sys.
	Sysctls ipvs.Sysctls
	// Sync starts and stops the IPVS connection sync daemons; nil means
	// the kernel's.
	Sync SyncControl
	// Handover flushes connections to the peer and holds resets at VIP
	// moves; nil means the kernel's (package connsync, an nftables table).
	Handover Handover
	// Checkers builds the health checkers; nil means healthcheck.New.
	// Benchmarks pass checkers that send nothing, so that the runner's
	// own work (scheduling, rise and fall, metrics) is measured alone.
	Checkers healthcheck.Factory
	// Lifecycle, if set, hears "ready" once lvsd serves, "reloading" and
	// "ready" around each reload, and "stopping" (systemd's sd_notify).
	Lifecycle func(state string)
	// Mode is ModeKernel for a daemon that drives the kernel; see Mode.
	// The caller passes the matching OpenIPVS, Sysctls, Sync and Handover.
	Mode Mode
}

// Mode says how much of the system a Director may touch.
type Mode string

const (
	// ModeKernel drives the kernel: VRRP, addresses, IPVS, sync daemons,
	// nftables, sysctls when so configured.
	ModeKernel Mode = ""
	// ModeDryRun (`lvsd run --dry-run`) touches nothing: VRRP only
	// listens (package vrrp, Deps.ListenOnly), IPVS is an in-memory copy,
	// notify hooks do not run, and the control socket and state files
	// are its own (name.dry-run.sock beside the configured socket), so
	// it never disturbs a live lvsd on the same host. It computes and
	// logs what it would do; `lvsd status --socket` shows it.
	ModeDryRun Mode = "dry-run"
	// ModeIPVSMemory (`lvsd run --ipvs=memory`) runs real VRRP with an
	// in-memory IPVS table: network labs on kernels without IPVS.
	ModeIPVSMemory Mode = "ipvs-memory"
)

// SyncControl starts and stops the IPVS connection sync daemons.
type SyncControl interface {
	Start(role ipvs.SyncRole, iface string, syncID uint8) error
	Stop(role ipvs.SyncRole) error
}

// Director is one running lvsd.
type Director struct {
	path     string
	opts     config.Options
	open     func(*config.Config) (ipvs.IPVS, error)
	log      *logrus.Entry
	version  string
	now      func() time.Time
	clock    clockwork.Clock // of the reconciler, the health runner and the follower; tests set a fake one
	dir      *ipvs.Reconciler
	sysctls  ipvs.Sysctls
	sync     SyncControl
	handover Handover
	follow   *follower
	life     func(string)
	health   *healthcheck.Runner
	checkers healthcheck.Factory // Options.Checkers
	notify   *notify.Notifier
	// notifyStop ends the notifier after the final transitions are queued.
	notifyStop context.CancelFunc
	notifyDone chan struct{}
	vrrp       *vrrpSet
	drains     *drains
	unmet      atomic.Pointer[[]ipvs.Requirement]

	cur     atomic.Pointer[Loaded]
	mu      sync.Mutex // guards last, and orders it with stores to cur
	last    *api.ReloadResult
	reloads chan chan api.ReloadResult
	started time.Time
	mode    Mode // what it may touch

	metrics *metrics    // see metrics.go
	web     *web.Server // the status page and /metrics (http.go)
	events  events      // the last realserver transitions, for status
	serving atomic.Bool // set once every part is up: the page may read them
	// gateKick asks the preemption gate (preempt.go) to look again.
	gateKick chan struct{}
	// touched is when each service's realservers last changed other than
	// by a health verdict (a drain, a reload): the gate counts them
	// usable only once the kernel has that change too.
	touched touchTimes
}

// Loaded is a configuration in service, with its generation (1 at start,
// +1 on each accepted reload).
type Loaded struct {
	Config     *config.Config
	Generation int
	At         time.Time
	state      ipvs.StateFunc // the realservers' state under Config
}

// New loads the configuration at path; it fails if the file is invalid,
// because a daemon must never start on a configuration it cannot trust.
func New(path string, o Options) (*Director, error) {
	cfg, err := config.Load(path, o.Config)
	if err != nil {
		return nil, err
	}
	if o.Log == nil {
		o.Log = logrus.NewEntry(logrus.New())
	}
	if o.OpenIPVS == nil {
		o.OpenIPVS = func(c *config.Config) (ipvs.IPVS, error) { return ipvs.OpenKernel(c.Director.LoadModule) }
	}
	if o.Sysctls == nil {
		o.Sysctls = ipvs.ProcSysctls{}
	}
	if o.Sync == nil {
		o.Sync = ipvs.KernelSync{}
	}
	if o.Handover == nil {
		o.Handover = &handover.Kernel{}
	}
	if o.Lifecycle == nil {
		o.Lifecycle = func(string) {}
	}
	d := &Director{
		path: path, opts: o.Config, open: o.OpenIPVS, log: o.Log, version: o.Version, now: time.Now, clock: clockwork.NewRealClock(),
		reloads: make(chan chan api.ReloadResult), sysctls: o.Sysctls, sync: o.Sync, life: o.Lifecycle,
		handover: o.Handover, gateKick: make(chan struct{}, 1), checkers: o.Checkers,
	}
	d.follow = &follower{d: d}
	d.started = d.now()
	d.mode = o.Mode
	d.metrics = newMetrics(d)
	d.metrics.loaded(cfg)
	d.cur.Store(&Loaded{Config: cfg, Generation: 1, At: d.started, state: d.stateFunc(cfg)})
	d.setMemoryLimit(cfg)
	return d, nil
}

// Current returns the configuration in service.
func (d *Director) Current() *Loaded { return d.cur.Load() }

// Run serves until ctx is done. Each value on hup (SIGHUP) reloads.
func (d *Director) Run(ctx context.Context, hup <-chan struct{}) error {
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
	ev := newVRRPEvents()
	d.follow.arm(cfg) // before any VIP can arrive
	d.vrrp, err = d.startVRRP(vctx, cfg, ev)
	if err != nil {
		cancel()
		return errors.Join(err, <-directed)
	}
	go d.follow.run(vctx, d.vrrp, ev)
	go d.runGate(vctx, d.vrrp)
	served := make(chan error, 1)
	go func() { served <- api.Serve(ctx, ln, d.handle) }()
	d.log.WithFields(logrus.Fields{
		"config": d.path, "socket": d.socketOf(cfg), "mode": d.mode, "services": len(cfg.Services),
		"instances": len(cfg.Instances), "version": d.version,
	}).Info("lvsd started")
	d.serving.Store(true)
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
func (d *Director) prepare(cfg *config.Config) (net.Listener, error) {
	k, err := d.open(cfg)
	if err != nil {
		return nil, err
	}
	ln, err := api.Listen(d.socketOf(cfg))
	if err != nil {
		return nil, err
	}
	if err := d.startWeb(cfg); err != nil {
		ln.Close()
		return nil, err
	}
	if d.drains, err = loadDrains(d.statePath(cfg, "drains.json")); err != nil {
		d.log.WithError(err).Warn("operator drains not restored")
	}
	d.notify = notify.New(d.notifyConfig(cfg), d.log.WithField("part", "notify"))
	notifyCtx, notifyStop := context.WithCancel(context.Background())
	d.notifyDone = make(chan struct{})
	d.notifyStop = notifyStop
	go func() { defer close(d.notifyDone); d.notify.Run(notifyCtx) }()
	hopts := []healthcheck.Option{healthcheck.WithClock(d.clock), healthcheck.WithResults(d.metrics.health.Observe)}
	if d.checkers != nil {
		hopts = append(hopts, healthcheck.WithFactory(d.checkers))
	}
	if d.health, err = healthcheck.NewRunner(d.log.WithField("part", "health"), d.onHealth, hopts...); err != nil {
		ln.Close()
		return nil, err
	}
	d.dir = ipvs.New(k, ipvs.Options{
		Interval:    cfg.Director.ReconcileInterval,
		OwnedPath:   d.statePath(cfg, "ipvs-owned.json"),
		ClearOnStop: cfg.Director.OnStop == "clear",
		Log:         d.log.WithField("part", "director"),
		Clock:       d.clock,
		Metrics:     d.metrics.ipvs,
	})
	return ln, nil
}

// waitFirstReconcile waits for the reconciler's first pass, so that the
// IPVS table is in place before VRRP can bring a VIP; a kernel that does
// not answer within limit (real time, whatever d.clock is) delays VRRP no
// longer, and the reconciler keeps retrying.
func (d *Director) waitFirstReconcile(limit time.Duration) {
	t := time.NewTimer(limit)
	defer t.Stop()
	select {
	case <-d.dir.Ready():
	case <-t.C:
		d.log.Warnf("ipvs table not in place after %v; vrrp starts anyway", limit)
	}
}

// stop hands the VIPs over (bounded by the longest handover timeout),
// then ends the control socket, the director and the sync daemons.
func (d *Director) stop(vcancel, cancel context.CancelFunc, served, directed <-chan error) error {
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
	d.web.Close()
	d.log.Info("lvsd stopped")
	return err
}
