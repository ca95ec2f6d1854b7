package ipvs

import (
	"errors"
	"fmt"
)

// IPVS is the kernel's IPVS table as the reconciler needs it: read it
// whole, change it one operation at a time. The libipvs adapter and the
// test fake implement it.
type IPVS interface {
	// Table returns the kernel's services and destinations, normalised:
	// no counters, no hashed flag.
	Table() (Table, error)
	// Apply makes one operation.
	Apply(Op) error
}

// ErrSkipped is the outcome of an operation on the destinations of a
// service whose AddService failed: it was not made, since the kernel
// would refuse it (or, had the service been there already, apply it to a
// service lvsd does not know). The next reconcile makes it.
var ErrSkipped = errors.New("not made: its service could not be added")

// ErrUnknown is the outcome of an operation whose answer was lost (the
// socket's buffer overran, or no answer came): it may or may not have
// been made, and the table must be read again to know.
var ErrUnknown = errors.New("outcome unknown")

// BatchApplier is an IPVS table that takes many operations at once and
// reports each one's outcome, as the kernel adapter does by pipelining
// them (pipeline_linux.go). Apply and the Reconciler use it when the
// table has it.
type BatchApplier interface {
	// ApplyBatch makes ops in order and returns one outcome per
	// operation: nil when made, ErrSkipped for the destinations of a
	// service whose AddService failed, or the operation's error.
	ApplyBatch(ops []Op) []error
}

// ServiceReader reads some services afresh, with their destinations: the
// Reconciler re-reads only the services of failed operations, so that
// its cached table stays exact without reading every service back.
type ServiceReader interface {
	// Services returns those of keys the table holds; a key missing from
	// the result is not in the table.
	Services(keys []ServiceKey) (Table, error)
}

// Apply makes ops in order and returns how many succeeded. It goes on past
// a failure, except for the destinations of a service that could not be
// added, and reports every failure; the next reconcile retries them.
func Apply(k IPVS, ops []Op) (int, error) {
	return summarise(ops, applyAll(k, ops))
}

// applyAll makes ops, in one batch when k takes batches, and returns
// each one's outcome as BatchApplier does.
func applyAll(k IPVS, ops []Op) []error {
	if b, ok := k.(BatchApplier); ok {
		return b.ApplyBatch(ops)
	}
	errs := make([]error, len(ops))
	failed := map[ServiceKey]bool{}
	for i, op := range ops {
		if failed[op.Key] && (op.Kind == AddDest || op.Kind == UpdateDest) {
			errs[i] = ErrSkipped
			continue
		}
		if errs[i] = k.Apply(op); errs[i] != nil && op.Kind == AddService {
			failed[op.Key] = true
		}
	}
	return errs
}

// summarise counts the operations made and joins the failures, each
// named by its operation; skipped ones are neither.
func summarise(ops []Op, results []error) (int, error) {
	var errs []error
	n := 0
	for i, err := range results {
		switch {
		case err == nil:
			n++
		case !errors.Is(err, ErrSkipped):
			errs = append(errs, fmt.Errorf("%v: %w", ops[i], err))
		}
	}
	return n, errors.Join(errs...)
}
