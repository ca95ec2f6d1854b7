// Package handover carries connections across a VIP move, which the
// kernel's sync daemon alone does not: the old master flushes its IPVS
// connection table to the peer in the kernel's sync format (package
// connsync), and the new master holds the resets its own TCP stack would
// send, and in NAT mode the replies IPVS cannot translate yet, until that
// table has arrived (package rstguard, an nftables table).
package handover

import (
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
}

const guardTable = "lvsd"

func (k *Kernel) Flush(cfg *config.Config) (int, error) {
	if cfg.Sync == nil {
		return 0, nil
	}
	return connsync.Flush(cfg.Sync.Interface, cfg.Sync.SyncID, connsync.NewResolver(cfg.Services))
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
	if k.guard == nil {
		return nil
	}
	err := k.guard.Close()
	k.guard = nil
	return err
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
