package main

import (
	"errors"
	"fmt"
	"io"
	"strings"
	"syscall"
	"time"

	"github.com/lvsd/lvsd/integration/netlab"
)

// step is one thing that happens to the pair and what came of it.
type step struct {
	what   string
	at     time.Time
	took   time.Duration // until the wanted state was reached
	result string
	after  string // both directors' instance states then
}

// demo builds the stage, runs the scenario with a client probing the VIP
// every 10 ms, and writes the report to w.
func demo(lvsd, examples string, w io.Writer) (err error) {
	fmt.Fprintln(w, "Building the pair: client, directors A and B, app servers rs1-rs3, in network namespaces...")
	s, err := build(lvsd, examples)
	defer func() {
		if err != nil && s != nil {
			s.logs(w)
		}
		if s != nil {
			s.close()
		}
	}()
	if err != nil {
		return err
	}
	for _, d := range []string{"a", "b"} {
		if err := s.startDirector(d); err != nil {
			return err
		}
	}
	if err := s.until(20*time.Second, "A master and B backup on both instances", func() bool { return s.settled("a") }); err != nil {
		return fmt.Errorf("%w (%s)", err, s.states())
	}
	begin := time.Now()
	probe := s.nl.ProbeEach(s.ns["client"], 10*time.Millisecond, 400, func() (string, error) {
		body, err := netlab.HTTPGet(vip, probeTimeout)
		if err != nil {
			return err.Error(), err // a failure's body says why, for the report
		}
		return body, nil
	})
	time.Sleep(2 * time.Second)
	steps, err := s.scenario()
	time.Sleep(time.Second)
	samples, perr := probe.Stop()
	if err != nil {
		return err
	}
	if perr != nil {
		return perr
	}
	report(w, begin, steps, samples)
	return nil
}

// A request fails on an error or after probeTimeout, longer than one TCP
// retransmission (data 200 ms, SYN 1 s) and shorter than a browser waits;
// one slower than slowRequest is reported as slow.
const (
	probeTimeout = 2 * time.Second
	slowRequest  = 300 * time.Millisecond
)

// scenario makes each event happen and waits (bounded) for its effect.
func (s *stage) scenario() ([]step, error) {
	type event struct {
		what string
		act  func() error
		want func() bool
		done string
	}
	rs2 := "198.51.100.12:8080"
	events := []event{
		{"director A dies (lvsd killed, both links down)", s.killA, func() bool { return s.master() == "b" }, "B is master"},
		{"director A comes back (preempt_delay 2s)", s.reviveA, func() bool { return s.master() == "a" }, "A is master again"},
		{"app server rs2 stops", func() error { s.nginx["rs2"].Kill(); return nil },
			func() bool { return !s.inKernel("a", rs2) }, "rs2 out of the IPVS table"},
		{"lvsd switchover on A (planned)", func() error { return s.ctl("a", "switchover") },
			func() bool { return s.master() == "b" }, "B is master"},
		{"lvsd switchover on B (planned, back to A)", func() error { return s.ctl("b", "switchover") },
			func() bool { return s.master() == "a" }, "A is master again"},
		{"lvsd switchover --restore on A and B", func() error {
			return errors.Join(s.ctl("a", "switchover", "--restore"), s.ctl("b", "switchover", "--restore"))
		}, func() bool { return s.master() == "a" }, "priorities back, A stays"},
		{"app server rs2 starts again", s.restartRS2, func() bool { return s.inKernel("a", rs2) }, "rs2 back in the table"},
	}
	var steps []step
	for _, e := range events {
		st := step{what: e.what, at: time.Now()}
		s.effective = time.Time{}
		if err := e.act(); err != nil {
			return steps, fmt.Errorf("%s: %w", e.what, err)
		}
		if !s.effective.IsZero() {
			st.at = s.effective // the act's own moment of effect
		}
		if err := s.until(30*time.Second, e.done, e.want); err != nil {
			return steps, fmt.Errorf("%s: %w", e.what, err)
		}
		st.took, st.result, st.after = time.Since(st.at), e.done, s.states()
		steps = append(steps, st)
		time.Sleep(2 * time.Second) // let the client see the aftermath
	}
	return steps, nil
}

// killA is what a crash of the director machine looks like to the rest:
// lvsd freezes (a live lvsd that loses one link tells the peer over the
// other and hands over in ~0.1 s, which a dead machine cannot), the links
// go (the front one first: the moment clients lose A), lvsd is killed.
// Killing lvsd alone would not do: the kernel's IPVS and the VIPs go on
// serving without it.
func (s *stage) killA() error {
	if err := s.proc["a"].Signal(syscall.SIGSTOP); err != nil {
		return err
	}
	if _, err := s.nl.In(s.ns["a"], "ip", "link", "set", "e0", "down"); err != nil {
		return err
	}
	s.effective = time.Now()
	if _, err := s.nl.In(s.ns["a"], "ip", "link", "set", "e1", "down"); err != nil {
		return err
	}
	return s.proc["a"].Signal(syscall.SIGKILL)
}

func (s *stage) reviveA() error {
	for _, ifc := range []string{"e0", "e1"} {
		if _, err := s.nl.In(s.ns["a"], "ip", "link", "set", ifc, "up"); err != nil {
			return err
		}
	}
	return s.startDirector("a")
}

func (s *stage) restartRS2() error {
	cmd, err := s.nl.Nginx(s.ns["rs2"], "rs2-again", 8080, "rs2")
	s.nginx["rs2"] = cmd
	return err
}

func (s *stage) ctl(d string, args ...string) error {
	out, err := s.lvsctl(d, args...)
	if err != nil {
		return fmt.Errorf("lvsd %s: %v: %s", strings.Join(args, " "), err, out)
	}
	return nil
}
