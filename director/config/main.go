package config

import (
	"fmt"
	"net/url"
	"path/filepath"
	"time"

	"gopkg.in/yaml.v3"
)

// Defaults of the main file, documented in docs/config.md.
const (
	DefaultControlSocket = "/run/lvsd/lvsd.sock"
	DefaultHTTPListen    = "127.0.0.1:9180"
	DefaultServicesDir   = "services.d"
)

// loadMain loads the main file. When the file decodes but has type errors,
// it still returns a Config carrying the services directory (and false), so
// that the service files are checked in the same run.
func loadMain(path string, host Host, errs *Errors) (*Config, bool) {
	var raw rawMain
	p, ok := decodeFile(path, &raw, errs)
	if !ok {
		if p.root == nil || p.root.Kind != yaml.MappingNode {
			return nil, false
		}
		dir := relTo(filepath.Dir(path), orDefault(raw.ServicesDir, DefaultServicesDir))
		return &Config{MainFile: path, ServicesDir: dir, servicesDirLine: p.rep.pos.line("services_dir")}, false
	}
	r := p.rep
	cfg := &Config{
		MainFile: path, Node: raw.Node, LogLevel: raw.Log.Level, LogFormat: raw.Log.Format,
		ControlSocket: raw.Control.Socket, ServicesDir: raw.ServicesDir,
		mainPos: r.pos, servicesDirLine: r.pos.line("services_dir"),
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
	}
	cfg.Instances = resolveInstances(raw.VRRP.Instances, host, r, &cfg.Warnings)
	cfg.Groups = resolveGroups(raw.VRRP.Groups, cfg.Instances, r)
	cfg.Sync = resolveSync(raw.Sync, r)
	cfg.Notify = resolveNotify(raw.Notify, r)
	cfg.Director = resolveDirector(raw.Director, r)
	return cfg, true
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
	if s.HoldResets < 0 || s.HoldResets > time.Minute {
		r.at("sync.hold_resets", "%v out of range 0-1m: it bounds how long a client waits for a connection the peer never sent", s.HoldResets)
	}
	if s.Interface == "" {
		r.at("sync.interface", "required: the interface the sync daemon sends and listens on")
	}
	if raw.SyncID != nil {
		if *raw.SyncID < 0 || *raw.SyncID > 255 {
			r.at("sync.sync_id", "%d out of range 0-255", *raw.SyncID)
		}
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
	if n.Timeout <= 0 {
		r.at("notify.timeout", "must be greater than zero")
	}
	return n
}

func resolveDirector(raw rawDirector, r reporter) Director {
	d := Director{
		ReconcileInterval: durOr(raw.ReconcileInterval, 30*time.Second),
		OnStop:            orDefault(raw.OnStop, "keep"),
		LoadModule:        raw.LoadModule, SetSysctls: raw.SetSysctls,
	}
	if d.ReconcileInterval < time.Second {
		r.at("director.reconcile_interval", "%v is below the 1s minimum", d.ReconcileInterval)
	}
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

func inRange(r reporter, path string, v, lo, hi int) bool {
	if v < lo || v > hi {
		r.at(path, "%d out of range %d-%d", v, lo, hi)
		return false
	}
	return true
}

func idx(path string, i int) string { return fmt.Sprintf("%s[%d]", path, i) }
