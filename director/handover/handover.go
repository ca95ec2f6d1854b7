// Package handover carries connections across a VIP move, which the
// kernel's sync daemon alone does not: the old master flushes its IPVS
// connection table to the peer in the kernel's sync format (package
// connsync), and the new master holds the resets its own TCP stack would
// send, and in NAT mode the replies IPVS cannot translate yet, until that
// table has arrived (package rstguard, an nftables table).
package handover

import (
	"errors"
	"net/netip"
	"sync"
	"time"

	"github.com/lvsd/lvsd/director/config"
	"github.com/lvsd/lvsd/director/handover/connsync"
	"github.com/lvsd/lvsd/director/handover/rstguard"
)

// Kernel hands connections over on this kernel: connsync and an nftables
// table named guardTable, opened on first use in lvsd's namespace.
type Kernel struct {
	mu    sync.Mutex
	guard *rstguard.Guard
	relay *rstguard.Relay
}

// guardTable names the guard's table (family inet) and relayTable the
// relay's (family ip).
const (
	guardTable = "lvsd"
	relayTable = "lvsd_relay"
)

func (k *Kernel) Flush(cfg *config.Config) (int, error) {
	if cfg.Sync == nil {
		return 0, nil
	}
	return connsync.Flush(cfg.Sync.Interface, cfg.Sync.SyncID, connsync.NewResolver(cfg.Services))
}

// Sweep ages out this node's closed TCP connections of cfg's services
// through its own backup sync daemon (connsync.Expire), which runs
// whenever sync is configured; backup is asked before sending. IPVS has
// no command to delete one connection, and a stale TIME_WAIT entry on a
// node that takes over sends a reused tuple's data to the old realserver.
func (k *Kernel) Sweep(cfg *config.Config, backup func() bool) (int, error) {
	if cfg.Sync == nil {
		return 0, nil
	}
	return connsync.Expire(cfg.Sync.Interface, cfg.Sync.SyncID, connsync.NewResolver(cfg.Services), backup)
}

func (k *Kernel) Hold(h rstguard.Holds, d time.Duration) error {
	k.mu.Lock()
	defer k.mu.Unlock()
	if k.guard == nil {
		if len(h.Resets)+len(h.Replies) == 0 {
			return nil
		}
		g, err := rstguard.Open(guardTable)
		if err != nil {
			return err
		}
		k.guard = g
	}
	return k.guard.Hold(h, d)
}

// Relay passes, for d, what r names to the other director (see
// rstguard.Relays). The table is opened on first use, an empty r included:
// the follower calls it so at start, and the first move does not pay for
// creating the table and loading the kernel's dup module (half a second
// under emulation, measured in the VM end-to-end test).
func (k *Kernel) Relay(r rstguard.Relays, d time.Duration) error {
	k.mu.Lock()
	defer k.mu.Unlock()
	if k.relay == nil {
		rl, err := rstguard.OpenRelay(relayTable)
		if err != nil {
			return err
		}
		k.relay = rl
	}
	return k.relay.Relay(r, d)
}

func (k *Kernel) Held() (uint64, error) {
	k.mu.Lock()
	defer k.mu.Unlock()
	if k.guard == nil {
		return 0, nil
	}
	return k.guard.Held()
}

func (k *Kernel) Close() error {
	k.mu.Lock()
	defer k.mu.Unlock()
	var errs []error
	if k.guard != nil {
		errs = append(errs, k.guard.Close())
		k.guard = nil
	}
	if k.relay != nil {
		errs = append(errs, k.relay.Close())
		k.relay = nil
	}
	return errors.Join(errs...)
}

// HoldsOf is what a new master holds: the TCP virtual services' VIP:port
// (its own stack's resets) and, for NAT, their realservers' addr:port
// (replies IPVS cannot translate yet, which would reach the client with
// the realserver's address and be answered with a reset). Fwmark services
// have no port to name and are left out.
func HoldsOf(cfg *config.Config) rstguard.Holds {
	var h rstguard.Holds
	if cfg.Sync == nil || cfg.Sync.HoldResets <= 0 {
		return h
	}
	for _, s := range cfg.Services {
		if s.FWMark != 0 || s.Protocol != "tcp" || !s.Virtual.IsValid() {
			continue
		}
		h.Resets = append(h.Resets, s.Virtual)
		for _, r := range s.Reals {
			if r.Forward == config.NAT && r.Addr.Port() != 0 {
				h.Replies = append(h.Replies, r.Addr)
			}
		}
		if s.Sorry.IsValid() && s.Forward == config.NAT && s.Sorry.Port() != 0 {
			h.Replies = append(h.Replies, s.Sorry)
		}
	}
	return h
}

// Peers are the other director's address on each VRRP instance (the
// source of its last advert there), by instance name.
type Peers map[string]netip.Addr

// RelaysOf is everything a director may relay (see rstguard.Relays), for
// the follower to compose by role: a VIP:port goes to the peer of the
// instance that carries the VIP; a NAT realserver's replies to the peer of
// the instance whose VIP prefix holds the realserver (the gateway VIP of
// its segment), else of the instance that carries the service's VIP;
// Local lists every VIP:port. Fwmark and non-TCP services are left out,
// as for HoldsOf, and so is everything when sync.hold_resets is 0.
func RelaysOf(cfg *config.Config, peers Peers) rstguard.Relays {
	var r rstguard.Relays
	if cfg.Sync == nil || cfg.Sync.HoldResets <= 0 {
		return r
	}
	carrier := func(a netip.Addr) (string, bool) {
		for _, in := range cfg.Instances {
			for _, p := range in.VIPs {
				if p.Addr() == a.Unmap() {
					return in.Name, true
				}
			}
		}
		return "", false
	}
	r.In, r.Replies = map[netip.AddrPort]netip.Addr{}, map[netip.AddrPort]netip.Addr{}
	for _, s := range cfg.Services {
		if s.FWMark != 0 || s.Protocol != "tcp" || !s.Virtual.IsValid() {
			continue
		}
		front, ok := carrier(s.Virtual.Addr())
		if !ok {
			continue
		}
		r.Local = append(r.Local, s.Virtual)
		if p := peers[front]; p.IsValid() {
			r.In[s.Virtual] = p
		}
		for _, real := range s.Reals {
			if real.Forward != config.NAT || real.Addr.Port() == 0 {
				continue
			}
			via, ok := GatewayOf(cfg, real.Addr.Addr())
			if !ok {
				via = front
			}
			if p := peers[via]; p.IsValid() {
				r.Replies[real.Addr] = p
			}
		}
	}
	return r
}

// GatewayOf names the instance whose VIP prefix (not a host address)
// holds a: for a NAT realserver, the instance of its segment's gateway
// VIP, through which its replies come back.
func GatewayOf(cfg *config.Config, a netip.Addr) (string, bool) {
	for _, in := range cfg.Instances {
		for _, p := range in.VIPs {
			if p.Bits() < p.Addr().BitLen() && p.Contains(a.Unmap()) {
				return in.Name, true
			}
		}
	}
	return "", false
}
