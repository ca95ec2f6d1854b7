//go:build linux

package vrrp

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/netip"
	"syscall"

	"golang.org/x/net/bpf"
	"golang.org/x/net/ipv4"
	"golang.org/x/net/ipv6"
	"golang.org/x/sys/unix"
)

// rawConn is the Linux Conn: raw IP sockets for protocol 112. One socket,
// bound to the interface (SO_BINDTODEVICE), receives; it joins 224.0.0.18
// or ff02::12 in multicast mode. The same socket sends, except with a
// virtual MAC, where a second socket bound to the macvlan sends, so that
// the frames carry the virtual router MAC (RFC 5798 §7.3), while adverts
// are still received on the interface, where unicast peers send them.
//
// Reads use recvmsg directly rather than golang.org/x/net's ReadFrom,
// whose IPv6 source parsing looks the zone up by interface index in the
// calling thread's network namespace, which need not be the node's.
//
// Writes use sendmsg directly too, with everything but the message and
// the destination built once (write): an advert is sent every interval,
// down to 10 ms, and the send path allocates nothing.
type rawConn struct {
	src     netip.Addr
	v4      bool
	rc      syscall.RawConn // of the receiving socket
	fd      int             // the receiving socket, for TryReadFrom
	oob     []byte
	send4   *ipv4.PacketConn
	send6   *ipv6.PacketConn
	closers []io.Closer
	w       rawWrite
}

// rawWrite is what WriteTo hands the sending socket's RawConn.Write:
// its function, made once, reads the message and destination from here.
// Only the Node's loop writes, so one is enough.
type rawWrite struct {
	rc  syscall.RawConn // of the sending socket
	fn  func(fd uintptr) bool
	oob []byte // IP_PKTINFO / IPV6_PKTINFO naming src, and the hop limit
	b   []byte
	to  unix.Sockaddr
	sa4 unix.SockaddrInet4
	sa6 unix.SockaddrInet6
	err error
}

const (
	cflags4 = ipv4.FlagTTL | ipv4.FlagDst | ipv4.FlagInterface
	cflags6 = ipv6.FlagHopLimit | ipv6.FlagDst | ipv6.FlagInterface
)

// newRawConn opens the sockets; it must run in the node's namespace.
// base is the interface, out the one to send from (base or the macvlan).
func newRawConn(base, out *net.Interface, src netip.Addr, multicast bool) (c *rawConn, err error) {
	c = &rawConn{src: src, v4: src.Is4()}
	defer func() {
		if err != nil {
			c.Close()
		}
	}()
	recv, err := listenRaw(c.v4, base.Name, false)
	if err != nil {
		return nil, err
	}
	c.closers = append(c.closers, recv)
	if c.rc, err = recv.SyscallConn(); err != nil {
		return nil, err
	}
	c.fd = c.recvFD()
	send := recv
	if out.Index != base.Index {
		if send, err = listenRaw(c.v4, out.Name, true); err != nil {
			return nil, err
		}
		c.closers = append(c.closers, send)
	}
	if c.v4 {
		err = c.setup4(recv, send, base, out, multicast)
	} else {
		err = c.setup6(recv, send, base, out, multicast)
	}
	if err != nil {
		return c, err
	}
	return c, c.setupWrite(send)
}

// setupWrite prepares WriteTo: the control message that sets the source
// address (and, for IPv6, the hop limit of 255 RFC 5798 §5.1.2.3 asks)
// as golang.org/x/net built it for every write before.
func (c *rawConn) setupWrite(send *net.IPConn) (err error) {
	if c.w.rc, err = send.SyscallConn(); err != nil {
		return err
	}
	if c.v4 {
		c.w.oob = (&ipv4.ControlMessage{Src: c.src.AsSlice()}).Marshal()
	} else {
		c.w.oob = (&ipv6.ControlMessage{Src: c.src.AsSlice(), HopLimit: 255}).Marshal()
	}
	w := &c.w
	w.fn = func(fd uintptr) bool {
		for {
			_, w.err = unix.SendmsgN(int(fd), w.b, w.oob, w.to, 0)
			if w.err != unix.EINTR {
				return w.err != unix.EAGAIN
			}
		}
	}
	return nil
}

// dropAll is a socket filter that accepts nothing, for send-only sockets.
func dropAll() []bpf.RawInstruction {
	prog, _ := bpf.Assemble([]bpf.Instruction{bpf.RetConstant{Val: 0}})
	return prog
}

func (c *rawConn) setup4(recv, send *net.IPConn, base, out *net.Interface, multicast bool) error {
	r := ipv4.NewPacketConn(recv)
	c.oob = ipv4.NewControlMessage(cflags4)
	if err := r.SetControlMessage(cflags4, true); err != nil {
		return fmt.Errorf("ip_recvttl, ip_pktinfo: %w", err)
	}
	if multicast {
		if err := r.JoinGroup(base, &net.IPAddr{IP: MulticastIPv4.AsSlice()}); err != nil {
			return fmt.Errorf("join %v on %s: %w", MulticastIPv4, base.Name, err)
		}
	}
	s := r
	if send != recv {
		s = ipv4.NewPacketConn(send)
		if err := s.SetBPF(dropAll()); err != nil {
			return fmt.Errorf("socket filter: %w", err)
		}
	}
	c.send4 = s
	return errors.Join(s.SetTTL(255), s.SetMulticastTTL(255),
		s.SetMulticastLoopback(false), s.SetMulticastInterface(out))
}

func (c *rawConn) setup6(recv, send *net.IPConn, base, out *net.Interface, multicast bool) error {
	r := ipv6.NewPacketConn(recv)
	c.oob = ipv6.NewControlMessage(cflags6)
	if err := r.SetControlMessage(cflags6, true); err != nil {
		return fmt.Errorf("ipv6_recvhoplimit, ipv6_recvpktinfo: %w", err)
	}
	if multicast {
		if err := r.JoinGroup(base, &net.IPAddr{IP: MulticastIPv6.AsSlice()}); err != nil {
			return fmt.Errorf("join %v on %s: %w", MulticastIPv6, base.Name, err)
		}
	}
	s := r
	if send != recv {
		s = ipv6.NewPacketConn(send)
		if err := s.SetBPF(dropAll()); err != nil {
			return fmt.Errorf("socket filter: %w", err)
		}
	}
	c.send6 = s
	return errors.Join(s.SetHopLimit(255), s.SetMulticastHopLimit(255),
		s.SetMulticastLoopback(false), s.SetMulticastInterface(out))
}

// listenRaw opens a raw socket for protocol 112 bound to device. A
// send-only IPv6 socket on a macvlan gets IPV6_FREEBIND, because its
// source, the interface's link-local address, is not on the macvlan.
func listenRaw(v4 bool, device string, sendOnly bool) (*net.IPConn, error) {
	network, addr := "ip4:112", "0.0.0.0"
	if !v4 {
		network, addr = "ip6:112", "::"
	}
	lc := net.ListenConfig{Control: func(_, _ string, rc syscall.RawConn) error {
		var serr error
		err := rc.Control(func(fd uintptr) {
			serr = unix.SetsockoptString(int(fd), unix.SOL_SOCKET, unix.SO_BINDTODEVICE, device)
			if serr == nil && sendOnly && !v4 {
				serr = unix.SetsockoptInt(int(fd), unix.SOL_IPV6, unix.IPV6_FREEBIND, 1)
			}
		})
		return errors.Join(err, serr)
	}}
	pc, err := lc.ListenPacket(context.Background(), network, addr)
	if err != nil {
		return nil, fmt.Errorf("raw socket for protocol 112 on %s: %w", device, err)
	}
	return pc.(*net.IPConn), nil
}

// ReadFrom implements Conn.
func (c *rawConn) ReadFrom(b []byte) (Received, error) {
	var n, oobn int
	var from unix.Sockaddr
	var rerr error
	err := c.rc.Read(func(fd uintptr) bool {
		n, oobn, _, from, rerr = unix.Recvmsg(int(fd), b, c.oob, 0)
		return rerr != unix.EAGAIN && rerr != unix.EINTR
	})
	if err != nil {
		return Received{}, err // net.ErrClosed after Close
	}
	if rerr != nil {
		return Received{}, fmt.Errorf("recvmsg: %w", rerr)
	}
	return c.parse(b, n, oobn, from), nil
}

// recvFD returns the receiving socket's descriptor, for the loop's
// kernel wait (direct_linux.go); it stays valid until Close, which Run
// calls once the loop has returned.
func (c *rawConn) recvFD() int {
	fd := -1
	_ = c.rc.Control(func(f uintptr) { fd = int(f) })
	return fd
}

// TryReadFrom reads one message that is already waiting, without
// blocking: ok is false when none is. The loop calls it on its own
// thread once its kernel wait says the socket is readable.
func (c *rawConn) TryReadFrom(b []byte) (r Received, ok bool, err error) {
	for {
		n, oobn, _, from, rerr := unix.Recvmsg(c.fd, b, c.oob, unix.MSG_DONTWAIT)
		switch rerr {
		case nil:
			return c.parse(b, n, oobn, from), true, nil
		case unix.EINTR:
			continue
		case unix.EAGAIN:
			return Received{}, false, nil
		}
		return Received{}, false, fmt.Errorf("recvmsg: %w", rerr)
	}
}

// parse fills a Received from what recvmsg returned: n bytes of b, oobn
// of control messages.
func (c *rawConn) parse(b []byte, n, oobn int, from unix.Sockaddr) Received {
	var r Received
	switch sa := from.(type) {
	case *unix.SockaddrInet4:
		r.Src = netip.AddrFrom4(sa.Addr)
	case *unix.SockaddrInet6:
		r.Src = netip.AddrFrom16(sa.Addr)
	}
	if c.v4 {
		var cm ipv4.ControlMessage
		if cm.Parse(c.oob[:oobn]) == nil {
			r.TTL, r.Dst = uint8(cm.TTL), ipAddr(cm.Dst)
		}
		// A raw IPv4 socket returns the IP header too.
		ihl := 0
		if n > 0 {
			ihl = int(b[0]&0x0f) * 4
		}
		if ihl < ipv4.HeaderLen || ihl > n {
			ihl, n = 0, 0 // malformed: Validate drops it as short
		}
		r.Len = copy(b, b[ihl:n])
	} else {
		var cm ipv6.ControlMessage
		if cm.Parse(c.oob[:oobn]) == nil {
			r.TTL, r.Dst = uint8(cm.HopLimit), ipAddr(cm.Dst)
		}
		r.Len = n
	}
	return r
}

// queued returns the bytes waiting in the receiving socket (SIOCINQ: the
// first datagram's length, 0 when none), or -1 if it cannot tell; for
// the evidence of a takeover (evidence.go).
func (c *rawConn) queued() int {
	q := -1
	_ = c.rc.Control(func(fd uintptr) {
		if v, err := unix.IoctlGetInt(int(fd), unix.SIOCINQ); err == nil {
			q = v
		}
	})
	return q
}

func ipAddr(ip net.IP) netip.Addr {
	a, _ := netip.AddrFromSlice(ip)
	return a.Unmap()
}

// WriteTo implements Conn; TTL and hop limit are 255 by socket option.
// It allocates nothing but on errors (see rawWrite).
func (c *rawConn) WriteTo(b []byte, dst netip.Addr) error {
	w := &c.w
	if dst = dst.Unmap(); dst.Is4() != c.v4 {
		return fmt.Errorf("write to %v from %v: %w", dst, c.src, ErrFamily)
	}
	if c.v4 {
		w.sa4.Addr, w.to = dst.As4(), &w.sa4
	} else {
		w.sa6.Addr, w.to = dst.As16(), &w.sa6
	}
	w.b, w.err = b, nil
	err := w.rc.Write(w.fn)
	w.b = nil
	if err != nil {
		return fmt.Errorf("write to %v: %w", dst, err) // net.ErrClosed after Close
	}
	if w.err != nil {
		return fmt.Errorf("sendmsg to %v: %w", dst, w.err)
	}
	return nil
}

// Source implements Conn.
func (c *rawConn) Source() netip.Addr { return c.src }

// Close implements Conn.
func (c *rawConn) Close() error {
	var errs []error
	for _, cl := range c.closers {
		errs = append(errs, cl.Close())
	}
	c.closers = nil
	return errors.Join(errs...)
}
