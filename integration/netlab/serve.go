package netlab

import (
	"io"
	"net"
	"time"
)

// Serve listens on TCP addr inside ns and hands each connection to handle
// on a goroutine of its own, closing the connection when handle returns.
// It serves from this process until stop is called or the lab closes.
// Stop is safe to call more than once.
func (l *Lab) Serve(ns, addr string, handle func(net.Conn)) (stop func(), err error) {
	var ln net.Listener
	if err := <-l.Go(ns, func() (err error) { ln, err = net.Listen("tcp", addr); return err }); err != nil {
		return nil, err
	}
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return // closed
			}
			go func() {
				defer c.Close()
				handle(c)
			}()
		}
	}()
	stop = func() { ln.Close() }
	l.onClose(stop)
	return stop, nil
}

// Echo serves line echo (whatever comes in goes back) on TCP addr in ns;
// see Serve.
func (l *Lab) Echo(ns, addr string) (stop func(), err error) {
	return l.Serve(ns, addr, func(c net.Conn) { _, _ = io.Copy(c, c) })
}

// Dial opens a TCP connection to addr from namespace ns, within timeout.
// The socket lives in ns; the connection can be used from any goroutine.
func (l *Lab) Dial(ns, addr string, timeout time.Duration) (net.Conn, error) {
	var c net.Conn
	err := <-l.Go(ns, func() (err error) {
		c, err = net.DialTimeout("tcp", addr, timeout)
		return err
	})
	return c, err
}
