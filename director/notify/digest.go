package notify

import (
	"cmp"
	"fmt"
	"slices"
	"strings"
	"time"
)

// maxListed bounds the changes a mail lists one by one; beyond them it
// counts. maxLatest bounds the instances and realservers whose last
// state it reports (a configuration has far fewer).
const (
	maxListed = 50
	maxLatest = 1000
)

// digest is the changes waiting for one mail: the first maxListed in
// order, how many more, and the last state of each instance and
// realserver, which is what an operator reading a summary of a flapping
// farm needs.
type digest struct {
	since       time.Time // when the first change was queued
	node        string
	listed      []Event
	more        int
	vrrp, reals int
	latest      map[string]Event
	order       []string // keys of latest, by first appearance
}

func newDigest(since time.Time) *digest {
	return &digest{since: since, latest: map[string]Event{}}
}

func (e Event) key() string {
	if e.Kind == "vrrp" {
		return "vrrp " + e.Instance
	}
	return "realserver " + e.Service + " " + e.Real
}

func (d *digest) add(e Event) {
	if e.Node != "" {
		d.node = e.Node
	}
	if e.Kind == "vrrp" {
		d.vrrp++
	} else {
		d.reals++
	}
	if len(d.listed) < maxListed {
		d.listed = append(d.listed, e)
	} else {
		d.more++
	}
	k := e.key()
	if _, seen := d.latest[k]; !seen {
		if len(d.order) >= maxLatest {
			return
		}
		d.order = append(d.order, k)
	}
	d.latest[k] = e
}

// absorb appends later's changes to d's: a mail that could not be sent
// goes out with the next one.
func (d *digest) absorb(later *digest) {
	if later == nil {
		return
	}
	if later.node != "" {
		d.node = later.node
	}
	d.vrrp += later.vrrp
	d.reals += later.reals
	for _, e := range later.listed {
		if len(d.listed) < maxListed {
			d.listed = append(d.listed, e)
		} else {
			d.more++
		}
	}
	d.more += later.more
	for _, k := range later.order {
		if _, seen := d.latest[k]; !seen {
			if len(d.order) >= maxLatest {
				continue
			}
			d.order = append(d.order, k)
		}
		d.latest[k] = later.latest[k]
	}
}

func (d *digest) count() int { return d.vrrp + d.reals }

// subject names the change when there is one, and counts them otherwise.
func (d *digest) subject(prefix string) string {
	var s string
	if d.count() == 1 {
		s = d.listed[0].line()
	} else {
		var parts []string
		if d.vrrp > 0 {
			parts = append(parts, plural(d.vrrp, "VRRP transition"))
		}
		if d.reals > 0 {
			parts = append(parts, plural(d.reals, "realserver change"))
		}
		s = strings.Join(parts, ", ")
	}
	if d.node != "" {
		s = d.node + ": " + s
	}
	if prefix != "" {
		s = prefix + " " + s
	}
	return s
}

// body lists the last state of everything that changed, then the
// changes in order.
func (d *digest) body() string {
	var b strings.Builder
	first, last := d.listed[0].At.UTC().Format(time.RFC3339), d.listed[len(d.listed)-1].At.UTC().Format(time.RFC3339)
	span := "at " + first
	if last != first {
		span = "from " + first + " to " + last
	}
	fmt.Fprintf(&b, "lvsd on %s: %s %s.\n\nNow:\n", orDash(d.node), plural(d.count(), "change"), span)
	// VRRP instances first, then realservers, each in name order.
	keys := slices.Clone(d.order)
	slices.SortFunc(keys, func(x, y string) int {
		return cmp.Or(cmp.Compare(d.latest[y].Kind, d.latest[x].Kind), strings.Compare(x, y))
	})
	for _, k := range keys {
		e := d.latest[k]
		fmt.Fprintf(&b, "  %s\n", e.state())
	}
	b.WriteString("\nChanges:\n")
	for _, e := range d.listed {
		fmt.Fprintf(&b, "  %s  %s\n", e.At.UTC().Format("15:04:05.000"), e.line())
	}
	if d.more > 0 {
		fmt.Fprintf(&b, "  ... and %d more (the daemon's log has them all)\n", d.more)
	}
	return b.String()
}

// line is one change: "vrrp front BACKUP -> MASTER (priority 150): master
// down interval expired" or "realserver web 198.51.100.11:8080 down: ...".
func (e Event) line() string {
	var s string
	if e.Kind == "vrrp" {
		s = "vrrp " + e.Instance + " "
		if e.From != "" {
			s += e.From + " -> "
		}
		s += fmt.Sprintf("%s (priority %d)", e.State, e.Priority)
	} else {
		s = "realserver " + e.Service + " " + e.Real + " " + e.State
	}
	if e.Reason != "" {
		s += ": " + e.Reason
	}
	return s
}

// state is the last state of an instance or realserver.
func (e Event) state() string {
	if e.Kind == "vrrp" {
		return fmt.Sprintf("vrrp %s (VRID %d): %s, priority %d", e.Instance, e.VRID, e.State, e.Priority)
	}
	return "realserver " + e.Service + " " + e.Real + ": " + e.State
}

func plural(n int, what string) string {
	if n == 1 {
		return "1 " + what
	}
	return fmt.Sprintf("%d %ss", n, what)
}

func orDash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}
