package connsync

import "syscall"

// closedStates are the TCP states whose entries only wait to expire,
// numbered as the kernel does (enum ip_vs_tcp_states): a TIME_WAIT entry
// lives 120 s and a CLOSE one 10 s (tcp_timeouts in ip_vs_proto_tcp.c).
var closedStates = map[string]uint16{"TIME_WAIT": 5, "CLOSE": 6}

// ExpireTimeout is the timeout, in seconds, an expiry record gives: the
// backup daemon sets cp->timeout to it and re-arms the entry's timer
// (ip_vs_proc_conn, then ip_vs_conn_put), so the entry goes a second
// later. 0 would mean "the default timeout of the state", 120 s.
const ExpireTimeout = 1

// Expiries chooses, from a backup's connection table, the entries to age
// out: the TCP connections of services lvsd manages that are closed
// (TIME_WAIT or CLOSE). Each record names the same client, virtual and
// destination with the same state, the forwarding flags of the
// destination, FlagInactive and ExpireTimeout.
//
// Why: IPVS keeps a TIME_WAIT entry 120 s, longer than a client's own
// TIME_WAIT (60 s on Linux), so a client reusing its port meets an entry
// pointing at the realserver of the earlier connection. On the master
// the kernel reschedules such a tuple when the SYN comes; on a backup
// that takes over, the entry is stale (the master scheduled the new
// connection elsewhere, and synced it only at its 3rd packet, batched up
// to 2 s), and the first data segment goes to the old realserver, which
// answers with a reset. Without the entry the segment is unknown to the
// new master's IPVS and the relay passes it to the old master.
//
// FlagInactive makes the kernel leave alone an entry the master has
// meanwhile replaced with one to another destination: it takes such a
// message for a late expiry of the replaced connection and drops it
// (ip_vs_proc_conn). Templates, UDP, SCTP and live states are never
// chosen: an ESTABLISHED entry may be a connection the backup must carry
// at a failover.
//
// One race is left: if, between the table's reading and the message, the
// master reuses the tuple for a connection to the same destination and
// syncs it, the expiry applies to the new entry, and the backup loses it
// (a failover then relays or resets that one connection). The window is
// the few milliseconds of one sweep (5 to 10 ms for 20 entries in the VM),
// and the master's daemon sends a live connection again at its next state
// change and every sync_threshold period (50 packets by default).
func (r *Resolver) Expiries(conns []Conn) []Record {
	var out []Record
	for _, c := range conns {
		st, ok := closedStates[c.State]
		if !ok || c.Protocol != syscall.IPPROTO_TCP || c.Template() || c.Expires <= ExpireTimeout {
			continue // (an entry about to go needs no message)
		}
		svc := r.service(c)
		if svc == nil {
			continue
		}
		fwd, ok := forwardOf(svc, c.Dest)
		if !ok {
			continue
		}
		rec := Record{Protocol: c.Protocol, Client: c.Client, Virtual: c.Virtual, Dest: c.Dest, FWMark: svc.FWMark,
			State: st, Flags: fwd | FlagInactive, Timeout: ExpireTimeout}
		if fwd != FlagMasq {
			rec.Flags |= FlagNoOutput
		}
		out = append(out, rec)
	}
	return out
}
