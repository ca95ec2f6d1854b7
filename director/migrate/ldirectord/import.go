package ldirectord

import (
	"fmt"
	"strconv"

	"github.com/lvsd/lvsd/director/migrate"
)

// settings are the directives a virtual section inherits from the global
// ones, with ldirectord's defaults.
type settings struct {
	checkTimeout     *float64 // connect, external, ping
	negotiateTimeout *float64 // negotiate
	checkInterval    float64
	failureCount     int
	quiescent        bool
	fallback         *line
	fallback6        *line
}

// translator holds one import.
type translator struct {
	file     string
	res      migrate.Result
	global   settings
	fork     bool
	names    map[string]bool
	cleanSet bool
}

// Import reads the ldirectord configuration at path and translates it.
func Import(path string) (migrate.Result, error) {
	lines, err := parse(path)
	if err != nil {
		return migrate.Result{}, err
	}
	t := &translator{file: path, names: map[string]bool{},
		global: settings{checkInterval: 10, failureCount: 1, quiescent: true}}
	// fork decides whether a virtual's checkinterval counts, wherever it is.
	for _, l := range lines {
		if !l.indented && l.key == "fork" {
			t.fork = yes(l.value)
		}
	}
	var cur *virtual
	flush := func() {
		if cur != nil {
			t.virtual(cur)
			cur = nil
		}
	}
	for _, l := range lines {
		switch {
		case l.key == "virtual" || l.key == "virtual6":
			flush()
			cur = &virtual{head: l, settings: t.global, six: l.key == "virtual6"}
		case l.indented && cur != nil:
			t.virtualKey(cur, l)
		default:
			flush()
			t.globalKey(l)
		}
	}
	flush()
	if !t.cleanSet {
		// ldirectord's cleanstop defaults to yes: stopping it empties the
		// table. That is what it did; lvsd's own default keeps the table.
		t.res.Main.Director = &migrate.Director{OnStop: "clear"}
		t.res.Findings.Add(path, 1, "cleanstop", false, "not set: ldirectord removes its services when it stops",
			"director.on_stop: clear, as ldirectord did; keep lets a restart drop nothing")
	}
	t.res.Peer = append(t.res.Peer, "ldirectord leaves the virtual IPs to heartbeat or pacemaker: the imported configuration has no vrrp.instances, "+
		"so lvsd too leaves them to the cluster manager until vrrp.instances are added (then stop the manager's IP resources first)")
	return t.res, nil
}

func (t *translator) ok() { t.res.Translated++ }

func (t *translator) find(l line, traffic bool, why, instead string) {
	t.res.Findings.Add(t.file, l.no, l.key, traffic, why, instead)
}

func seconds(l line, t *translator) (float64, bool) {
	f, err := strconv.ParseFloat(unquote(l.value), 64)
	if err != nil || f <= 0 {
		t.find(l, true, fmt.Sprintf("%q is not a number of seconds", l.value), "left out")
		return 0, false
	}
	return f, true
}

// inherited handles the directives allowed both globally and in a virtual
// section; it reports whether l was one.
func (t *translator) inherited(s *settings, l line, inVirtual bool) bool {
	switch l.key {
	case "checktimeout", "negotiatetimeout", "checkinterval":
		f, ok := seconds(l, t)
		if !ok {
			return true
		}
		switch l.key {
		case "checktimeout":
			s.checkTimeout = &f
		case "negotiatetimeout":
			s.negotiateTimeout = &f
		default:
			if inVirtual && !t.fork {
				t.find(l, false, "ldirectord uses a virtual section's checkinterval only with fork = yes", "left out, as ldirectord ignores it")
				return true
			}
			s.checkInterval = f
		}
	case "failurecount":
		n, err := strconv.Atoi(unquote(l.value))
		if err != nil || n < 1 || n > 100 {
			t.find(l, true, fmt.Sprintf("%q is not a count of 1 to 100", l.value), "left out")
			return true
		}
		s.failureCount = n
	case "quiescent":
		s.quiescent = yes(l.value)
	case "fallback":
		s.fallback = &l
		return true // counted where it is used
	case "fallback6":
		s.fallback6 = &l
		return true
	case "checkcount":
		t.find(l, false, "deprecated in ldirectord; lvsd has no per-check repeat", "use failurecount (fall)")
		return true
	case "emailalert", "emailalertfreq", "emailalertstatus", "emailalertfrom", "smtp":
		t.find(l, false, "lvsd sends no email", "use notify.command or notify.webhook")
		return true
	case "fallbackcommand":
		t.find(l, false, "lvsd runs no command when every realserver is down", "notify.command hears every realserver change")
		return true
	case "cleanstop":
		if inVirtual {
			t.find(l, false, "lvsd's director.on_stop applies to every service", "the global setting is used")
			return true
		}
		t.cleanSet = true
		if yes(l.value) {
			t.res.Main.Director = &migrate.Director{OnStop: "clear"}
		}
	default:
		return false
	}
	t.ok()
	return true
}

func (t *translator) globalKey(l line) {
	if l.indented {
		t.find(l, false, "an indented directive before any virtual section", "read as a global directive")
	}
	if t.inherited(&t.global, l, false) {
		return
	}
	switch l.key {
	case "fork":
		t.ok()
	case "autoreload", "callback":
		t.find(l, false, "lvsd reloads on SIGHUP or lvsd reload, after validating", "reload after changing the files")
	case "logfile", "supervised":
		t.find(l, false, "lvsd logs to standard error (the journal under systemd)", "")
	case "readdquiescent":
		t.find(l, false, "lvsd puts a quiescent realserver back with weight 0 if it disappears (it reconciles)", "")
	case "maintenancedir":
		t.find(l, false, "lvsd has no maintenance directory", "use lvsd drain SERVICE REAL, kept across restarts")
	case "execute":
		t.find(l, true, "lvsd reads one configuration", "import that configuration as well and merge the service files")
	default:
		t.find(l, true, "not an ldirectord global directive", "left out")
	}
}

// interval and timeout give the check's timing: ldirectord sleeps
// checkinterval between rounds of checks, so a check may take longer than
// the interval; lvsd bounds a check by its interval, which is raised to
// the timeout in that case.
func (t *translator) timing(v *virtual, negotiate bool) (migrate.Duration, migrate.Duration) {
	timeout := 5.0
	first, second := v.checkTimeout, v.negotiateTimeout
	if negotiate {
		timeout, first, second = 30, v.negotiateTimeout, v.checkTimeout
	}
	if first != nil {
		timeout = *first
	} else if second != nil {
		timeout = *second
	}
	interval := v.checkInterval
	if timeout > interval {
		if t.once(fmt.Sprint("timing", interval, timeout)) {
			t.res.Findings.Add(t.file, v.head.no, "checkinterval", false,
				fmt.Sprintf("lvsd bounds a check by its interval, and the timeout %vs is longer than checkinterval %vs", timeout, interval),
				"interval raised to the timeout: a slow answer still counts, failures are seen later")
		}
		interval = timeout
	}
	return migrate.Seconds(interval), migrate.Seconds(timeout)
}

func (t *translator) once(key string) bool {
	if t.names["once "+key] {
		return false
	}
	t.names["once "+key] = true
	return true
}
