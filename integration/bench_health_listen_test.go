//go:build integration

package integration

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"github.com/lvsd/lvsd/integration/netlab"
)

// hcbTargetAddr is the i-th target of a kind: TCP on 198.51.100.0/24,
// HTTP on 203.0.113.0/24.
func hcbTargetAddr(http bool, i int) netip.AddrPort {
	if http {
		return netip.AddrPortFrom(netip.AddrFrom4([4]byte{203, 0, 113, byte(1 + i/hcbHTTPPorts)}), uint16(hcbHTTPPort0+i%hcbHTTPPorts))
	}
	return netip.AddrPortFrom(netip.AddrFrom4([4]byte{198, 51, 100, byte(1 + i/hcbTCPPorts)}), uint16(hcbTCPPort0+i%hcbTCPPorts))
}

// hcbRaiseNofile raises this process's (and so its children's) open-file
// limit to its hard limit, which must be at least n (root raises a lower
// one to n, as the VM's 4,096 is): the listeners take 11,000 descriptors.
func hcbRaiseNofile(tb testing.TB, n uint64) {
	var lim unix.Rlimit
	if err := unix.Getrlimit(unix.RLIMIT_NOFILE, &lim); err != nil {
		tb.Fatal(err)
	}
	if lim.Max < n {
		if err := unix.Setrlimit(unix.RLIMIT_NOFILE, &unix.Rlimit{Cur: n, Max: n}); err != nil {
			tb.Fatalf("RLIMIT_NOFILE hard limit %d: below the %d descriptors the listeners need (%v)", lim.Max, n, err)
		}
		return
	}
	lim.Cur = lim.Max
	if err := unix.Setrlimit(unix.RLIMIT_NOFILE, &lim); err != nil {
		tb.Fatalf("raise RLIMIT_NOFILE to %d: %v", lim.Max, err)
	}
}

// hcbNamespace creates the targets' namespace, their addresses on its lo
// (this kernel may lack the dummy link type).
func hcbNamespace(l *netlab.T) string {
	ns := l.NS("hcb")
	var batch strings.Builder
	for i := range hcbTCPAddrs {
		fmt.Fprintf(&batch, "addr add %v/32 dev lo\n", hcbTargetAddr(false, i*hcbTCPPorts).Addr())
	}
	for i := range hcbHTTPAddrs {
		fmt.Fprintf(&batch, "addr add %v/32 dev lo\n", hcbTargetAddr(true, i*hcbHTTPPorts).Addr())
	}
	l.Batch(ns, batch.String())
	return ns
}

// hcbListen opens every listener inside ns, from a thread locked there,
// and serves them from this process until cleanup: TCP listeners accept
// and close, HTTP ones answer one request with 200 and close.
func hcbListen(l *netlab.T, ns string) {
	var (
		ls  []net.Listener
		raw *hcbAcceptor
	)
	err := <-l.Go(ns, func() (err error) {
		if raw, err = hcbNewAcceptor(hcbTCPAddrs * hcbTCPPorts); err != nil {
			return err
		}
		for i := range hcbHTTPAddrs * hcbHTTPPorts {
			ln, err := net.Listen("tcp", hcbTargetAddr(true, i).String())
			if err != nil {
				return err
			}
			ls = append(ls, ln)
			go hcbServeHTTP(ln)
		}
		return nil
	})
	l.TB.Cleanup(func() {
		for _, ln := range ls {
			ln.Close()
		}
		if raw != nil {
			raw.close()
		}
	})
	if err != nil {
		l.TB.Fatalf("listen in %s: %v", ns, err)
	}
}

// hcbAcceptor serves the TCP listeners from one goroutine on one epoll
// instance, accepting and closing. Go's accept loop per listener costs
// several times as much per connection (netpoller registration, a
// goroutine wake-up), and the listeners share two cores with the checker.
// It counts what it accepts: checks that reached the listeners.
type hcbAcceptor struct {
	epfd    int
	fds     []int
	n       atomic.Int64 // connections accepted
	stop    atomic.Bool
	running bool // loop started
	done    chan struct{}
}

// hcbNewAcceptor opens n TCP listeners in the calling thread's namespace.
func hcbNewAcceptor(n int) (*hcbAcceptor, error) {
	epfd, err := unix.EpollCreate1(unix.EPOLL_CLOEXEC)
	if err != nil {
		return nil, err
	}
	a := &hcbAcceptor{epfd: epfd, done: make(chan struct{})}
	for i := range n {
		t := hcbTargetAddr(false, i)
		fd, err := unix.Socket(unix.AF_INET, unix.SOCK_STREAM|unix.SOCK_NONBLOCK|unix.SOCK_CLOEXEC, 0)
		if err != nil {
			a.close()
			return nil, err
		}
		a.fds = append(a.fds, fd)
		_ = unix.SetsockoptInt(fd, unix.SOL_SOCKET, unix.SO_REUSEADDR, 1)
		if err := unix.Bind(fd, &unix.SockaddrInet4{Port: int(t.Port()), Addr: t.Addr().As4()}); err != nil {
			a.close()
			return nil, fmt.Errorf("bind %v: %w", t, err)
		}
		ev := unix.EpollEvent{Events: unix.EPOLLIN, Fd: int32(fd)}
		if err := errors.Join(unix.Listen(fd, 4096), unix.EpollCtl(epfd, unix.EPOLL_CTL_ADD, fd, &ev)); err != nil {
			a.close()
			return nil, fmt.Errorf("listen %v: %w", t, err)
		}
	}
	a.running = true
	go a.loop()
	return a, nil
}

func (a *hcbAcceptor) loop() {
	defer close(a.done)
	evs := make([]unix.EpollEvent, 512)
	for !a.stop.Load() {
		n, _ := unix.EpollWait(a.epfd, evs, 100)
		for _, ev := range evs[:max(n, 0)] {
			for {
				c, _, errno := unix.Syscall6(unix.SYS_ACCEPT4, uintptr(ev.Fd), 0, 0, unix.SOCK_CLOEXEC, 0, 0)
				if errno != 0 {
					break // EAGAIN: the queue is empty
				}
				a.n.Add(1)
				unix.Close(int(c))
			}
		}
	}
}

func (a *hcbAcceptor) close() {
	if a.stop.Swap(true) {
		return
	}
	if a.running {
		<-a.done // within epoll_wait's 100 ms
	}
	for _, fd := range a.fds {
		unix.Close(fd)
	}
	unix.Close(a.epfd)
}

var hcbReply = []byte("HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: 3\r\nConnection: close\r\n\r\nUP\n")

func hcbServeHTTP(l net.Listener) {
	for {
		c, err := l.Accept()
		if err != nil {
			return
		}
		go func() {
			defer c.Close()
			_ = c.SetDeadline(time.Now().Add(5 * time.Second))
			r := bufio.NewReader(c)
			for {
				line, err := r.ReadSlice('\n')
				if err != nil {
					return
				}
				if len(bytes.TrimSpace(line)) == 0 {
					break
				}
			}
			_, _ = c.Write(hcbReply)
		}()
	}
}
