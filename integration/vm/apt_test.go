package vm

import (
	"errors"
	"testing"
)

func TestParseAptDepends(t *testing.T) {
	for _, tc := range []struct {
		name, out, want string
	}{
		{"plain", "linux-image-amd64\n  Depends: linux-image-6.1.0-48-amd64\n", "linux-image-6.1.0-48-amd64"},
		{"virtual first", "linux-image-amd64\n  Depends: <linux-image-6.1.0-9-amd64>\n  Depends: linux-image-6.1.0-56-amd64\n", "linux-image-6.1.0-56-amd64"},
		{"alternative", "linux-image-amd64\n |Depends: linux-image-6.12.9-amd64\n    Depends: linux-image-6.1.0-56-amd64\n", "linux-image-6.12.9-amd64"},
		{"other deps", "linux-image-amd64\n  Recommends: firmware-linux-free\n  Depends: linux-image-6.1.0-56-amd64\n  Breaks: foo\n", "linux-image-6.1.0-56-amd64"},
	} {
		got, err := parseAptDepends(tc.out)
		if err != nil || got != tc.want {
			t.Errorf("%s: got %q, %v; want %q", tc.name, got, err, tc.want)
		}
	}
	for _, out := range []string{"", "linux-image-amd64\n", "  Depends: <linux-image-6.1.0-9-amd64>\n", "  Depends: firmware-linux\n"} {
		if got, err := parseAptDepends(out); !errors.Is(err, errNoKernelDep) {
			t.Errorf("parseAptDepends(%q) = %q, %v; want errNoKernelDep", out, got, err)
		}
	}
}

func TestKernelVersion(t *testing.T) {
	if got := kernelVersion("linux-image-6.1.0-48-amd64"); got != "6.1.0-48-amd64" {
		t.Errorf("got %q", got)
	}
}
