package ipvs

import (
	"errors"
	"maps"
	"slices"
)

// applyOps makes ops and keeps the cached table exact. The operations the
// kernel made are applied to the cache; the services of those it refused
// (or whose outcome was lost) are read back from the kernel, since a
// refusal means it holds something other than what lvsd thought: one
// failed operation costs a read of its own service, not of the whole
// table, and hides none of the others' results. Without a cache it only
// applies. It returns the failures, joined, each named by its operation.
func (d *Reconciler) applyOps(ops []Op) error {
	results := applyAll(d.k, ops)
	_, err := summarise(ops, results)
	if d.have == nil {
		return err
	}
	stale := map[ServiceKey]bool{}
	for i, e := range results {
		if e != nil && !errors.Is(e, ErrSkipped) { // a skipped one's AddService failed: stale too
			stale[ops[i].Key] = true
		}
	}
	for i, op := range ops {
		if results[i] == nil && !stale[op.Key] {
			d.have.applyOne(op)
		}
	}
	d.have.trim(ops)
	if len(stale) > 0 {
		d.refresh(slices.Collect(maps.Keys(stale)))
	}
	return err
}

// refresh reads the services of keys back into the cache, or drops the
// cache (the next use reads the whole table) when the kernel adapter
// cannot read some services only or the read fails.
func (d *Reconciler) refresh(keys []ServiceKey) {
	r, ok := d.k.(ServiceReader)
	if !ok {
		d.have = nil
		return
	}
	fresh, err := r.Services(keys)
	if err != nil {
		d.opts.Log.WithError(err).Warn("ipvs: reading back the services of failed operations; reading the whole table")
		d.have = nil
		return
	}
	for _, k := range keys {
		if s, ok := fresh[k]; ok {
			d.have.set(k, s)
		} else {
			delete(d.have, k)
		}
	}
}
