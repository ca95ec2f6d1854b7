//go:build integration

package integration

import (
	"io"
	"net"
	"time"

	"github.com/lvsd/lvsd/integration/netlab"
)

// soakMetrics reads the process figures of the lvsd in namespace ns from
// its /metrics (127.0.0.1:9180, as both layers configure it), the
// exchange within deadline once connected.
func soakMetrics(l *netlab.T, ns string, deadline time.Duration) (procSample, error) {
	var page string
	err := <-l.Lab.Go(ns, func() error {
		c, err := net.DialTimeout("tcp", "127.0.0.1:9180", time.Second)
		if err != nil {
			return err
		}
		defer c.Close()
		_ = c.SetDeadline(time.Now().Add(deadline))
		if _, err := io.WriteString(c, "GET /metrics HTTP/1.0\r\n\r\n"); err != nil {
			return err
		}
		b, err := io.ReadAll(c)
		page = string(b)
		return err
	})
	if err != nil {
		return procSample{}, err
	}
	return parseMetrics(page)
}
