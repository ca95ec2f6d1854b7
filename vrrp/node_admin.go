package vrrp

import (
	"context"
	"fmt"
)

// This file holds the operator's calls into a running Node.

// Switchover hands the master role to the peer without a gap: the node
// resigns (advertises priority 0 but keeps its addresses, see
// Machine.Resign) and Switchover returns nil once a new master has been
// heard and the addresses released, or ErrResignTimeout if the resign
// timeout (Handover.Timeout) passed first. It returns ErrNotMaster if the
// node is not master, ErrResignFault if a fault (a link down) ended the
// resign, ErrStopped if it stops meanwhile, and ctx's error
// if ctx ends first (the switchover goes on). In a Group, the other
// members resign too.
//
// The node yields for one Master_Down_Interval afterwards, then preempts
// again if its priority is higher; lower it with SetPriority for a
// lasting switchover.
func (n *Node) Switchover(ctx context.Context) error {
	res := make(chan error, 1)
	err := n.call(ctx, func() {
		switch n.m.State() {
		case Master:
			n.waiters = append(n.waiters, res)
			n.do(n.m.Resign(n.clock.Now()))
		case Resigning:
			n.waiters = append(n.waiters, res) // one is already under way
		default:
			res <- fmt.Errorf("switchover in state %v: %w", n.m.State(), ErrNotMaster)
		}
	})
	if err != nil {
		return err
	}
	select {
	case err := <-res:
		return err
	case <-ctx.Done():
		return ctx.Err()
	}
}

// SetPriority replaces the configured priority (1 to 255); tracking
// weights still apply on top of it. A master advertises the new priority
// at once, so a preempting backup with a higher one takes over.
func (n *Node) SetPriority(ctx context.Context, p uint8) error {
	if p == 0 {
		return fmt.Errorf("vrrp instance %q: priority 0 is reserved for a leaving master", n.cfg.Name)
	}
	return n.call(ctx, func() {
		n.base = p
		n.report(nil)
	})
}

// call runs f on the Node's goroutine and waits until it has run.
func (n *Node) call(ctx context.Context, f func()) error {
	ran := make(chan struct{})
	select {
	case n.events <- func() { f(); close(ran) }:
	case <-ctx.Done():
		return ctx.Err()
	case <-n.done:
		return ErrStopped
	}
	select {
	case <-ran: // the loop runs an event as soon as it takes it
		return nil
	case <-n.done: // the direct loop's relay took it, the loop stopped first
		select {
		case <-ran:
			return nil
		default:
			return ErrStopped
		}
	}
}
