package config

import (
	"fmt"
	"net"
	"net/url"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"time"
)

// Defaults of the main file, documented in docs/config.md.
const (
	DefaultControlSocket = "/run/lvsd/lvsd.sock"
	DefaultHTTPListen    = "127.0.0.1:9180"
	DefaultServicesDir   = "services.d"
)

// loadMain loads the main file. It returns nil when the file could not
// be read as a mapping of keys, and false when some of its values were
// refused: the services are then still checked, but not against it.
func loadMain(path string, host Host, errs, warns *Errors) (*Config, bool) {
	var raw rawMain
	p := decodeFile(path, &raw, errs)
	r := p.rep
	if p.root == nil {
		// Still check the service files, in the directory the main file's
		// text names, so that one run reports the errors of every file.
		if p.data == nil {
			return nil, false
		}
		dir := relTo(filepath.Dir(path), guessServicesDir(p.data))
		return &Config{MainFile: path, ServicesDir: dir, mainRep: r, guessedDir: true}, false
	}
	r.warns = warns
	cfg := &Config{
		MainFile: path, Node: raw.Node, LogLevel: raw.Log.Level, LogFormat: raw.Log.Format,
		ControlSocket: raw.Control.Socket, ServicesDir: raw.ServicesDir, mainRep: r,
	}
	if cfg.Node == "" {
		name, err := host.Hostname()
		if err != nil {
			r.at("node", "not set and the hostname is unknown: %v", err)
		}
		cfg.Node = name
	}
	resolveLog(cfg, r)
	base := filepath.Dir(path)
	cfg.ControlSocket = relTo(base, orDefault(cfg.ControlSocket, DefaultControlSocket))
	cfg.ServicesDir = relTo(base, orDefault(cfg.ServicesDir, DefaultServicesDir))
	cfg.HTTPListen = DefaultHTTPListen
	if raw.HTTP.Listen != nil {
		cfg.HTTPListen = *raw.HTTP.Listen
		checkListen(r, cfg.HTTPListen)
	}
	cfg.Instances = resolveInstances(raw.VRRP.Instances, host, r)
	cfg.Groups = resolveGroups(raw.VRRP.Groups, cfg.Instances, r)
	if p := raw.VRRP.RTPriority; p != nil && inRange(r, "vrrp.rt_priority", *p, 0, 99) {
		cfg.RTPriority = *p // sched_setattr(2)'s SCHED_RR range
	}
	cfg.Sync = resolveSync(raw.Sync, r)
	cfg.Notify = resolveNotify(raw.Notify, r)
	cfg.Director = resolveDirector(raw.Director, r)
	return cfg, !p.refused
}

var reServicesDir = regexp.MustCompile(`^services_dir:[ \t]*(?:"([^"]*)"|'([^']*)'|([^#"'\s]+))[ \t]*(?:#.*)?$`)

// guessServicesDir reads services_dir from the lines of a main file that
// YAML could not parse, or returns the default.
func guessServicesDir(data []byte) string {
	for _, l := range splitLines(data) {
		if m := reServicesDir.FindStringSubmatch(l); m != nil && m[1]+m[2]+m[3] != "" {
			return m[1] + m[2] + m[3]
		}
	}
	return DefaultServicesDir
}

func resolveLog(cfg *Config, r reporter) {
	cfg.LogLevel = orDefault(cfg.LogLevel, "info")
	switch cfg.LogLevel {
	case "trace", "debug", "info", "warn", "error":
	default:
		r.at("log.level", "%q is not one of trace, debug, info, warn, error", cfg.LogLevel)
	}
	cfg.LogFormat = orDefault(cfg.LogFormat, "text")
	if cfg.LogFormat != "text" && cfg.LogFormat != "json" {
		r.at("log.format", "%q is not text or json", cfg.LogFormat)
	}
}

func resolveSync(raw *rawSync, r reporter) *Sync {
	if raw == nil {
		return nil
	}
	s := &Sync{Interface: raw.Interface, HoldResets: durOr(raw.HoldResets, 3*time.Second)}
	if s.HoldResets > time.Minute {
		r.at("sync.hold_resets", "%s out of range 0s-1m: it bounds how long a client waits for a connection the peer never sent", shortDur(s.HoldResets))
	}
	if s.Interface == "" {
		r.at("sync.interface", "required: the interface the sync daemon sends and listens on")
	}
	if raw.SyncID != nil && inRange(r, "sync.sync_id", *raw.SyncID, 0, 255) {
		s.SyncID = uint8(*raw.SyncID)
	}
	return s
}

func resolveNotify(raw rawNotify, r reporter) Notify {
	n := Notify{Command: raw.Command, Webhook: raw.Webhook, Timeout: durOr(raw.Timeout, 5*time.Second)}
	n.Email = resolveEmail(raw.Email, r)
	if len(raw.Command) > 0 && raw.Command[0] == "" {
		r.at("notify.command[0]", "the program to run is empty")
	}
	if raw.Webhook != "" {
		u, err := url.Parse(raw.Webhook)
		if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
			r.at("notify.webhook", "%q is not an http:// or https:// URL", raw.Webhook)
		}
	}
	durRange(r, "notify.timeout", n.Timeout, 10*time.Millisecond, 10*time.Minute)
	return n
}

func resolveDirector(raw rawDirector, r reporter) Director {
	d := Director{
		ReconcileInterval: durOr(raw.ReconcileInterval, 30*time.Second),
		OnStop:            orDefault(raw.OnStop, "keep"),
		LoadModule:        raw.LoadModule, SetSysctls: raw.SetSysctls,
		MemoryLimit: resolveMemoryLimit(raw.MemoryLimit, r),
	}
	durRange(r, "director.reconcile_interval", d.ReconcileInterval, time.Second, 24*time.Hour)
	if d.OnStop != "keep" && d.OnStop != "clear" {
		r.at("director.on_stop", "%q is not keep or clear", d.OnStop)
	}
	return d
}

func orDefault(s, def string) string {
	if s == "" {
		return def
	}
	return s
}

func durOr(d *Duration, def time.Duration) time.Duration {
	if d == nil {
		return def
	}
	return time.Duration(*d)
}

func intOr(p *int, def int) int {
	if p == nil {
		return def
	}
	return *p
}

// relTo resolves a path written in the main file relative to that file.
func relTo(base, p string) string {
	if filepath.IsAbs(p) {
		return p
	}
	return filepath.Join(base, p)
}

// inRange checks a number against its documented range. A value out of
// range is refused like an unreadable one, so that the checks which read
// it (a lower threshold against the upper) do not add to the complaint.
func inRange(r reporter, path string, v, lo, hi int) bool {
	if v < lo || v > hi {
		if lo < 0 {
			r.refuse(path, "%d out of range %d..%d", v, lo, hi)
		} else {
			r.refuse(path, "%d out of range %d-%d", v, lo, hi)
		}
		return false
	}
	return true
}

// durRange checks a duration against its documented range.
func durRange(r reporter, path string, d, lo, hi time.Duration) {
	if d < lo || d > hi {
		r.refuse(path, "%s out of range %s-%s", shortDur(d), shortDur(lo), shortDur(hi))
	}
}

// shortDur writes a bound as docs/config.md does: 1h, not 1h0m0s.
func shortDur(d time.Duration) string {
	s := d.String()
	if strings.HasSuffix(s, "m0s") {
		s = strings.TrimSuffix(s, "0s")
	}
	if strings.HasSuffix(s, "h0m") {
		s = strings.TrimSuffix(s, "0m")
	}
	return s
}

// checkListen checks the status listener's addresses: host:port with a
// port from 1 to 65535, several separated by commas ("" disables it).
func checkListen(r reporter, list string) {
	for _, s := range strings.FieldsFunc(list, func(c rune) bool { return c == ',' || c == ' ' }) {
		_, port, err := net.SplitHostPort(s)
		if err != nil {
			r.at("http.listen", "%q is not host:port, e.g. 127.0.0.1:9180 (\"\" disables)", s)
			continue
		}
		if n, err := strconv.Atoi(port); err != nil || n < 1 || n > 65535 {
			r.at("http.listen", "port %q out of range 1-65535", port)
		}
	}
}

func idx(path string, i int) string { return fmt.Sprintf("%s[%d]", path, i) }
