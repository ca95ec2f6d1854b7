package vm

import (
	"bytes"
	"os/exec"
	"slices"
	"strconv"
	"strings"
	"testing"
)

// cpioEntry is one parsed newc entry.
type cpioEntry struct {
	name        string
	mode, nlink uint32
	rmaj, rmin  uint32
	data        []byte
}

// readCPIO parses a newc archive up to its trailer, checking padding.
func readCPIO(t *testing.T, b []byte) []cpioEntry {
	t.Helper()
	var out []cpioEntry
	off := 0
	for {
		if off%4 != 0 || len(b)-off < 110 || string(b[off:off+6]) != "070701" {
			t.Fatalf("bad header at %d", off)
		}
		var f [13]uint32
		for i := range f {
			v, err := strconv.ParseUint(string(b[off+6+8*i:off+14+8*i]), 16, 32)
			if err != nil {
				t.Fatalf("field %d at %d: %v", i, off, err)
			}
			f[i] = uint32(v)
		}
		nameEnd := off + 110 + int(f[11])
		name := string(b[off+110 : nameEnd-1])
		if b[nameEnd-1] != 0 {
			t.Fatalf("name %q not NUL-terminated", name)
		}
		dataOff := nameEnd + (4-nameEnd%4)%4
		e := cpioEntry{name: name, mode: f[1], nlink: f[4], rmaj: f[9], rmin: f[10],
			data: b[dataOff : dataOff+int(f[6])]}
		off = dataOff + int(f[6])
		off += (4 - off%4) % 4
		if name == "TRAILER!!!" {
			if off != len(b) {
				t.Fatalf("%d bytes after trailer", len(b)-off)
			}
			return out
		}
		out = append(out, e)
	}
}

func writeTestArchive(t *testing.T) []byte {
	t.Helper()
	var buf bytes.Buffer
	cw := newCPIOWriter(&buf)
	for _, err := range []error{
		cw.Dir("bin", 0o755),
		cw.File("/bin/a", 0o755, []byte("abc")), // leading slash is dropped
		cw.File("bin/empty", 0o644, nil),
		cw.Symlink("bin/sh", "a"),
		cw.Dir("dev", 0o755),
		cw.CharDev("dev/console", 0o600, 5, 1),
		cw.File("long-name-that-needs-padding.txt", 0o600, []byte("12345")),
		cw.Close(),
	} {
		if err != nil {
			t.Fatal(err)
		}
	}
	return buf.Bytes()
}

func TestCPIOWriterParsesBack(t *testing.T) {
	got := readCPIO(t, writeTestArchive(t))
	want := []cpioEntry{
		{"bin", cpioDir | 0o755, 2, 0, 0, []byte{}},
		{"bin/a", cpioFile | 0o755, 1, 0, 0, []byte("abc")},
		{"bin/empty", cpioFile | 0o644, 1, 0, 0, []byte{}},
		{"bin/sh", cpioLink | 0o777, 1, 0, 0, []byte("a")},
		{"dev", cpioDir | 0o755, 2, 0, 0, []byte{}},
		{"dev/console", cpioChar | 0o600, 1, 5, 1, []byte{}},
		{"long-name-that-needs-padding.txt", cpioFile | 0o600, 1, 0, 0, []byte("12345")},
	}
	if len(got) != len(want) {
		t.Fatalf("got %d entries, want %d: %+v", len(got), len(want), got)
	}
	for i := range want {
		g, w := got[i], want[i]
		if g.name != w.name || g.mode != w.mode || g.nlink != w.nlink ||
			g.rmaj != w.rmaj || g.rmin != w.rmin || !bytes.Equal(g.data, w.data) {
			t.Errorf("entry %d:\n got %+v\nwant %+v", i, g, w)
		}
	}
}

func TestCPIOWriterMatchesCPIOTool(t *testing.T) {
	if _, err := exec.LookPath("cpio"); err != nil {
		t.Skip("cpio not installed")
	}
	cmd := exec.Command("cpio", "-it", "--quiet")
	cmd.Stdin = bytes.NewReader(writeTestArchive(t))
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("cpio -it: %v: %s", err, out)
	}
	got := strings.Fields(string(out))
	want := []string{"bin", "bin/a", "bin/empty", "bin/sh", "dev", "dev/console", "long-name-that-needs-padding.txt"}
	if !slices.Equal(got, want) {
		t.Errorf("cpio -it: got %q, want %q", got, want)
	}
}

func TestCPIOWriterRejectsBadNames(t *testing.T) {
	for _, name := range []string{"", "/", "a\x00b"} {
		if err := newCPIOWriter(&bytes.Buffer{}).File(name, 0o644, nil); err == nil {
			t.Errorf("File(%q): no error", name)
		}
	}
}
