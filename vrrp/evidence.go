package vrrp

import (
	"time"

	"github.com/sirupsen/logrus"
)

// A backup that takes over from a master that is still alive (a false
// transition: the master's adverts were sent but did not reach the
// Machine in time) must say where they were. takeoverEvidence is taken
// when the Master_Down_Timer fires, before the takeover, and logged with
// the state change: how late the timer fired, how long ago the loop and
// the LAN's reader last had an advert, and whether one was waiting in the
// socket unread.
type takeoverEvidence struct {
	at, due  time.Time
	heard    time.Time // the loop's last advert from the LAN (lanLast)
	read     time.Time // the LAN reader's last accepted advert
	queued   int       // bytes waiting in the LAN socket; -1: unknown
	captured bool
}

// queuedConn is a Conn that can say how much is waiting in its receive
// queue (SIOCINQ): rawConn on Linux.
type queuedConn interface{ queued() int }

// captureEvidence records the evidence of a Master_Down_Timer firing at
// now, due at due. It runs only when a backup's timer fires, not on the
// advert path.
func (n *Node) captureEvidence(now, due time.Time) {
	e := takeoverEvidence{at: now, due: due, heard: n.lanLast, queued: -1, captured: true}
	if ns := n.paths[0].readAt.Load(); ns != 0 {
		e.read = time.Unix(0, ns)
	}
	if q, ok := n.paths[0].conn.(queuedConn); ok {
		e.queued = q.queued()
	}
	n.ev = e
}

// fields returns the evidence as log fields, durations in milliseconds
// before the timer fired; none when nothing was captured.
func (e takeoverEvidence) fields(f logrus.Fields) {
	if !e.captured {
		return
	}
	ago := func(t time.Time) any {
		if t.IsZero() {
			return "never"
		}
		return e.at.Sub(t).Round(10 * time.Microsecond).String()
	}
	f["timer_late"] = e.at.Sub(e.due).Round(10 * time.Microsecond).String()
	f["heard_ago"] = ago(e.heard)
	f["read_ago"] = ago(e.read)
	if e.queued >= 0 {
		f["queued_bytes"] = e.queued
	}
}
