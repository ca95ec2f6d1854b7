package web

import (
	"math"
	"sync"
	"unsafe"
)

// Column writes one family's samples, a line per label set: values[i]
// for labels[i], in that order; a NaN value leaves its line out. The
// parts pass the same labels slice (rendered once per configuration, and
// never modified after) for every family of their services or
// realservers, scrape after scrape: the compressor learns once how each
// label set differs from the one before it, and then codes a line as a
// copy of the line before, the few bytes that differ, and the value,
// without comparing any byte (see chain).
func (t *Text) Column(name string, labels []string, values []float64) {
	var ch *chain
	if t.z != nil {
		ch = t.chains.get(labels)
	}
	prevLen := -1 // the line before's length, when it is this column's row i-1
	for i, v := range values {
		if math.IsNaN(v) {
			prevLen = -1
			continue
		}
		start := len(t.buf)
		b := append(t.buf, name...)
		b = append(b, '{')
		b = append(b, labels[i]...)
		b = append(b, '}', ' ')
		vs := len(b)
		b = appendValue(b, v)
		val := b[vs:]
		t.buf = append(b, '\n')
		n := len(t.buf) - start
		if ch != nil && prevLen >= 0 && len(name) >= 2 && max(prevLen, n, prevLen+len(labels[i])-len(labels[i-1])) <= window {
			t.encodePending(start)
			t.z.fastLine(ch, i, len(name), labels[i], labels[i-1], val, t.pv, prevLen)
			t.enc = len(t.buf)
		}
		t.pv = append(t.pv[:0], val...)
		prevLen = n
		if len(t.buf) >= chunk {
			t.Flush()
		}
	}
}

// fastLine codes row i of ch, a line `name{labels} value\n` that
// follows row i-1's (prevLabels, its value pv, prevLen bytes long): a
// copy of the name and the labels' common start, the middle as ch
// says, then a copy of the labels' common end, "} " and whatever start
// of the value the two lines share. The caller checked that every
// distance fits the window, and that the name has at least 2 bytes (a
// copy has 3).
func (z *gzipLines) fastLine(ch *chain, i, nameLen int, labels, prevLabels string, val, pv []byte, prevLen int) {
	cp, sfx := int(ch.cp[i]), int(ch.sfx[i])
	endDist := prevLen + len(labels) - len(prevLabels) // from the labels' end to the one before's
	z.copyBack(nameLen+1+cp, prevLen)
	k := cp
	for _, o := range ch.ops[ch.opsAt[i]:ch.opsAt[i+1]] {
		n := int(o.n)
		switch o.kind {
		case opLiteral:
			mid := labels[k : k+n]
			z.literals(unsafe.Slice(unsafe.StringData(mid), n))
		case opSameOffset:
			z.copyBack(n, prevLen)
		case opSameEnd:
			z.copyBack(n, endDist)
		}
		k += n
	}
	tail := sfx + 2 + commonPrefix(val, pv) // the labels' end, "} ", the value's shared start
	same := len(val) == len(pv) && tail == sfx+2+len(val)
	if same {
		tail++ // and the newline
	}
	if tail >= 3 {
		z.copyBack(tail, endDist)
	} else {
		z.literals([]byte("} ")[:tail])
	}
	if !same {
		z.literals(val[tail-sfx-2:])
		z.literals([]byte{'\n'})
	}
}

// chain is how each label set of a column differs from the one before:
// cp[i] bytes in common at the start, sfx[i] at the end of what follows,
// and in between ops[opsAt[i]:opsAt[i+1]]: literals, and copies of the
// bytes before at the same offset from the labels' start or end (the
// middle of two services' label sets has the same label names and
// mostly the same values).
type chain struct {
	cp, sfx []uint16
	opsAt   []int32
	ops     []op
}

type op struct {
	kind uint8
	n    uint16
}

const (
	opLiteral = iota
	opSameOffset
	opSameEnd
)

// chains caches a chain per labels slice: one per configuration and kind
// of row (services, realservers). The key is the slice's first element,
// which the cache keeps alive, so its address is never another slice's.
type chains struct {
	mu sync.Mutex
	m  map[*string]*chain
}

func (c *chains) get(labels []string) *chain {
	if c == nil || len(labels) < 2 {
		return nil
	}
	key := unsafe.SliceData(labels)
	c.mu.Lock()
	defer c.mu.Unlock()
	if ch, ok := c.m[key]; ok && len(ch.cp) == len(labels) {
		return ch
	}
	if c.m == nil || len(c.m) >= 16 { // configurations gone by
		c.m = map[*string]*chain{}
	}
	ch := newChain(labels)
	c.m[key] = ch
	return ch
}

func newChain(labels []string) *chain {
	ch := &chain{cp: make([]uint16, len(labels)), sfx: make([]uint16, len(labels)), opsAt: make([]int32, len(labels)+1)}
	for i := 1; i < len(labels); i++ {
		ch.opsAt[i] = int32(len(ch.ops))
		a, b := labels[i], labels[i-1]
		if len(a) > math.MaxUint16 || len(b) > math.MaxUint16 {
			ch.ops = append(ch.ops, op{opLiteral, 0}) // never taken: Column checks the window first
			continue
		}
		ab, bb := unsafe.Slice(unsafe.StringData(a), len(a)), unsafe.Slice(unsafe.StringData(b), len(b))
		cp := commonPrefix(ab, bb)
		sfx := 0
		for sfx < len(a)-cp && sfx < len(b)-cp && a[len(a)-1-sfx] == b[len(b)-1-sfx] {
			sfx++
		}
		ch.cp[i], ch.sfx[i] = uint16(cp), uint16(sfx)
		ch.ops = middle(ch.ops, ab, bb, cp, len(a)-sfx)
	}
	ch.opsAt[len(labels)] = int32(len(ch.ops))
	return ch
}

// middle appends the ops that code a[from:to] from b: copies of at
// least minMatch bytes at the same offset or the same distance from the
// end, literals between.
func middle(ops []op, a, b []byte, from, to int) []op {
	shift := len(b) - len(a)
	lit := 0
	flush := func() {
		if lit > 0 {
			ops = append(ops, op{opLiteral, uint16(lit)})
			lit = 0
		}
	}
	for k := from; k < to; {
		best, kind := 0, uint8(opLiteral)
		if k < len(b) {
			best, kind = commonPrefix(a[k:to], b[k:]), opSameOffset
		}
		if j := k + shift; shift != 0 && j >= 0 && j < len(b) {
			if n := commonPrefix(a[k:to], b[j:]); n > best {
				best, kind = n, opSameEnd
			}
		}
		if best < minMatch {
			lit++
			k++
			continue
		}
		flush()
		ops = append(ops, op{kind, uint16(best)})
		k += best
	}
	flush()
	return ops
}
