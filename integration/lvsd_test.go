//go:build integration

package integration

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/lvsd/lvsd/director/api"
	"github.com/lvsd/lvsd/integration/netlab"
)

// lvsdBinary is the lvsd binary under test, built before the run (make
// netns and make vm pass LVSD_BIN); without it tb ends (netlab.SkipOrFail).
func lvsdBinary(tb testing.TB) string {
	tb.Helper()
	p := os.Getenv("LVSD_BIN")
	if p == "" {
		p, _ = filepath.Abs("../.build/lvsd")
	}
	if _, err := os.Stat(p); err != nil {
		netlab.SkipOrFail(tb, "lvsd binary not built: "+p+" (CGO_ENABLED=0 go build -o .build/lvsd ./cmd/lvsd)")
	}
	return p
}

// lvsdState returns the state of the first VRRP instance of the lvsd
// answering on sock, or "?" when it does not answer.
func lvsdState(sock string) string {
	ctx, cancel := context.WithTimeout(context.Background(), time.Second)
	defer cancel()
	var s api.Status
	if err := api.Call(ctx, sock, "status", nil, &s); err != nil || len(s.VRRP) == 0 {
		return "?"
	}
	return string(s.VRRP[0].State)
}

// waitUp waits until lvsd answers on sock and has reconciled once.
func waitUp(tb testing.TB, sock string) {
	tb.Helper()
	waitStatus(tb, sock, func(s api.Status) bool { return s.Generation >= 1 && !s.IPVS.At.IsZero() })
}

// waitStatus waits (at most 15 s) until the status of the lvsd on sock
// satisfies cond, and returns it.
func waitStatus(tb testing.TB, sock string, cond func(api.Status) bool) api.Status {
	tb.Helper()
	var s api.Status
	for end := time.Now().Add(15 * time.Second); time.Now().Before(end); time.Sleep(20 * time.Millisecond) {
		ctx, cancel := context.WithTimeout(context.Background(), time.Second)
		err := api.Call(ctx, sock, "status", nil, &s)
		cancel()
		if err == nil && cond(s) {
			return s
		}
	}
	tb.Fatalf("lvsd status never reached the wanted state; last %+v", s)
	return s
}

// echoWithin makes one new connection to addr and echoes one line, all
// within timeout.
func echoWithin(addr string, timeout time.Duration) error {
	c, err := net.DialTimeout("tcp", addr, timeout)
	if err != nil {
		return err
	}
	defer c.Close()
	_ = c.SetDeadline(time.Now().Add(timeout))
	if _, err := c.Write([]byte("x\n")); err != nil {
		return err
	}
	b := make([]byte, 2)
	_, err = io.ReadFull(c, b)
	return err
}

// roundTrip echoes msg over an open connection within 3 s.
func roundTrip(c net.Conn, r *bufio.Reader, msg string) error {
	_ = c.SetDeadline(time.Now().Add(3 * time.Second))
	if _, err := fmt.Fprintln(c, msg); err != nil {
		return err
	}
	line, err := r.ReadString('\n')
	if err != nil {
		return err
	}
	if strings.TrimSpace(line) != msg {
		return fmt.Errorf("echo %q, want %q", line, msg)
	}
	return nil
}
