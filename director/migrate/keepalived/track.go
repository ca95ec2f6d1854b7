package keepalived

import (
	"strconv"
	"strings"
	"time"

	"github.com/lvsd/lvsd/director/migrate"
	"github.com/lvsd/lvsd/director/migrate/kaconf"
)

// track is one entry of track_interface or track_script.
type track struct {
	node      *kaconf.Node
	kind      string // interface or script
	weight    int
	weightSet bool
	reverse   bool
	ok        bool
}

// parseTrack reads "NAME [weight W [reverse|noreverse|no_reverse]]".
func (t *translator) parseTrack(x *kaconf.Node, kind string) track {
	tr := track{node: x, kind: kind, ok: true}
	for i := 0; i < len(x.Args); i++ {
		switch x.Args[i] {
		case "weight":
			w, err := strconv.Atoi(arg(x, i+1))
			if err != nil || w < -254 || w > 254 {
				t.dropf(x, true, "left out, as keepalived does", "weight %q is not in -254..254", arg(x, i+1))
				tr.ok = false
				return tr
			}
			tr.weight, tr.weightSet = w, true
			i++
		case "reverse":
			tr.reverse = true
		case "noreverse", "no_reverse":
			tr.reverse = false
		default:
			t.dropf(x, true, "left out", "unexpected %q", x.Args[i])
			tr.ok = false
			return tr
		}
	}
	return tr
}

// resolveTracks turns keepalived's tracking into lvsd's. keepalived adds a
// positive weight to the priority while the object is up and a negative
// one while it is down (the other way round with reverse); lvsd adds a
// weight only while the object is down. So the configured priority takes
// every "while up" part, and lvsd's weight is the difference down - up:
// the effective priority is then the same in every state, and both clamp
// it to 1..254 the same way.
func (t *translator) resolveTracks(in *migrate.Instance, st *instanceState) {
	owner := st.priority == 255
	shift := 0
	for _, tr := range st.tracks {
		if !tr.ok {
			continue
		}
		x := tr.node
		var script *migrate.TrackScript
		if tr.kind == "script" {
			s, w, ok := t.script(x)
			if !ok {
				if !t.handled[x] {
					t.drop(x, true, "its vrrp_script was left out", "not tracked")
				}
				continue
			}
			script = &s
			if !tr.weightSet {
				tr.weight, tr.reverse = w.weight, w.reverse
			}
		}
		up, down := 0, 0
		switch {
		case tr.weight == 0 && tr.reverse:
			t.drop(x, true, "weight 0 reverse (fault while the object is up) is not expressible", "left out")
			continue
		case tr.weight != 0 && owner:
			t.drop(x, false, "keepalived does not change the priority of the address owner (255)", "left out, as keepalived ignores it")
			continue
		case tr.weight > 0 && !tr.reverse:
			up = tr.weight
		case tr.weight < 0 && !tr.reverse:
			down = tr.weight
		case tr.weight > 0:
			up = -tr.weight
		default:
			down = -tr.weight
		}
		shift += up
		if in.Track == nil {
			in.Track = &migrate.Track{}
		}
		if script != nil {
			script.Weight = down - up
			in.Track.Scripts = append(in.Track.Scripts, *script)
		} else {
			in.Track.Interfaces = append(in.Track.Interfaces, migrate.TrackInterface{Name: x.Keyword, Weight: down - up})
		}
		t.ok(x)
	}
	p := st.priority + shift
	if shift != 0 {
		t.res.Findings.Add(st.node.File, st.node.Line, "priority", false,
			"keepalived adds positive track weights while the object is up, lvsd adds weights while it is down",
			"priority "+strconv.Itoa(st.priority)+" plus the weights of everything up is configured as "+strconv.Itoa(min(max(p, 1), 254))+", so the effective priority is the same in every state")
	}
	if p > 254 || p < 1 {
		t.res.Findings.Add(st.node.File, st.node.Line, "priority", true,
			"the priority with every tracked object up ("+strconv.Itoa(p)+") is outside 1..254", "clamped; the weights no longer add up as in keepalived")
		p = min(max(p, 1), 254)
	}
	if !owner {
		in.Priority = p
	}
}

// scriptWeight is a vrrp_script's own weight.
type scriptWeight struct {
	weight  int
	reverse bool
}

// script translates the vrrp_script named by a track_script entry.
func (t *translator) script(x *kaconf.Node) (migrate.TrackScript, scriptWeight, bool) {
	if c, ok := t.scriptCache[x.Keyword]; ok {
		return c.s, c.w, c.ok
	}
	s, w, ok := t.translateScript(x)
	t.scriptCache[x.Keyword] = scriptResult{s, w, ok}
	return s, w, ok
}

type scriptResult struct {
	s  migrate.TrackScript
	w  scriptWeight
	ok bool
}

func (t *translator) translateScript(x *kaconf.Node) (migrate.TrackScript, scriptWeight, bool) {
	n := t.scripts[x.Keyword]
	if n == nil {
		t.drop(x, true, "no vrrp_script is named "+x.Keyword, "left out; keepalived ignores it too")
		return migrate.TrackScript{}, scriptWeight{}, false
	}
	s := migrate.TrackScript{Name: x.Keyword, Interval: migrate.Duration(time.Second), Rise: 1, Fall: 1}
	var w scriptWeight
	var timeout *kaconf.Node
	t.ok(n)
	for _, c := range n.Block {
		switch c.Keyword {
		case "script":
			cmd, ok := command(c)
			if !ok {
				t.drop(c, true, "the command line has an unmatched quote", "left out")
				continue
			}
			s.Command = cmd
		case "interval":
			d, ok := t.secondsArg(c, 0)
			if !ok {
				continue
			}
			s.Interval = max(d, migrate.Duration(10*time.Millisecond))
		case "timeout":
			d, ok := t.secondsArg(c, 0)
			if !ok {
				continue
			}
			s.Timeout, timeout = d, c
		case "weight":
			tr := t.parseTrack(&kaconf.Node{Keyword: c.Keyword, Args: append([]string{"weight"}, c.Args...), File: c.File, Line: c.Line}, "script")
			if !tr.ok {
				t.handled[c] = true
				continue
			}
			w = scriptWeight{tr.weight, tr.reverse}
		case "rise", "fall":
			v, ok := t.intArg(c, 0, 1, 100)
			if !ok {
				continue
			}
			if c.Keyword == "rise" {
				s.Rise = v
			} else {
				s.Fall = v
			}
		case "user", "init_fail":
			t.drop(c, false, "lvsd runs track scripts as itself, starting as passed", "")
			continue
		default:
			t.unknown(c, "vrrp_script")
			continue
		}
		t.ok(c)
	}
	if len(s.Command) == 0 {
		t.drop(n, true, "vrrp_script "+x.Keyword+" has no script", "left out")
		return s, w, false
	}
	if s.Timeout == 0 {
		s.Timeout = s.Interval
	}
	if s.Timeout > s.Interval {
		t.res.Findings.Add(timeout.File, timeout.Line, "timeout", false,
			"lvsd bounds a track script's run by its interval, and the timeout is longer",
			"interval raised to "+time.Duration(s.Timeout).String()+": a slow run still passes, failures are seen later")
		s.Interval = s.Timeout
	}
	return s, w, true
}

// command reads a script directive ("script", "misc_path", "notify") as
// keepalived does: the quoted, escaped first argument split into words.
// keepalived executes the words directly when the program exists and
// through the shell otherwise; lvsd never uses a shell by itself, so a
// command with shell syntax is given to /bin/sh -c.
func command(n *kaconf.Node) ([]string, bool) {
	words, ok := kaconf.QuotedWords(n.Text)
	if !ok || len(words) < 2 {
		return nil, false
	}
	line := words[1]
	argv, ok := kaconf.QuotedWords(line)
	if !ok || len(argv) == 0 {
		return nil, false
	}
	if strings.ContainsAny(line, "<>|&;`$(){}*?~\n") || !strings.HasPrefix(argv[0], "/") && strings.ContainsAny(argv[0], "=") {
		return []string{"/bin/sh", "-c", line}, true
	}
	return argv, true
}
