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
	names, extras, vals := [1]string{name}, [1]string{}, [1][]float64{values}
	t.Rows(labels, names[:], extras[:], vals[:])
}

// Rows writes, for each label set labels[i] in turn, a line per part k:
// names[k]{labels[i],extras[k]} values[k][i] (extras[k] is one more
// rendered label, or ""); a NaN value leaves its line out. A histogram
// is written so, its buckets, sum and count being the parts, and so are
// families that follow each other row by row. Every values[k] has a
// value per row. As with Column, the compressor codes each line from the
// same part's line of the row before, a few lines back.
//
// With gzip, a family of at least reuseRows lines whose values are those
// of the last scrape sends the code of its lines again (see codes).
func (t *Text) Rows(labels []string, names, extras []string, values [][]float64) {
	if t.z != nil && t.codes != nil && t.err == nil && len(names) > 0 && len(labels)*len(names) >= reuseRows &&
		t.cachedRows(labels, names, extras, values) {
		return
	}
	t.rows(labels, names, extras, values)
}

func (t *Text) rows(labels []string, names, extras []string, values [][]float64) {
	var ch *chain
	if t.z != nil {
		ch = t.chains.get(labels)
	}
	parts := len(names)
	t.refs = t.refs[:0] // per part: where the row before's line starts in the text, or -1
	for range parts {
		t.refs = append(t.refs, -1)
	}
	for len(t.pvs) < parts {
		t.pvs = append(t.pvs, nil)
	}
	rows := 0
	if parts > 0 {
		rows = len(values[0])
	}
	for i := range rows {
		for k, name := range names {
			v := values[k][i]
			if math.IsNaN(v) {
				t.refs[k] = -1
				continue
			}
			extra := extras[k]
			sep := labels[i] != "" && extra != ""
			start := len(t.buf)
			b := append(t.buf, name...)
			b = append(b, '{')
			b = append(b, labels[i]...)
			if sep {
				b = append(b, ',')
			}
			b = append(b, extra...)
			b = append(b, '}', ' ')
			valAt := len(b) - start
			b = appendValue(b, v)
			t.buf = append(b, '\n')
			pos := t.base + start
			if ref := t.refs[k]; ch != nil && ref >= 0 && len(name) >= 2 && sep == (labels[i-1] != "" && extra != "") {
				dist := pos - ref
				endDist := dist + len(labels[i]) - len(labels[i-1])
				if max(dist, endDist, len(t.buf)-start) <= window {
					t.encodePending(start)
					t.z.fastLine(ch, i, t.buf[start:], len(name), labels[i], labels[i-1], valAt, t.pvs[k], dist)
					t.enc = len(t.buf)
				}
			}
			t.pvs[k] = append(t.pvs[k][:0], t.buf[start+valAt:len(t.buf)-1]...)
			t.refs[k] = pos
			if len(t.buf) >= chunk {
				t.Flush()
			}
		}
	}
}

// fastLine codes line, row i of ch: `name{labels...} value\n`, the value
// at valAt, which follows the same part's line of row i-1 (prevLabels,
// its value pv) dist bytes back: a copy of the name and the labels'
// common start, the middle as ch says, then a copy of the labels'
// common end, what follows them up to the value (the extra label, "} ")
// and whatever start of the value the two lines share. The caller
// checked that every distance fits the window, and that the name has at
// least 2 bytes (a copy has 3).
func (z *gzipLines) fastLine(ch *chain, i int, line []byte, nameLen int, labels, prevLabels string, valAt int, pv []byte, dist int) {
	w := &z.bitWriter
	cp, sfx := int(ch.cp[i]), int(ch.sfx[i])
	endDist := dist + len(labels) - len(prevLabels) // from the labels' end to the one before's
	back, backEnd := distCode(dist), distCode(endDist)
	w.copyBack(nameLen+1+cp, back)
	k := cp
	for _, o := range ch.ops[ch.opsAt[i]:ch.opsAt[i+1]] {
		n := int(o.n)
		switch o.kind {
		case opLiteral:
			w.literals(unsafe.Slice(unsafe.StringData(labels[k:]), n))
		case opSameOffset:
			w.copyBack(n, back)
		case opSameEnd:
			w.copyBack(n, backEnd)
		}
		k += n
	}
	tailAt := nameLen + 1 + len(labels) - sfx
	val := line[valAt : len(line)-1]
	common := commonPrefix(val, pv)
	tail := valAt - tailAt + common // the labels' end, the extra, "} ", the value's shared start
	if common == len(val) && len(val) == len(pv) {
		tail++ // and the newline
	}
	if tail >= 3 {
		w.copyBack(tail, backEnd)
	} else {
		w.literals(line[tailAt : tailAt+tail])
	}
	w.literals(line[tailAt+tail:])
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
