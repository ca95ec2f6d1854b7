package director

import (
	"context"
	"os"
	"reflect"
	"runtime/debug"

	"github.com/sirupsen/logrus"

	"github.com/lvsd/lvsd/director/api"
	"github.com/lvsd/lvsd/director/config"
)

// reload loads the files again. A configuration that fails validation is
// rejected with all its errors and the running one keeps serving.
func (d *Director) reload() api.ReloadResult {
	d.life("reloading")
	defer d.life("ready")
	old := d.Current()
	res := api.ReloadResult{At: d.now(), Generation: old.Generation}
	cfg, err := config.Load(d.path, d.opts)
	if err == nil {
		err = d.rebind(old.Config, cfg) // a bad http.listen rejects the reload
	}
	if err != nil {
		res.Errors = errorLines(err)
		d.log.WithFields(logrus.Fields{"errors": len(res.Errors), "generation": old.Generation}).
			Error("reload rejected, the running configuration stays in service:\n" + err.Error())
	} else {
		if cfg.ControlSocket != old.Config.ControlSocket {
			d.log.WithField("socket", cfg.ControlSocket).Warn("control.socket changes take effect at restart")
		}
		if !reflect.DeepEqual(cfg.Instances, old.Config.Instances) || !reflect.DeepEqual(cfg.Groups, old.Config.Groups) ||
			cfg.RTPriority != old.Config.RTPriority {
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
	d.metrics.reloaded(res.At, res.OK)
	if res.OK {
		d.setMemoryLimit(cfg)
		d.metrics.loaded(cfg)
		d.notify.SetConfig(d.notifyConfig(cfg))
		d.apply(cfg)
		d.vrrp.setAnnounceOrder(cfg)
		d.follow.reloaded(cfg)
		d.log.WithFields(logrus.Fields{"generation": res.Generation, "services": len(cfg.Services)}).
			Info("configuration reloaded")
	}
	return res
}

// Reload asks the running loop to reload and waits for the outcome.
func (d *Director) Reload(ctx context.Context) (api.ReloadResult, error) {
	reply := make(chan api.ReloadResult, 1)
	select {
	case d.reloads <- reply:
	case <-ctx.Done():
		return api.ReloadResult{}, ctx.Err()
	}
	select {
	case r := <-reply:
		return r, nil
	case <-ctx.Done():
		return api.ReloadResult{}, ctx.Err()
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

// DefaultGCPercent is the garbage collector's target that lvsd run sets
// when the environment has no GOGC: a collection starts once the heap
// has grown by half its live data since the last one, where Go's default
// (100) lets it double. lvsd's live data is mostly its tables, which are
// as large as the farm and change only at a reload, while what it
// allocates between collections is small and short-lived: at 10,000
// services of 10 realservers TCP-checked every second (65 MB live), 50
// sets the heap goal at 99 MB where 100 sets 136 MB, for collections
// twice as often (docs/memory.md). GOGC=100 restores Go's default;
// director.memory_limit (or GOMEMLIMIT) applies on top.
const DefaultGCPercent = 50

// SetDefaultGC sets the collector's target to DefaultGCPercent unless
// GOGC is set, and returns the target in force and whether GOGC set it.
// lvsd run calls it before it loads the configuration, so that the peak
// of a start is bounded too.
func SetDefaultGC() (percent int, fromEnv bool) {
	if os.Getenv("GOGC") != "" {
		p := debug.SetGCPercent(-1)
		debug.SetGCPercent(p)
		return p, true
	}
	debug.SetGCPercent(DefaultGCPercent)
	return DefaultGCPercent, false
}

// ReleaseWhenReady wraps a Lifecycle callback: at each "ready" (the
// daemon started, or a reload ended) it also has the runtime collect and
// give the operating system back the memory it holds free, in a goroutine
// of its own so that readiness is not delayed. Loading 10,000 service
// files (their parse above all) and applying their table takes more
// than serving them does; the runtime's scavenger would return the
// difference over minutes, and the resident memory would stay near the
// start's peak meanwhile. It costs one collection per start or reload.
func ReleaseWhenReady(next func(state string)) func(state string) {
	return func(state string) {
		if state == "ready" {
			go debug.FreeOSMemory()
		}
		next(state)
	}
}

// envMemoryLimit is the runtime's soft memory limit as the process
// started: GOMEMLIMIT's, or none (math.MaxInt64).
var envMemoryLimit = debug.SetMemoryLimit(-1)

// setMemoryLimit applies director.memory_limit, or gives the limit back
// to the environment's when the key is gone. The limit is soft: the
// garbage collector runs more often to stay under it, and a table whose
// live data outgrows it still gets the memory, at the cost of CPU.
func (d *Director) setMemoryLimit(cfg *config.Config) {
	limit := envMemoryLimit
	if cfg.Director.MemoryLimit > 0 {
		limit = cfg.Director.MemoryLimit
	}
	if prev := debug.SetMemoryLimit(limit); prev != limit {
		d.log.WithField("bytes", limit).Info("memory limit set (director.memory_limit, else GOMEMLIMIT)")
	}
}
