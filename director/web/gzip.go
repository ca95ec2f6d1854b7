package web

import (
	"bytes"
	"encoding/binary"
	"hash/crc32"
	"io"
	"math/bits"
)

// gzipLines compresses the exposition for clients that accept gzip, as
// Prometheus asks by default. At 1,000 services x 10 realservers a scrape
// is 17.7 MB of text in 110,000 lines: compress/gzip at BestSpeed took
// 27 ms for it, klauspost/compress at level 1 14 ms, each more than a
// whole scrape may cost (10 ms). Uncompressed, it is 17.7 MB on the wire
// every scrape and scraper.
//
// Consecutive lines of a family differ in a few bytes (a realserver's
// address, the value), so this encoder looks for matches only in the
// line before, at the same offset from its start or from its end, and
// codes them with deflate's fixed Huffman codes (RFC 1951 3.2.6): no hash
// table, no search, no tree to build or send. It makes about 10 bytes a
// line where gzip -1 makes 7, for a tenth of the CPU; any gzip reader
// reads it. The stream is one final fixed-Huffman block, which RFC 1951
// lets run to any length.
type gzipLines struct {
	w io.Writer
	bitWriter
	crc  uint32
	size uint32 // ISIZE: the input's length modulo 2^32 (RFC 1952)
	prev []byte // the input's last line (or its tail) before the next Write
	err  error

	recording bool // the code goes to a family's entry (codes), not to w
}

const (
	window   = 32768 // deflate's largest distance
	minMatch = 4     // a 3-byte match costs about as much as three literals
	maxMatch = 258
)

// reset starts a new gzip member on w: the header (RFC 1952 2.3: no
// name, no time, OS unknown) and the start of the one block (BFINAL 1,
// BTYPE 01 fixed Huffman).
func (z *gzipLines) reset(w io.Writer) {
	*z = gzipLines{w: w, bitWriter: bitWriter{out: append(z.out[:0], 0x1f, 0x8b, 8, 0, 0, 0, 0, 0, 0, 255)}, prev: z.prev[:0]}
	z.bits(1|1<<1, 3)
}

// Write compresses p. Any split of the input gives a valid stream; one
// that ends Writes at line ends compresses best.
func (z *gzipLines) Write(p []byte) (int, error) {
	if z.err != nil {
		return 0, z.err
	}
	z.sum(p)
	z.encode(p, z.prev)
	z.keepLast(p)
	return len(p), z.flush()
}

// sum counts p into the trailer's CRC and length; every byte of the
// input goes through it once, in order, whatever codes it.
func (z *gzipLines) sum(p []byte) {
	z.crc = crc32.Update(z.crc, crc32.IEEETable, p)
	z.size += uint32(len(p))
}

// encode codes p, which follows prev directly in the input, line by line.
func (z *gzipLines) encode(p, prev []byte) {
	for rest := p; len(rest) > 0; {
		n := len(rest)
		if i := bytes.IndexByte(rest, '\n'); i >= 0 {
			n = i + 1
		}
		z.line(rest[:n], prev)
		prev, rest = rest[:n], rest[n:]
	}
}

// keepLast keeps p's last line (at most a window of it) for the next
// encode: the bytes before the next input.
func (z *gzipLines) keepLast(p []byte) {
	if len(p) == 0 {
		return
	}
	start := bytes.LastIndexByte(p[:len(p)-1], '\n') + 1
	if len(p)-start > window {
		start = len(p) - window
	}
	if start == 0 && len(p) < window && len(z.prev) > 0 && z.prev[len(z.prev)-1] != '\n' {
		// The line began before p: keep what is kept of it too.
		keep := max(0, min(len(z.prev), window-len(p)))
		z.prev = append(z.prev[:0], z.prev[len(z.prev)-keep:]...)
		z.prev = append(z.prev, p...)
		return
	}
	z.prev = append(z.prev[:0], p[start:]...)
}

// bitWriter is the code not yet handed on: whole bytes in out, and the
// bits after them in acc, the first in the low bits.
type bitWriter struct {
	out  []byte
	acc  uint64
	nacc uint
}

// put appends the n low bits of v (n <= 32).
func (w *bitWriter) put(v uint64, n uint) {
	w.acc |= v << w.nacc
	w.nacc += n
	if w.nacc >= 32 {
		w.out = binary.LittleEndian.AppendUint32(w.out, uint32(w.acc))
		w.acc >>= 32
		w.nacc -= 32
	}
}

// copyBack codes n >= 3 bytes as copies of those a distance back whose
// code is d (distCode), in matches of at most maxMatch.
func (w *bitWriter) copyBack(n int, d distance) {
	for n > 0 {
		m := min(n, maxMatch)
		if r := n - m; r > 0 && r < 3 {
			m -= 3 - r // leave at least 3 for the last match
		}
		l := lenCodes[m]
		w.put(uint64(l.code)|d.code<<l.n, uint(l.n)+d.n)
		n -= m
	}
}

// literals codes p byte by byte, four at a time while they are ASCII
// (below 128, one test for the four): every literal below 144 has an
// 8-bit code (RFC 1951 3.2.6).
func (w *bitWriter) literals(p []byte) {
	for len(p) >= 4 && p[0]|p[1]|p[2]|p[3] < 128 {
		w.put(uint64(litCodes[p[0]].code)|uint64(litCodes[p[1]].code)<<8|uint64(litCodes[p[2]].code)<<16|uint64(litCodes[p[3]].code)<<24, 32)
		p = p[4:]
	}
	for _, b := range p {
		c := litCodes[b]
		w.put(uint64(c.code), uint(c.n))
	}
}

// Close ends the block (code 256) and writes the trailer: CRC-32 and
// ISIZE, little-endian.
func (z *gzipLines) Close() error {
	if z.err != nil {
		return z.err
	}
	z.bits(0, 7)
	for z.nacc > 0 {
		z.out = append(z.out, byte(z.acc))
		z.acc >>= 8
		z.nacc = uint(max(int(z.nacc)-8, 0))
	}
	z.out = binary.LittleEndian.AppendUint32(z.out, z.crc)
	z.out = binary.LittleEndian.AppendUint32(z.out, z.size)
	return z.flush()
}

// outChunk is how many compressed bytes a scrape holds before writing
// them to the response: a write is a chunk of the HTTP response and a
// system call, and at 1,000 services x 10 realservers 64 KB of text
// compress to 4 KB.
const outChunk = 64 << 10

// spill writes the compressed bytes on once there are outChunk of them.
func (z *gzipLines) spill() error {
	if len(z.out) >= outChunk && !z.recording {
		return z.flush()
	}
	return z.err
}

func (z *gzipLines) flush() error {
	if len(z.out) > 0 && z.err == nil {
		_, z.err = z.w.Write(z.out)
	}
	z.out = z.out[:0]
	return z.err
}

// line codes cur, which follows prev directly in the input: a byte of cur
// is a literal unless at least minMatch bytes from it equal prev's at the
// same offset from the start (distance len(prev)) or from the end
// (distance len(cur)). The bit buffer stays in locals: this loop is most
// of a compressed scrape's cost.
func (z *gzipLines) line(cur, prev []byte) {
	acc, nacc, out := z.acc, z.nacc, z.out
	put := func(v uint64, n uint) {
		acc |= v << nacc
		nacc += n
		if nacc >= 32 {
			out = binary.LittleEndian.AppendUint32(out, uint32(acc))
			acc >>= 32
			nacc -= 32
		}
	}
	lc, lp := len(cur), len(prev)
	startOK, endOK := lp <= window, lp != lc && lc <= window
	for i := 0; i < lc; {
		best, dist := 0, 0
		c := cur[i]
		if i < lp && startOK && prev[i] == c {
			best, dist = commonPrefix(cur[i:], prev[i:]), lp
		}
		if j := i + lp - lc; endOK && j >= 0 && j < lp && prev[j] == c {
			if n := commonPrefix(cur[i:], prev[j:]); n > best {
				best, dist = n, lc
			}
		}
		if best < minMatch {
			lit := litCodes[c]
			put(uint64(lit.code), uint(lit.n))
			i++
			continue
		}
		i += best
		for best > 0 {
			m := min(best, maxMatch)
			if r := best - m; r > 0 && r < 3 {
				m -= 3 - r // leave at least 3 for the last match
			}
			v, n := matchCode(m, dist)
			put(v, n)
			best -= m
		}
	}
	z.acc, z.nacc, z.out = acc, nacc, out
}

// matchCode codes a copy of length bytes from dist back: the length's
// code and extra bits, then the distance's (RFC 1951 3.2.5), at most 31
// bits.
func matchCode(length, dist int) (uint64, uint) {
	l, d := lenCodes[length], distCode(dist)
	return uint64(l.code) | d.code<<l.n, uint(l.n) + d.n
}

// distance is a distance's code with its extra bits above it, and their
// length (at most 5 + 13 bits).
type distance struct {
	code uint64
	n    uint
}

// distCode codes a distance of 1 to window bytes (RFC 1951 3.2.5).
func distCode(dist int) distance {
	x := uint32(dist - 1)
	var dcode, dextra, dn uint32
	if x < 4 {
		dcode = x
	} else {
		hb := uint32(bits.Len32(x)) - 1
		dn = hb - 1
		dcode = 2*hb + (x>>(hb-1))&1
		dextra = x & (1<<dn - 1)
	}
	return distance{uint64(distCodes[dcode]) | uint64(dextra)<<5, 5 + uint(dn)}
}

// bits appends the n low bits of v (n <= 32).
func (z *gzipLines) bits(v uint64, n uint) { z.put(v, n) }

func commonPrefix(a, b []byte) int {
	n := min(len(a), len(b))
	i := 0
	for ; i+8 <= n; i += 8 {
		if x := binary.LittleEndian.Uint64(a[i:]) ^ binary.LittleEndian.Uint64(b[i:]); x != 0 {
			return i + bits.TrailingZeros64(x)/8
		}
	}
	for ; i < n && a[i] == b[i]; i++ {
	}
	return i
}

// code is a Huffman code already bit-reversed (deflate sends Huffman
// codes from their high bit, everything else from the low bit), with its
// extra bits above it, and the total length.
type code struct {
	code uint32
	n    uint8
}

var litCodes, lenCodes = fixedCodes()

// distCodes are the fixed 5-bit distance codes, bit-reversed.
var distCodes = func() (out [30]uint8) {
	for i := range out {
		out[i] = uint8(reverse(uint32(i), 5))
	}
	return out
}()

// fixedCodes builds the fixed literal codes and, per match length 3..258,
// the length symbol's code with its extra bits (RFC 1951 3.2.5, 3.2.6).
func fixedCodes() (lit [256]code, length [maxMatch + 1]code) {
	for b := range 256 {
		if b < 144 {
			lit[b] = code{reverse(uint32(0x30+b), 8), 8}
		} else {
			lit[b] = code{reverse(uint32(0x190+b-144), 9), 9}
		}
	}
	symCode := func(sym int) code {
		if sym < 280 {
			return code{reverse(uint32(sym-256), 7), 7}
		}
		return code{reverse(uint32(0xc0+sym-280), 8), 8}
	}
	base := [...]int{3, 4, 5, 6, 7, 8, 9, 10, 11, 13, 15, 17, 19, 23, 27, 31, 35, 43, 51, 59, 67, 83, 99, 115, 131, 163, 195, 227}
	for i, b := range base {
		extra := 0
		if i >= 8 {
			extra = (i - 4) / 4
		}
		c := symCode(257 + i)
		for e := range 1 << extra {
			if l := b + e; l < maxMatch {
				length[l] = code{c.code | uint32(e)<<c.n, c.n + uint8(extra)}
			}
		}
	}
	length[maxMatch] = symCode(285)
	return lit, length
}

func reverse(c uint32, n int) uint32 { return bits.Reverse32(c) >> (32 - n) }
