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

// Apply makes ops in order and returns how many succeeded. It goes on past
// a failure, except for the destinations of a service that could not be
// added, and reports every failure; the next reconcile retries them.
func Apply(k IPVS, ops []Op) (int, error) {
	var errs []error
	failed := map[ServiceKey]bool{}
	n := 0
	for _, op := range ops {
		if failed[op.Key] && (op.Kind == AddDest || op.Kind == UpdateDest) {
			continue
		}
		if err := k.Apply(op); err != nil {
			errs = append(errs, fmt.Errorf("%v: %w", op, err))
			if op.Kind == AddService {
				failed[op.Key] = true
			}
			continue
		}
		n++
	}
	return n, errors.Join(errs...)
}
