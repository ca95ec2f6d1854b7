package ipvs

import (
	"errors"
	"fmt"
	"time"

	"golang.org/x/sys/unix"
)

// nlSocket is a generic netlink socket of its own for the pipelined
// writer, beside libipvs's (which reads the table). Like libipvs's, it
// belongs to the network namespace of the thread that opened it. It is
// blocking: the goroutine that owns the Kernel waits in the system call,
// as it waits in libipvs's.
type nlSocket struct{ fd int }

// nlRecvBuf is the receive buffer the socket asks for: a window's worth
// of error messages with room to spare. Beyond net.core.rmem_max it
// needs CAP_NET_ADMIN (SO_RCVBUFFORCE), which lvsd has; without it the
// kernel's default (about 200 windows' acknowledgements, or 200 errors)
// serves, and an overrun costs a re-read, not a wrong table.
const nlRecvBuf = 1 << 20

// nlRecvTimeout bounds a wait for answers the kernel has already queued
// (it handles a datagram within sendmsg): only a lost answer reaches it.
const nlRecvTimeout = 5 * time.Second

func openNLSocket() (*nlSocket, error) {
	fd, err := unix.Socket(unix.AF_NETLINK, unix.SOCK_RAW|unix.SOCK_CLOEXEC, unix.NETLINK_GENERIC)
	if err != nil {
		return nil, fmt.Errorf("netlink socket: %w", err)
	}
	if err := unix.Bind(fd, &unix.SockaddrNetlink{Family: unix.AF_NETLINK}); err != nil {
		unix.Close(fd)
		return nil, fmt.Errorf("netlink bind: %w", err)
	}
	// Errors without the request echoed: smaller, so more fit.
	_ = unix.SetsockoptInt(fd, unix.SOL_NETLINK, unix.NETLINK_CAP_ACK, 1)
	if unix.SetsockoptInt(fd, unix.SOL_SOCKET, unix.SO_RCVBUFFORCE, nlRecvBuf) != nil {
		_ = unix.SetsockoptInt(fd, unix.SOL_SOCKET, unix.SO_RCVBUF, nlRecvBuf)
	}
	tv := unix.NsecToTimeval(nlRecvTimeout.Nanoseconds())
	if err := unix.SetsockoptTimeval(fd, unix.SOL_SOCKET, unix.SO_RCVTIMEO, &tv); err != nil {
		unix.Close(fd)
		return nil, fmt.Errorf("netlink receive timeout: %w", err)
	}
	return &nlSocket{fd: fd}, nil
}

// Send writes b to the kernel in one sendmsg.
func (s *nlSocket) Send(b []byte) error {
	for {
		err := unix.Sendto(s.fd, b, 0, &unix.SockaddrNetlink{Family: unix.AF_NETLINK})
		if !errors.Is(err, unix.EINTR) {
			return err
		}
	}
}

// Recv reads one datagram, or fails with EAGAIN without wait when none
// is queued.
func (s *nlSocket) Recv(b []byte, wait bool) (int, error) {
	flags := 0
	if !wait {
		flags = unix.MSG_DONTWAIT
	}
	for {
		n, _, err := unix.Recvfrom(s.fd, b, flags)
		if !errors.Is(err, unix.EINTR) {
			return n, err
		}
	}
}

// Close closes the socket.
func (s *nlSocket) Close() error { return unix.Close(s.fd) }
