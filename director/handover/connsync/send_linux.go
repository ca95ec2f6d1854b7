package connsync

import (
	"fmt"
	"net"
	"os"
	"time"

	"golang.org/x/sys/unix"
)

// The group and port the kernel's sync daemons use unless told otherwise
// (IP_VS_SYNC_GROUP, IP_VS_SYNC_PORT); lvsd starts them with the defaults.
var (
	Group = [4]byte{224, 0, 0, 81}
	Port  = 8848
)

// ProcPath is the kernel's connection table of the calling thread's
// network namespace (/proc/net follows the main thread's, which differs
// when a locked thread has entered another namespace).
const ProcPath = "/proc/thread-self/net/ip_vs_conn"

// Flush reads the connection table, resolves it against the services and
// sends it to the backup daemons on iface with syncID, a batch at a time
// (scanTable). It returns how many connections it sent.
func Flush(iface string, syncID uint8, r *Resolver) (int, error) {
	s := &sender{iface: iface, ttl: 1}
	defer s.close()
	n := 0
	err := scanTable(func(conns []Conn) error {
		recs := r.Records(conns)
		msgs, err := Encode(syncID, recs, 0)
		if err != nil {
			return err
		}
		if err := s.send(msgs); err != nil {
			return err
		}
		n += len(recs)
		return nil
	})
	return n, err
}

// tableBatch is how many connections scanTable hands on at a time.
const tableBatch = 1024

// scanTable reads and parses this namespace's connection table
// (ProcPath), handing fn tableBatch connections at a time (the slice is
// reused: fn must not keep it). Reading the whole table first made a
// director's memory follow the table's size at every sweep and handover:
// the VM soak's backup grew by 7 MiB over 10 minutes as its table filled
// to 8,000 entries, and a table of a million would take hundreds of MiB
// every 5 s; a batch costs about 100 KiB whatever the table.
func scanTable(fn func([]Conn) error) error {
	f, err := os.Open(ProcPath)
	if err != nil {
		return fmt.Errorf("connsync: %w", err)
	}
	defer f.Close()
	batch := make([]Conn, 0, tableBatch)
	err = ScanProc(f, func(c Conn) error {
		batch = append(batch, c)
		if len(batch) < tableBatch {
			return nil
		}
		err := fn(batch)
		batch = batch[:0]
		return err
	})
	if err == nil && len(batch) > 0 {
		err = fn(batch)
	}
	return err
}

// Send multicasts msgs on iface as the kernel's master daemon does
// (make_send_sock): to the sync group and port, TTL 1, without looping
// back to this host's own backup daemon. It pauses briefly every 32
// messages so a large table does not overrun the receiver's socket buffer
// (a datagram dropped there is a connection the peer never learns).
func Send(iface string, msgs [][]byte) error { return send(iface, msgs, 1, false) }

// send multicasts msgs to the sync group and port out of iface with ttl,
// looping a copy back to this host's own sockets if loop.
func send(iface string, msgs [][]byte, ttl int, loop bool) error {
	s := &sender{iface: iface, ttl: ttl, loop: loop}
	defer s.close()
	return s.send(msgs)
}

// sender multicasts sync messages to the group and port out of iface; its
// socket is opened at the first message, so that nothing to send needs
// no interface, and kept for every batch of one table.
type sender struct {
	iface string
	ttl   int
	loop  bool // a copy to this host's own sockets
	fd    int  // 0 until opened
	to    unix.SockaddrInet4
	sent  int // messages so far, for the pacing
}

func (s *sender) open() error {
	ifi, err := net.InterfaceByName(s.iface)
	if err != nil {
		return fmt.Errorf("connsync: interface %s: %w", s.iface, err)
	}
	fd, err := unix.Socket(unix.AF_INET, unix.SOCK_DGRAM|unix.SOCK_CLOEXEC, unix.IPPROTO_UDP)
	if err != nil {
		return fmt.Errorf("connsync: socket: %w", err)
	}
	if err := unix.SetsockoptIPMreqn(fd, unix.IPPROTO_IP, unix.IP_MULTICAST_IF, &unix.IPMreqn{Ifindex: int32(ifi.Index)}); err != nil {
		unix.Close(fd)
		return fmt.Errorf("connsync: multicast interface %s: %w", s.iface, err)
	}
	if err := unix.SetsockoptInt(fd, unix.IPPROTO_IP, unix.IP_MULTICAST_TTL, s.ttl); err != nil {
		unix.Close(fd)
		return fmt.Errorf("connsync: multicast ttl: %w", err)
	}
	l := 0
	if s.loop {
		l = 1
	}
	if err := unix.SetsockoptInt(fd, unix.IPPROTO_IP, unix.IP_MULTICAST_LOOP, l); err != nil {
		unix.Close(fd)
		return fmt.Errorf("connsync: multicast loop: %w", err)
	}
	s.fd, s.to = fd, unix.SockaddrInet4{Port: Port, Addr: Group}
	return nil
}

// send sends msgs, pausing a millisecond every 32 messages of the whole
// table (see Send).
func (s *sender) send(msgs [][]byte) error {
	if len(msgs) == 0 {
		return nil
	}
	if s.fd == 0 {
		if err := s.open(); err != nil {
			return err
		}
	}
	for _, m := range msgs {
		if s.sent > 0 && s.sent%32 == 0 {
			time.Sleep(time.Millisecond)
		}
		if err := unix.Sendto(s.fd, m, 0, &s.to); err != nil {
			return fmt.Errorf("connsync: send message %d on %s: %w", s.sent+1, s.iface, err)
		}
		s.sent++
	}
	return nil
}

func (s *sender) close() {
	if s.fd != 0 {
		unix.Close(s.fd)
		s.fd = 0
	}
}
