package web

import (
	"bytes"
	"compress/gzip"
	"fmt"
	"io"
	"math/rand/v2"
	"strings"
	"syscall"
	"testing"
	"time"
)

// cpuTime is the process's CPU time so far (user and system): on a
// shared machine it varies less than the wall time.
func cpuTime() time.Duration {
	var ru syscall.Rusage
	syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// gunzip reads a stream with the standard library's reader, which checks
// the CRC and the length at the end.
func gunzip(t testing.TB, b []byte) []byte {
	t.Helper()
	r, err := gzip.NewReader(bytes.NewReader(b))
	if err != nil {
		t.Fatalf("gzip header: %v", err)
	}
	out, err := io.ReadAll(r)
	if err != nil {
		t.Fatalf("gzip body: %v", err)
	}
	return out
}

// compress writes in to a gzipLines in pieces cut at cuts (offsets).
func compress(in []byte, cuts ...int) []byte {
	var buf bytes.Buffer
	var z gzipLines
	z.reset(&buf)
	last := 0
	for _, c := range cuts {
		c = min(max(c, last), len(in))
		z.Write(in[last:c])
		last = c
	}
	z.Write(in[last:])
	z.Close()
	return buf.Bytes()
}

func exposition(services, reals int) []byte {
	var b bytes.Buffer
	b.WriteString("# HELP lvsd_real_up 1 when up.\n# TYPE lvsd_real_up gauge\n")
	for s := range services {
		for r := range reals {
			fmt.Fprintf(&b, `lvsd_real_up{service="svc%04d",local_address="192.0.2.%d",local_port="%d",proto="TCP",local_mark="",remote_address="198.51.100.%d",remote_port="8080"} %d`+"\n",
				s, 1+s%250, 1000+s, 1+r, (s*r)%2)
		}
	}
	return b.Bytes()
}

func TestGzipLinesRoundTrip(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	random := make([]byte, 100_000)
	for i := range random {
		random[i] = byte(rng.IntN(256))
	}
	repeated := bytes.Repeat([]byte("a"), 70_000) // one line, matches only at line starts
	long := strings.Repeat(strings.Repeat("x", 40_000)+"\n", 3)
	cases := map[string][]byte{
		"empty":              nil,
		"one byte":           []byte("x"),
		"no final newline":   []byte("abc\nabd"),
		"exposition":         exposition(20, 10),
		"random bytes":       random,
		"one long line":      repeated,
		"lines over window":  []byte(long),
		"long shared prefix": []byte(strings.Repeat(strings.Repeat("p", 600)+"1\n", 4) + strings.Repeat("p", 259) + "\n" + strings.Repeat("p", 260) + "\n"),
		"shorter, longer":    []byte("service=\"a\" 1\nservice=\"ab\" 1\nservice=\"b\" 12\nservice=\"b\" 2\n\n\n"),
	}
	for name, in := range cases {
		for _, cuts := range [][]int{nil, {1}, {len(in) / 3, len(in) / 2}, {7, 8, 9, 100, 5000, 40_001}} {
			got := gunzip(t, compress(in, cuts...))
			if !bytes.Equal(got, in) {
				t.Errorf("%s cut at %v: round trip differs (%d bytes in, %d out)", name, cuts, len(in), len(got))
			}
		}
	}
}

// TestGzipLinesCompressesAnExposition checks that the encoder finds the
// matches between lines: an exposition must shrink to a small fraction.
func TestGzipLinesCompressesAnExposition(t *testing.T) {
	in := exposition(100, 10)
	out := compress(in)
	if len(out)*8 > len(in) {
		t.Errorf("%d bytes compressed to %d: want under an eighth", len(in), len(out))
	}
}

func FuzzGzipLines(f *testing.F) {
	f.Add([]byte("a\nab\nabc\n"), 1)
	f.Add(exposition(2, 3), 100)
	f.Fuzz(func(t *testing.T, in []byte, cut int) {
		if got := gunzip(t, compress(in, cut)); !bytes.Equal(got, in) {
			t.Errorf("round trip differs: %q", got)
		}
	})
}

func BenchmarkGzipLines(b *testing.B) {
	in := exposition(1000, 10)
	var z gzipLines
	b.SetBytes(int64(len(in)))
	cpu0 := cpuTime()
	for b.Loop() {
		z.reset(io.Discard)
		for off := 0; off < len(in); off += 64 << 10 {
			z.Write(in[off:min(off+64<<10, len(in))])
		}
		z.Close()
	}
	b.ReportMetric(float64(cpuTime()-cpu0)/float64(b.N), "cpu-ns/op")
	out := compress(in)
	b.ReportMetric(float64(len(out)), "out-bytes")
}
