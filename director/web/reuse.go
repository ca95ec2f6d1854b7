package web

import (
	"bytes"
	"encoding/binary"
	"slices"
	"sync"
	"unsafe"
)

// codes keeps, per family that Rows or Column writes with gzip, its lines'
// compressed code from the last scrape, so that a scrape whose family
// has the same values as the last one's (most of them, a second apart:
// weights, states, counters of idle services) sends that code again
// instead of writing and compressing the same lines. The code of a
// family's lines depends on nothing but its label sets (the same slice
// for a configuration's life), names, extras and values, and the line
// before them (the family's TYPE line): the compressor refers only to
// the line before and to the same part's line of the row before (see
// Rows), never further back. Each entry is keyed by its label sets and
// first name; a family not written for a few scrapes (a configuration
// gone by) is dropped.
type codes struct {
	mu     sync.Mutex
	scrape uint64 // counts scrapes, for dropping the entries not used
	m      map[codeKey]*familyCode
}

type codeKey struct {
	labels *string // the label sets' first element: Rows's labels slice
	rows   int
	name   string
}

// familyCode is one family's lines as the last scrape wrote them.
type familyCode struct {
	mu     sync.Mutex // held by the scrape using it; another scrape goes without
	used   uint64     // the codes' scrape count when last used
	valid  bool
	names  []string
	extras []string
	values []byte // every part's values, as their bits, one part after the other
	before []byte // the line before the lines (the compressor's reference)
	bits   []byte // the lines' compressed code, nbits long
	nbits  int
	crc    uint32 // the lines' CRC-32 and length
	size   int
	last   []byte // the last line (the next line's reference)
}

// reuseRows is how many lines a family has at least for its code to be
// kept: fewer cost little to write anew.
const reuseRows = 32

// newScrape counts a scrape and drops the entries that the two before
// it did not use.
func (c *codes) newScrape() {
	if c == nil {
		return
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	c.scrape++
	for k, e := range c.m {
		if e.used+2 < c.scrape {
			delete(c.m, k)
		}
	}
}

// ForgetCodes makes the next gzipped scrape write and compress every
// line, into the buffers the families' codes keep, as one does when
// every family changed since the last (benchmarks measure that case
// with it).
func (s *Server) ForgetCodes() {
	s.codes.mu.Lock()
	defer s.codes.mu.Unlock()
	for _, e := range s.codes.m {
		e.mu.Lock()
		e.valid = false
		e.mu.Unlock()
	}
}

// take returns the entry of the family, locked, or nil when another
// scrape holds it.
func (c *codes) take(labels []string, names []string) *familyCode {
	k := codeKey{unsafe.SliceData(labels), len(labels), names[0]}
	c.mu.Lock()
	e := c.m[k]
	if e == nil {
		if c.m == nil {
			c.m = map[codeKey]*familyCode{}
		}
		e = &familyCode{}
		c.m[k] = e
	}
	e.used = c.scrape
	c.mu.Unlock()
	if !e.mu.TryLock() {
		return nil
	}
	return e
}

// same reports whether the lines would be those of the entry: the same
// names, extras and values (compared by their bits: a NaN is equal to
// itself) after the same line.
func (e *familyCode) same(before []byte, names, extras []string, values [][]float64) bool {
	if !e.valid || !bytes.Equal(e.before, before) || !slices.Equal(e.names, names) || !slices.Equal(e.extras, extras) {
		return false
	}
	at := 0
	for _, v := range values {
		b := floatBytes(v)
		if len(e.values) < at+len(b) || !bytes.Equal(e.values[at:at+len(b)], b) {
			return false
		}
		at += len(b)
	}
	return at == len(e.values)
}

func floatBytes(v []float64) []byte {
	return unsafe.Slice((*byte)(unsafe.Pointer(unsafe.SliceData(v))), len(v)*8)
}

// cachedRows writes the family as Rows does, through its entry in the
// codes: the entry's code again when the family is the same as it was,
// or else the lines, whose code becomes the entry's. It reports false
// when it wrote nothing (no entry to use: the caller writes the lines).
func (t *Text) cachedRows(labels []string, names, extras []string, values [][]float64) bool {
	e := t.codes.take(labels, names)
	if e == nil {
		return false
	}
	defer e.mu.Unlock()
	if t.Flush() != nil {
		return false
	}
	z := t.z
	if !e.same(z.prev, names, extras, values) {
		t.record(e, labels, names, extras, values)
		if !e.valid {
			return true // the write failed: the client is gone
		}
	} else {
		t.base += e.size // where the lines would have been
		z.prev = append(z.prev[:0], e.last...)
	}
	z.splice(e.bits, e.nbits)
	z.crc, z.size = crc32Combine(z.crc, e.crc, e.size), z.size+uint32(e.size)
	t.err = z.spill()
	return true
}

// record writes the lines, keeping their code in e instead of adding it
// to the stream (the caller splices it in).
func (t *Text) record(e *familyCode, labels []string, names, extras []string, values [][]float64) {
	z := t.z
	e.valid = false
	e.before = append(e.before[:0], z.prev...)
	out, acc, nacc, crc, size := z.out, z.acc, z.nacc, z.crc, z.size
	z.out, z.acc, z.nacc, z.crc, z.size, z.recording = e.bits[:0], 0, 0, 0, 0, true
	defer func() {
		z.out, z.acc, z.nacc, z.crc, z.size, z.recording = out, acc, nacc, crc, size, false
	}()
	t.rows(labels, names, extras, values)
	if t.Flush() != nil {
		return
	}
	e.nbits = 8*len(z.out) + int(z.nacc)
	for n := z.nacc; n > 0; n = max(n, 8) - 8 {
		z.out = append(z.out, byte(z.acc))
		z.acc >>= 8
	}
	e.bits, e.crc, e.size = z.out, z.crc, int(z.size)
	e.last = append(e.last[:0], z.prev...)
	e.names, e.extras = append(e.names[:0], names...), append(e.extras[:0], extras...)
	e.values = e.values[:0]
	for _, v := range values {
		e.values = append(e.values, floatBytes(v)...)
	}
	e.valid = true
}

// splice appends nbits of code (the first in the low bits of its first
// byte) to the stream, 8 bytes at a time.
func (z *gzipLines) splice(code []byte, nbits int) {
	for len(code) >= 8 && nbits >= 64 {
		w := binary.LittleEndian.Uint64(code)
		z.out = binary.LittleEndian.AppendUint64(z.out, z.acc|w<<z.nacc)
		z.acc = 0
		if z.nacc > 0 {
			z.acc = w >> (64 - z.nacc)
		}
		code, nbits = code[8:], nbits-64
	}
	for ; nbits > 0; code = code[1:] {
		n := min(nbits, 8)
		z.bits(uint64(code[0])&(1<<n-1), uint(n))
		nbits -= n
	}
}

// crc32Combine returns the CRC-32 (IEEE) of a then b from theirs and b's
// length: a's shifted by b's length (multiplied by x^(8n) modulo the
// polynomial), added to b's (zlib's crc32_combine).
func crc32Combine(a, b uint32, n int) uint32 {
	p := uint32(1) << 31 // x^0, bit-reflected as the CRC is
	for k := 3; n > 0; n, k = n>>1, k+1 {
		if n&1 != 0 {
			p = mulModP(x2n[k&31], p)
		}
	}
	return mulModP(p, a) ^ b
}

// x2n[k] is x^(2^k) modulo the polynomial.
var x2n = func() (t [32]uint32) {
	p := uint32(1) << 30 // x^1
	t[0] = p
	for k := 1; k < len(t); k++ {
		p = mulModP(p, p)
		t[k] = p
	}
	return t
}()

// mulModP multiplies two polynomials modulo the CRC's (bit-reflected).
func mulModP(a, b uint32) uint32 {
	var p uint32
	for m := uint32(1) << 31; m != 0; m >>= 1 {
		if a&m != 0 {
			p ^= b
			if a&(m-1) == 0 {
				break
			}
		}
		if b&1 != 0 {
			b = b>>1 ^ 0xedb88320
		} else {
			b >>= 1
		}
	}
	return p
}
