package director

import (
	"context"
	"slices"
	"strings"

	"github.com/lvsd/lvsd/director/api"
	"github.com/lvsd/lvsd/director/config"
	"github.com/lvsd/lvsd/director/web"
)

// listenAddrs splits http.listen: one address or several separated by
// commas or spaces; "" serves nothing.
func listenAddrs(cfg *config.Config) []string {
	return strings.FieldsFunc(cfg.HTTPListen, func(r rune) bool { return r == ',' || r == ' ' })
}

// startWeb binds the status page and /metrics on http.listen. A bind
// failure is an error: a daemon never runs without the page it was told
// to serve. A dry run serves none, so that it never takes a live
// daemon's port.
func (d *Director) startWeb(cfg *config.Config) error {
	d.web = web.New(web.Options{Status: d.webStatus, Gatherer: d.metrics.reg, Bulk: []func(*web.Text){d.writeBulk},
		Log: d.log.WithField("part", "http")})
	if d.mode == ModeDryRun {
		return nil
	}
	return d.web.Listen(listenAddrs(cfg))
}

// rebind follows a reload's http.listen; the error rejects the reload,
// and the addresses in service stay as they were.
func (d *Director) rebind(old, cfg *config.Config) error {
	if d.mode == ModeDryRun || slices.Equal(listenAddrs(old), listenAddrs(cfg)) {
		return nil
	}
	return d.web.Listen(listenAddrs(cfg))
}

// webStatus is Status once every part is up, and before that only what
// the configuration says: the page may be asked while the daemon starts.
func (d *Director) webStatus(ctx context.Context) api.Status {
	if d.serving.Load() {
		return d.Status(ctx)
	}
	cur := d.Current()
	return api.Status{Node: cur.Config.Node, Version: d.version, Config: d.path, StartedAt: d.started,
		Generation: cur.Generation, LoadedAt: cur.At, Mode: string(d.mode), Warnings: []string{"lvsd is starting"}}
}
