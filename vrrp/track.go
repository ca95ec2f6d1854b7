package vrrp

import (
	"context"
	"fmt"
	"os/exec"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/sirupsen/logrus"
)

// This file tracks interfaces and scripts and turns their state into a
// priority offset or a fault.

// linkState is a tracked interface's state as the link source saw it.
type linkState struct {
	name string
	up   bool
}

// linkSource reports the state of interfaces: on Linux, netlink.
type linkSource interface {
	// watch returns the current state of the named links (a missing link
	// is down) and then sends their changes to ch until done is closed.
	watch(names []string, ch chan<- linkState, done <-chan struct{}) (map[string]bool, error)
}

// trackItem is one tracked interface or script.
type trackItem struct {
	what   string // "interface eth1", "script check_nginx"
	weight int
	down   bool
	rf     *riseFall // scripts only
}

// tracks is the state of all tracked items of a Node.
type tracks struct {
	items map[string]*trackItem // by key: "if:NAME" or "script:NAME"
	keys  []string              // sorted, for stable fault lists
}

func newTracks(cfg InstanceConfig) *tracks {
	t := &tracks{items: map[string]*trackItem{}}
	add := func(key, what string, weight int, rf *riseFall) {
		t.items[key] = &trackItem{what: what, weight: weight, rf: rf}
	}
	// The node's own interface faults it (weight 0), as in keepalived,
	// unless the configuration tracks it with a weight.
	add("if:"+cfg.Interface, "interface "+cfg.Interface, 0, nil)
	for _, ti := range cfg.TrackInterfaces {
		add("if:"+ti.Name, "interface "+ti.Name, ti.Weight, nil)
	}
	for _, s := range cfg.TrackScripts {
		add("script:"+s.Name, "script "+s.Name, s.Weight, &riseFall{rise: s.Rise, fall: s.Fall, up: true})
	}
	for k := range t.items {
		t.keys = append(t.keys, k)
	}
	slices.Sort(t.keys)
	return t
}

// set records whether the item is down and reports whether that changed.
func (t *tracks) set(key string, down bool) bool {
	it, ok := t.items[key]
	if !ok || it.down == down {
		return false
	}
	it.down = down
	return true
}

// report returns the priority offset (the sum of the weights of the down
// items) and the faults (the down items of weight 0).
func (t *tracks) report() report {
	var r report
	for _, k := range t.keys {
		it := t.items[k]
		switch {
		case !it.down:
		case it.weight == 0:
			state := "down"
			if it.rf != nil {
				state = "failing"
			}
			r.faults = append(r.faults, it.what+" "+state)
		default:
			r.offset += it.weight
		}
	}
	return r
}

// riseFall debounces a script: Fall failures in a row take it down, Rise
// successes in a row bring it back.
type riseFall struct {
	rise, fall int
	run        int // results in a row that disagree with up
	up         bool
}

// observe records one result and reports whether the state changed.
func (r *riseFall) observe(ok bool) bool {
	if ok == r.up {
		r.run = 0
		return false
	}
	r.run++
	need := r.rise
	if !ok {
		need = r.fall
	}
	if r.run < need {
		return false
	}
	r.up, r.run = ok, 0
	return true
}

// effective returns the priority for a configured (or SetPriority) base
// and a tracking offset, clamped to 1..254, or 1..255 for the owner.
func effective(base uint8, offset int) uint8 {
	hi := 254
	if base == 255 {
		hi = 255
	}
	return uint8(min(max(int(base)+offset, 1), hi))
}

// startTracking reads the initial state of the tracked interfaces and
// scripts (running each script once), then watches them until bg closes.
func (n *Node) startTracking(bg <-chan struct{}, wg *sync.WaitGroup) error {
	var names []string
	for _, k := range n.tracks.keys {
		if name, ok := strings.CutPrefix(k, "if:"); ok {
			names = append(names, name)
		}
	}
	init, err := n.links.watch(names, n.linkCh, bg)
	if err != nil {
		return fmt.Errorf("track interfaces: %w", err)
	}
	for name, up := range init {
		n.tracks.set("if:"+name, !up)
	}
	first := make([]error, len(n.cfg.TrackScripts))
	var fw sync.WaitGroup
	for i, s := range n.cfg.TrackScripts {
		fw.Go(func() { first[i] = n.runScript(s) })
	}
	fw.Wait()
	for i, s := range n.cfg.TrackScripts {
		it := n.tracks.items["script:"+s.Name]
		it.rf.up = first[i] == nil
		it.down = !it.rf.up
		wg.Go(func() { n.scriptLoop(s, bg) })
	}
	return nil
}

// runScript runs a track script once, bounded by its Timeout.
func (n *Node) runScript(s TrackScript) error {
	ctx, cancel := context.WithTimeout(context.Background(), s.Timeout)
	defer cancel()
	run := n.runCmd
	if run == nil {
		run = execCmd
	}
	return run(ctx, s.Command)
}

// execCmd runs argv without a shell.
func execCmd(ctx context.Context, argv []string) error {
	cmd := exec.CommandContext(ctx, argv[0], argv[1:]...)
	cmd.WaitDelay = time.Second
	return cmd.Run()
}

// scriptLoop runs a track script every Interval and hands each result to
// the Node's goroutine.
func (n *Node) scriptLoop(s TrackScript, done <-chan struct{}) {
	for {
		select {
		case <-n.clock.After(s.Interval):
		case <-done:
			return
		}
		err := n.runScript(s)
		select {
		case n.events <- func() { n.onScript(s.Name, err) }:
		case <-done:
			return
		}
	}
}

// onScript applies one result of a track script.
func (n *Node) onScript(name string, err error) {
	it := n.tracks.items["script:"+name]
	if it == nil || !it.rf.observe(err == nil) {
		return
	}
	n.tracks.set("script:"+name, !it.rf.up)
	ok := it.rf.up
	n.logq.do(func(l *logrus.Entry) {
		l.WithField("script", name).WithField("ok", ok).WithError(err).Info("track script changed")
	})
	n.report(nil)
}

// onLink applies a change of a tracked interface.
func (n *Node) onLink(ls linkState) {
	if !n.tracks.set("if:"+ls.name, !ls.up) {
		return
	}
	n.logq.do(func(l *logrus.Entry) {
		l.WithField("interface", ls.name).WithField("up", ls.up).Info("tracked interface changed")
	})
	n.report(nil)
}
