package web

import (
	"bytes"
	"io"
	"math"
	"strconv"
	"strings"
)

// Text writes the families that grow with the farm (one series per
// service or realserver) straight to the text exposition format, from
// label strings the parts render once per configuration. client_golang's
// Gather costs about 2 µs a series in allocations, sorting and checks:
// 190 ms a scrape at 1,000 services x 10 realservers, where a scrape must
// cost a few ms. The families that do not grow (VRRP, reconciles,
// reloads, build info) stay on a client_golang registry.
//
// Lines are appended to one buffer, reused from scrape to scrape, and
// handed to the response (or its compressor) about every chunk bytes, at
// a line's end: no fmt, no allocation per line.
//
// Its methods match the small Exposition interfaces that the parts
// declare beside their metrics (healthcheck, ipvs, the engine), so none
// of them imports this package.
type Text struct {
	buf []byte
	out io.Writer
	err error // the first write error: the client went away

	// With gzip: the compressor, the bytes of buf it has coded (the rest
	// it codes at the next Flush or Rows line), and the server's chains.
	z      *gzipLines
	enc    int
	chains *chains
	codes  *codes

	// For Rows: where buf starts in the text, and per part the row
	// before's line (where it starts in the text, and its value).
	base int
	refs []int
	pvs  [][]byte
}

// chunk is how much text Text holds before handing it on: big enough to
// make few writes, small enough to stay in the CPU's cache.
const chunk = 64 << 10

// Family starts a family: its HELP and TYPE lines. kind is "gauge",
// "counter" or "histogram". Every sample of a family must follow its
// Family call, before the next family starts.
func (t *Text) Family(name, help, kind string) {
	b := append(t.buf, "# HELP "...)
	b = append(b, name...)
	b = append(b, ' ')
	b = append(b, escapeHelp(help)...)
	b = append(b, "\n# TYPE "...)
	b = append(b, name...)
	b = append(b, ' ')
	b = append(b, kind...)
	t.buf = append(b, '\n')
	t.lineDone()
}

// Sample writes one series: labels is the rendered label set without
// braces (`service="web",local_port="80"`), "" for none; extra, when not
// empty, is one more rendered label appended to it (a reason, a bucket's
// le).
func (t *Text) Sample(name, labels, extra string, v float64) {
	b := append(t.buf, name...)
	if labels != "" || extra != "" {
		b = append(b, '{')
		b = append(b, labels...)
		if labels != "" && extra != "" {
			b = append(b, ',')
		}
		b = append(b, extra...)
		b = append(b, '}')
	}
	b = append(b, ' ')
	b = appendValue(b, v)
	t.buf = append(b, '\n')
	t.lineDone()
}

// Write appends p as it is (the registry's families, which its encoder
// writes).
func (t *Text) Write(p []byte) (int, error) {
	t.buf = append(t.buf, p...)
	t.lineDone()
	return len(p), nil
}

func (t *Text) lineDone() {
	if len(t.buf) >= chunk {
		t.Flush()
	}
}

// Flush hands the text held on; it returns the first write error.
func (t *Text) Flush() error {
	if len(t.buf) > 0 && t.err == nil {
		if t.z != nil {
			t.encodePending(len(t.buf))
			t.z.sum(t.buf)
			t.z.keepLast(t.buf)
			t.err = t.z.spill()
		} else {
			_, t.err = t.out.Write(t.buf)
		}
	}
	t.base += len(t.buf)
	t.buf, t.enc = t.buf[:0], 0
	return t.err
}

// encodePending codes buf[enc:upto] with the compressor's own search.
func (t *Text) encodePending(upto int) {
	if t.enc >= upto {
		return
	}
	prev := t.z.prev
	if t.enc > 0 {
		prev = t.buf[bytes.LastIndexByte(t.buf[:t.enc-1], '\n')+1 : t.enc]
	}
	t.z.encode(t.buf[t.enc:upto], prev)
	t.enc = upto
}

// appendValue formats v as the text format wants it: integers without an
// exponent, and +Inf, -Inf, NaN spelled out.
func appendValue(b []byte, v float64) []byte {
	if v >= 0 && v < 1e15 { // most values: counts, states, weights
		if u := uint64(v); float64(u) == v {
			if u < 10 {
				return append(b, byte('0'+u))
			}
			return strconv.AppendUint(b, u, 10)
		}
	}
	if v >= 1e-4 && v < 1e6 { // most of the rest: latencies, sums of seconds
		if b, ok := appendNano(b, v); ok {
			return b
		}
	}
	switch {
	case math.IsInf(v, 1):
		return append(b, "+Inf"...)
	case math.IsInf(v, -1):
		return append(b, "-Inf"...)
	case math.IsNaN(v):
		return append(b, "NaN"...)
	case v == math.Trunc(v) && math.Abs(v) < 1e15:
		return strconv.AppendInt(b, int64(v), 10)
	}
	return strconv.AppendFloat(b, v, 'g', -1, 64)
}

// appendNano formats v, in [1e-4, 1e6), as strconv's shortest 'g' would,
// when v is a whole number of nanoseconds (n/1e9, as lvsd makes its
// seconds): the integer part, a point and the nine digits of n less the
// trailing zeros. strconv's shortest search costs about 100 ns a value,
// a tenth of a live scrape's CPU at 1,000 services x 10 realservers.
//
// Why it is the same string: 'g' writes v without an exponent in that
// range, with the fewest digits that read back as v. The decimal n/1e9
// reads back as v (checked: float64(n)/1e9, correctly rounded, is v),
// and no decimal with fewer digits does: it would differ from n/1e9 by
// 1e-9 or more, while two decimals that read back as v are less than an
// ulp of v apart, at most 1.2e-10 below 1e6.
func appendNano(b []byte, v float64) ([]byte, bool) {
	n := math.Round(v * 1e9)
	if float64(n)/1e9 != v {
		return b, false
	}
	u := uint64(n)
	b = strconv.AppendUint(b, u/1e9, 10)
	frac := u % 1e9
	if frac == 0 {
		return b, true // not taken: whole numbers take appendValue's first path
	}
	digits := 9
	for frac%10 == 0 {
		frac /= 10
		digits--
	}
	b = append(b, '.')
	at := len(b)
	b = append(b, "000000000"[:digits]...)
	for i := at + digits - 1; frac > 0; i-- {
		b[i] = byte('0' + frac%10)
		frac /= 10
	}
	return b, true
}

func escapeHelp(s string) string {
	for i := 0; i < len(s); i++ {
		if s[i] == '\\' || s[i] == '\n' {
			return helpEscaper.Replace(s)
		}
	}
	return s
}

var (
	helpEscaper  = strings.NewReplacer(`\`, `\\`, "\n", `\n`)
	labelEscaper = strings.NewReplacer(`\`, `\\`, "\n", `\n`, `"`, `\"`)
)

// Labels renders name, value pairs as a label set for Text.Sample
// (`a="1",b="2"`), escaping the values as the text format wants.
func Labels(pairs ...string) string {
	var b strings.Builder
	for i := 0; i+1 < len(pairs); i += 2 {
		if i > 0 {
			b.WriteByte(',')
		}
		b.WriteString(pairs[i])
		b.WriteString(`="`)
		b.WriteString(labelEscaper.Replace(pairs[i+1]))
		b.WriteByte('"')
	}
	return b.String()
}
