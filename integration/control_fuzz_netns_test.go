//go:build integration && !ipvs

package integration

import (
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"net"
	"strings"
	"testing"
	"time"

	"github.com/lvsd/lvsd/director/api"
	"github.com/lvsd/lvsd/integration/netlab"
)

// TestControlSocketFuzz sends a running lvsd 400 random requests on its
// control socket (seeded; the seed is logged): garbage bytes, truncated
// JSON, every command with arguments of random keys, types and values,
// unknown commands. Each must get one well-formed answer (ok, or an
// error), the daemon must stay up and serve its VIP, and its goroutines
// and descriptors must come back to where they were.
func TestControlSocketFuzz(t *testing.T) {
	seed, _ := soakParams(t, 1)
	t.Logf("seed %d (LVSD_SOAK_SEED=%d replays)", seed, seed)
	r := rand.New(rand.NewPCG(seed, 1))
	s := newSoakLab(t, seed)
	s.l.Must(s.start("a"))
	if _, ok := netlab.Poll(10*time.Second, 10*time.Millisecond, func() bool { return lvsdState(s.sock["a"]) == "MASTER" }); !ok {
		t.Fatal("a never became master")
	}
	before, err := s.metrics("a")
	if err != nil {
		t.Fatal(err)
	}
	answered := map[bool]int{}
	for i := range 400 {
		req := randomRequest(r)
		resp, err := rawCall(s.sock["a"], req)
		if err != nil {
			t.Fatalf("request %d %q: %v\n%s", i, req, err, s.l.LogOf(s.proc["a"].Name))
		}
		if resp.OK == (resp.Error != "") {
			t.Fatalf("request %d %q: ok %v with error %q", i, req, resp.OK, resp.Error)
		}
		answered[resp.OK]++
	}
	t.Logf("400 requests: %d answered ok, %d with an error", answered[true], answered[false])
	select {
	case <-s.proc["a"].Exited():
		t.Fatalf("lvsd exited:\n%s", s.l.LogOf(s.proc["a"].Name))
	default:
	}
	// Give back what random drains and switchovers took, then it must
	// be master again on its own (it has no peer).
	_ = s.call("a", api.CmdSwitchover, api.SwitchoverArgs{Restore: true}, nil)
	if _, ok := netlab.Poll(10*time.Second, 10*time.Millisecond, func() bool { return lvsdState(s.sock["a"]) == "MASTER" }); !ok {
		t.Fatalf("a not master after the requests and a restore:\n%s", s.l.LogOf(s.proc["a"].Name))
	}
	var after procSample
	if _, ok := netlab.Poll(5*time.Second, 100*time.Millisecond, func() bool {
		after, err = s.metrics("a")
		return err == nil && after.Goroutines <= before.Goroutines+2 && after.FDs <= before.FDs+1
	}); !ok {
		t.Errorf("after 400 requests: goroutines %v -> %v, fds %v -> %v (%v)", before.Goroutines, after.Goroutines, before.FDs, after.FDs, err)
	}
}

// rawCall sends b as the whole request and reads one Response.
func rawCall(sock string, b []byte) (api.Response, error) {
	var resp api.Response
	c, err := net.DialTimeout("unix", sock, 2*time.Second)
	if err != nil {
		return resp, err
	}
	defer c.Close()
	_ = c.SetDeadline(time.Now().Add(10 * time.Second))
	if _, err := c.Write(b); err != nil {
		return resp, err
	}
	_ = c.(*net.UnixConn).CloseWrite()
	return resp, json.NewDecoder(c).Decode(&resp)
}

// randomRequest draws one request: a fifth garbage, the rest JSON.
func randomRequest(r *rand.Rand) []byte {
	if r.IntN(5) == 0 {
		b := make([]byte, r.IntN(200))
		for i := range b {
			b[i] = byte(r.IntN(256))
		}
		return b
	}
	cmds := append(append([]string{}, api.Commands...), "", "STATUS", "reboot", strings.Repeat("x", 5000))
	req := map[string]any{"cmd": cmds[r.IntN(len(cmds))]}
	if r.IntN(4) != 0 {
		args := map[string]any{}
		keys := []string{"service", "real", "drain", "instance", "restore", "zzz"}
		for range r.IntN(4) {
			args[keys[r.IntN(len(keys))]] = randomValue(r, 2)
		}
		req["args"] = args
		if r.IntN(6) == 0 {
			req["args"] = randomValue(r, 2)
		}
	}
	b, _ := json.Marshal(req)
	if r.IntN(6) == 0 { // truncated
		b = b[:r.IntN(len(b)+1)]
	}
	return b
}

func randomValue(r *rand.Rand, depth int) any {
	switch r.IntN(7) {
	case 0:
		return r.IntN(2) == 0
	case 1:
		return r.NormFloat64() * 1e6
	case 2:
		return []string{"echo", soakReals["rs1"] + ":7000", "front", "", "192.0.2.999:1", "\x00"}[r.IntN(6)]
	case 3:
		if depth > 0 {
			return []any{randomValue(r, depth-1), randomValue(r, depth-1)}
		}
	case 4:
		if depth > 0 {
			return map[string]any{fmt.Sprint(r.IntN(9)): randomValue(r, depth-1)}
		}
	}
	return nil
}
