package vm

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestTailBuffer(t *testing.T) {
	tb := &tailBuffer{max: 16}
	tb.Write([]byte("short\r\n"))
	if got := tb.String(); got != "short\n" {
		t.Errorf("got %q", got)
	}
	tb.Write([]byte("line two\nline three\n"))
	// The 16 kept bytes start inside "line two": cut to the next line.
	if got := tb.String(); got != "line three\n" {
		t.Errorf("got %q", got)
	}
	tb.Write(bytes.Repeat([]byte("x"), 100))
	if got := tb.String(); got != strings.Repeat("x", 16) {
		t.Errorf("got %q", got)
	}
}

func TestFollower(t *testing.T) {
	path := filepath.Join(t.TempDir(), "stdout")
	var out bytes.Buffer
	fl := &follower{path: path, w: &out}
	defer fl.close()
	if err := fl.poll(); err != nil || out.Len() != 0 {
		t.Fatalf("before the file exists: %v, %q", err, out.String())
	}
	f, err := os.Create(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	for _, chunk := range []string{"one\n", "", "two\nthr", "ee\n"} {
		f.WriteString(chunk)
		if err := fl.poll(); err != nil {
			t.Fatal(err)
		}
	}
	if got := out.String(); got != "one\ntwo\nthree\n" {
		t.Errorf("got %q", got)
	}
}

func TestParseStatus(t *testing.T) {
	for in, want := range map[string]int{"0\n": 0, "3": 3, " 255 \n": 255} {
		if got, err := parseStatus([]byte(in)); err != nil || got != want {
			t.Errorf("parseStatus(%q) = %d, %v", in, got, err)
		}
	}
	for _, in := range []string{"", "\n", "x", "-1", "256", "1 2"} {
		if _, err := parseStatus([]byte(in)); err == nil {
			t.Errorf("parseStatus(%q): no error", in)
		}
	}
}
