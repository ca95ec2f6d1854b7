package ipvs

import (
	"math/rand/v2"
	"reflect"
	"testing"
)

// The compact cache follows the operations exactly as the kernel (the
// in-memory table, which refuses what it refuses) does: from random
// tables to random tables, its copy equals a fresh read after every step,
// and so does a subset of it.
func TestCacheFollowsOperations(t *testing.T) {
	rng := rand.New(rand.NewPCG(7, 11))
	f := NewMemory()
	c := cached{}
	for i := range 200 {
		want := randomTable(rng)
		have, _ := f.Table()
		for _, op := range Diff(want, have, all) {
			if err := f.Apply(op); err != nil {
				t.Fatalf("step %d: %v: %v", i, op, err)
			}
			c.applyOne(op)
		}
		kernel, _ := f.Table()
		if got := c.table(); !reflect.DeepEqual(got, kernel) {
			t.Fatalf("step %d: cache\n%v\nkernel\n%v", i, got, kernel)
		}
		if got := cacheOf(kernel).table(); !reflect.DeepEqual(got, kernel) {
			t.Fatalf("step %d: cacheOf(t).table() differs from t", i)
		}
		part := Table{}
		for k := range want {
			if len(part) < 2 {
				part[k] = Service{}
			}
		}
		for k, s := range c.subset(part) {
			if !reflect.DeepEqual(s, kernel[k]) {
				t.Fatalf("step %d: subset's %v: %v, kernel %v", i, k, s, kernel[k])
			}
		}
	}
}
