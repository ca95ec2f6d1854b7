package netlab

import (
	"bufio"
	"fmt"
	"io"
	"net"
	"net/http"
	"strings"
	"time"

	"github.com/lvsd/lvsd/director/probe"
)

// HTTPGet makes one HTTP/1.0 GET over a new connection and returns the
// body. It dials on the calling goroutine, so from a function run by Go the
// connection starts in that namespace (http.Transport would dial on a
// goroutine of its own, on a thread in another namespace).
func HTTPGet(addr string, timeout time.Duration) (string, error) {
	c, err := net.DialTimeout("tcp", addr, timeout)
	if err != nil {
		return "", err
	}
	defer c.Close()
	_ = c.SetDeadline(time.Now().Add(timeout))
	if _, err := io.WriteString(c, "GET / HTTP/1.0\r\nHost: lab\r\n\r\n"); err != nil {
		return "", err
	}
	resp, err := http.ReadResponse(bufio.NewReader(c), nil)
	if err != nil {
		return "", err
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err == nil && resp.StatusCode != http.StatusOK {
		err = fmt.Errorf("status %d", resp.StatusCode)
	}
	return strings.TrimSpace(string(body)), err
}

// Probe starts requesting http://addr/ from ns every interval, each
// request bounded by timeout; see ProbeWith.
func (l *Lab) Probe(ns, addr string, interval, timeout time.Duration, workers int) *probe.Prober {
	return l.ProbeWith(ns, interval, workers, func() (string, error) { return HTTPGet(addr, timeout) })
}

// ProbeWith calls fn from ns every interval (see probe.Start); the workers
// run in ns, so the connections they open start there.
func (l *Lab) ProbeWith(ns string, interval time.Duration, workers int, fn func() (string, error)) *probe.Prober {
	return probe.Start(interval, workers, func(w func() error) <-chan error { return l.Go(ns, w) }, fn)
}

// ProbeEach calls fn from ns every interval, each call on a thread of its
// own in ns, at most limit in flight (see probe.StartEach): a stall shows
// as the failed or slow calls started during it.
func (l *Lab) ProbeEach(ns string, interval time.Duration, limit int, fn func() (string, error)) *probe.Prober {
	return probe.StartEach(interval, limit, func(w func() error) <-chan error { return l.Go(ns, w) }, fn)
}
