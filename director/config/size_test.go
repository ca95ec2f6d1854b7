package config

import (
	"strings"
	"testing"
)

// TestMemoryLimit: director.memory_limit reads as GOMEMLIMIT does, and a
// size that is not one, or too small for lvsd itself, is refused at its
// line.
func TestMemoryLimit(t *testing.T) {
	for _, tt := range []struct {
		value string
		want  int64
		err   string
	}{
		{"", 0, ""},
		{"0", 0, ""},
		{"150MiB", 150 << 20, ""},
		{"1GiB", 1 << 30, ""},
		{"67108864", 64 << 20, ""},
		{"64MB", 0, `lvsd.yaml:2: director.memory_limit: "64MB" is not a size`},
		{"-1MiB", 0, `lvsd.yaml:2: director.memory_limit: "-1MiB" is not a size`},
		{"1MiB", 0, `lvsd.yaml:2: director.memory_limit: 1MiB is below 32MiB`},
	} {
		main := "node: n\n"
		if tt.value != "" {
			main += "director: {memory_limit: " + tt.value + "}\n"
		}
		cfg, err := Load(writeConfig(t, main, nil), Options{Host: fakeHost{}})
		switch {
		case tt.err != "":
			if err == nil || !strings.Contains(err.Error(), tt.err) {
				t.Errorf("%q: %v, want %q", tt.value, err, tt.err)
			}
		case err != nil:
			t.Errorf("%q: %v", tt.value, err)
		case cfg.Director.MemoryLimit != tt.want:
			t.Errorf("%q: %d bytes, want %d", tt.value, cfg.Director.MemoryLimit, tt.want)
		}
	}
}
