package main

import (
	"context"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"time"

	"github.com/lvsd/lvsd/director/api"
	"github.com/lvsd/lvsd/integration/netlab"
)

const vip = "192.0.2.10:80"

// stage is the demo's lab: a client, directors a and b, app servers
// rs1-rs3, on a front segment (192.0.2.0/24) and a back one
// (198.51.100.0/24), with lvsd started from the example files.
type stage struct {
	nl       *netlab.Lab
	ns       map[string]string
	lvsd     string
	examples string
	proc     map[string]*netlab.Proc
	nginx    map[string]*netlab.Proc
	runs     int
	// effective, when an event's act sets it, is when the event really
	// happened (after its preparations).
	effective time.Time
}

func build(lvsd, examples string) (*stage, error) {
	dir, err := os.MkdirTemp("", "lvsd-demo")
	if err != nil {
		return nil, err
	}
	s := &stage{nl: netlab.New(dir), ns: map[string]string{}, lvsd: lvsd, examples: examples,
		proc: map[string]*netlab.Proc{}, nginx: map[string]*netlab.Proc{}}
	for _, name := range []string{"client", "a", "b", "rs1", "rs2", "rs3"} {
		if s.ns[name], err = s.nl.NS(name); err != nil {
			return s, err
		}
	}
	front := map[string]string{s.ns["client"]: "192.0.2.100/24", s.ns["a"]: "192.0.2.1/24", s.ns["b"]: "192.0.2.2/24"}
	back := map[string]string{s.ns["a"]: "198.51.100.2/24", s.ns["b"]: "198.51.100.3/24"}
	for i, rs := range []string{"rs1", "rs2", "rs3"} {
		back[s.ns[rs]] = fmt.Sprintf("198.51.100.%d/24", 11+i)
	}
	if _, err := s.nl.Switch("front", "e0", front); err != nil {
		return s, err
	}
	if _, err := s.nl.Switch("back", "e1", back); err != nil {
		return s, err
	}
	for _, rs := range []string{"rs1", "rs2", "rs3"} {
		if _, err := s.nl.In(s.ns[rs], "ip", "route", "add", "default", "via", "198.51.100.1"); err != nil {
			return s, err
		}
		if s.nginx[rs], err = s.nl.Nginx(s.ns[rs], rs, 8080, rs); err != nil {
			return s, err
		}
	}
	return s, nil
}

func (s *stage) close() {
	for _, p := range s.proc {
		_ = p.Signal(syscall.SIGTERM)
	}
	time.Sleep(500 * time.Millisecond)
	s.nl.Close()
	os.RemoveAll(s.nl.Dir)
}

func (s *stage) config(d string) string { return filepath.Join(s.examples, "director-"+d+".yaml") }

func (s *stage) socket(d string) string { return "/run/lvsd/director-" + d + ".sock" }

// startDirector runs lvsd for director d (a or b) from the example files.
func (s *stage) startDirector(d string) error {
	s.runs++
	p, err := s.nl.Start(s.ns[d], fmt.Sprintf("lvsd-%s-%d", d, s.runs), s.lvsd, "run", "-c", s.config(d))
	if err != nil {
		return err
	}
	s.proc[d] = p
	return s.until(20*time.Second, "lvsd "+d+" answering", func() bool { _, ok := s.status(d); return ok })
}

func (s *stage) status(d string) (api.Status, bool) {
	ctx, cancel := context.WithTimeout(context.Background(), time.Second)
	defer cancel()
	var st api.Status
	err := api.Call(ctx, s.socket(d), api.CmdStatus, nil, &st)
	return st, err == nil
}

// states describes both directors' instances, e.g. "A MASTER/MASTER, B BACKUP/BACKUP".
func (s *stage) states() string {
	var parts []string
	for _, d := range []string{"a", "b"} {
		st, ok := s.status(d)
		if !ok {
			parts = append(parts, strings.ToUpper(d)+" down")
			continue
		}
		var names []string
		for _, v := range st.VRRP {
			names = append(names, string(v.State))
		}
		parts = append(parts, strings.ToUpper(d)+" "+strings.Join(names, "/"))
	}
	return strings.Join(parts, ", ")
}

// settled reports whether exactly director d holds every instance and the
// other holds none: no split brain.
func (s *stage) settled(d string) bool {
	other := map[string]string{"a": "b", "b": "a"}[d]
	mine, ok := s.status(d)
	if !ok || len(mine.VRRP) == 0 || mine.Masters() != len(mine.VRRP) {
		return false
	}
	theirs, ok := s.status(other)
	return !ok || theirs.Masters() == 0
}

// master returns the director whose front instance is MASTER, or "".
func (s *stage) master() string {
	for _, d := range []string{"a", "b"} {
		if st, ok := s.status(d); ok && len(st.VRRP) > 0 && st.VRRP[0].State == api.StateMaster {
			return d
		}
	}
	return ""
}

// until polls cond every 20 ms (each poll asks both directors over their
// sockets: on the VM's one emulated CPU, finer would weigh on them).
func (s *stage) until(limit time.Duration, what string, cond func() bool) error {
	if _, ok := netlab.Poll(limit, 20*time.Millisecond, cond); !ok {
		return fmt.Errorf("timed out after %v waiting for %s", limit, what)
	}
	return nil
}

// inKernel reports whether real is in director d's IPVS table with weight.
func (s *stage) inKernel(d, real string) bool {
	st, ok := s.status(d)
	if !ok {
		return false
	}
	for _, svc := range st.IPVS.Services {
		for _, r := range svc.Reals {
			if r.Addr == real && r.Weight > 0 {
				return true
			}
		}
	}
	return false
}

// lvsctl runs an lvsd command against director d.
func (s *stage) lvsctl(d string, args ...string) (string, error) {
	out, err := exec.Command(s.lvsd, append(args, "-c", s.config(d))...).CombinedOutput()
	return strings.TrimSpace(string(out)), err
}

func (s *stage) logs(w io.Writer) {
	entries, _ := os.ReadDir(s.nl.Dir)
	for _, e := range entries {
		if strings.HasPrefix(e.Name(), "lvsd-") {
			fmt.Fprintf(w, "==== %s\n%s", e.Name(), s.nl.LogOf(strings.TrimSuffix(e.Name(), ".log")))
		}
	}
}
