package connsync

import (
	"errors"
)

// ErrNotBackup is returned by Expire when this node took the VIPs
// between reading its table and sending: a master's entries are its own
// live truth, and none is aged.
var ErrNotBackup = errors.New("connsync: this node holds the VIPs: closed connections left to the kernel")

// Expire ages out, through this host's own backup sync daemon, the closed
// TCP connections of r's services in this namespace's table (see
// Expiries), and returns how many it sent. IPVS has no netlink command to
// delete one connection; its backup daemon, though, applies a version 1
// sync message to an existing entry of the same destination, timeout
// included (ip_vs_proc_conn). The table is read a batch at a time
// (scanTable), and backup is asked before each batch is sent; when it
// reports false the sweep ends there with ErrNotBackup, and what was sent
// before counts. The backup daemon must run on iface with syncID (or
// sync id 0, which accepts any).
func Expire(iface string, syncID uint8, r *Resolver, backup func() bool) (int, error) {
	s := &sender{iface: iface, ttl: 0, loop: true} // SendLocal's
	defer s.close()
	n := 0
	err := scanTable(func(conns []Conn) error {
		recs := r.Expiries(conns)
		if len(recs) == 0 {
			return nil
		}
		msgs, err := Encode(syncID, recs, 0)
		if err != nil {
			return err
		}
		if backup != nil && !backup() {
			return ErrNotBackup
		}
		if err := s.send(msgs); err != nil {
			return err
		}
		n += len(recs)
		return nil
	})
	return n, err
}

// SendLocal multicasts msgs to this host's own backup daemon on iface
// only: TTL 0 and loopback on. The kernel loops a copy of a multicast
// datagram back to local members of the group on the outgoing interface
// (which the backup daemon joined, bound to iface) and drops a TTL 0
// datagram before it leaves the host (ip_mc_output: "Multicasts with ttl
// 0 must not go beyond the host"), so the peer's daemon never sees it.
func SendLocal(iface string, msgs [][]byte) error { return send(iface, msgs, 0, true) }
