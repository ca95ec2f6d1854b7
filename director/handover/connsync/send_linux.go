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
// sends it to the backup daemons on iface with syncID. It returns how many
// connections it sent.
func Flush(iface string, syncID uint8, r *Resolver) (int, error) {
	conns, err := readTable()
	if err != nil {
		return 0, err
	}
	recs := r.Records(conns)
	msgs, err := Encode(syncID, recs, 0)
	if err != nil {
		return 0, err
	}
	return len(recs), Send(iface, msgs)
}

// readTable reads and parses this namespace's connection table (ProcPath).
func readTable() ([]Conn, error) {
	f, err := os.Open(ProcPath)
	if err != nil {
		return nil, fmt.Errorf("connsync: %w", err)
	}
	defer f.Close()
	return ParseProc(f)
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
	if len(msgs) == 0 {
		return nil
	}
	ifi, err := net.InterfaceByName(iface)
	if err != nil {
		return fmt.Errorf("connsync: interface %s: %w", iface, err)
	}
	fd, err := unix.Socket(unix.AF_INET, unix.SOCK_DGRAM|unix.SOCK_CLOEXEC, unix.IPPROTO_UDP)
	if err != nil {
		return fmt.Errorf("connsync: socket: %w", err)
	}
	defer unix.Close(fd)
	if err := unix.SetsockoptIPMreqn(fd, unix.IPPROTO_IP, unix.IP_MULTICAST_IF, &unix.IPMreqn{Ifindex: int32(ifi.Index)}); err != nil {
		return fmt.Errorf("connsync: multicast interface %s: %w", iface, err)
	}
	if err := unix.SetsockoptInt(fd, unix.IPPROTO_IP, unix.IP_MULTICAST_TTL, ttl); err != nil {
		return fmt.Errorf("connsync: multicast ttl: %w", err)
	}
	l := 0
	if loop {
		l = 1
	}
	if err := unix.SetsockoptInt(fd, unix.IPPROTO_IP, unix.IP_MULTICAST_LOOP, l); err != nil {
		return fmt.Errorf("connsync: multicast loop: %w", err)
	}
	to := &unix.SockaddrInet4{Port: Port, Addr: Group}
	for i, m := range msgs {
		if i > 0 && i%32 == 0 {
			time.Sleep(time.Millisecond)
		}
		if err := unix.Sendto(fd, m, 0, to); err != nil {
			return fmt.Errorf("connsync: send message %d of %d on %s: %w", i+1, len(msgs), iface, err)
		}
	}
	return nil
}
