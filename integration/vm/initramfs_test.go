package vm

import (
	"bytes"
	"compress/gzip"
	"io"
	"os"
	"testing"
)

func TestWriteInitramfs(t *testing.T) {
	var buf bytes.Buffer
	files := []initramfsFile{
		{"bin/busybox", 0o755, []byte("bb")},
		{"init", 0o755, []byte(stage1)},
		{"init2", 0o644, []byte(stage2)},
		{"modules/00-virtio.ko", 0o644, []byte("ko")},
	}
	if err := writeInitramfs(&buf, files); err != nil {
		t.Fatal(err)
	}
	zr, err := gzip.NewReader(&buf)
	if err != nil {
		t.Fatal(err)
	}
	raw, err := io.ReadAll(zr)
	if err != nil {
		t.Fatal(err)
	}
	got := map[string]cpioEntry{}
	for _, e := range readCPIO(t, raw) {
		got[e.name] = e
	}
	for _, d := range []string{"bin", "dev", "proc", "sys", "lower", "out", "rw", "newroot", "modules"} {
		if got[d].mode != cpioDir|0o755 {
			t.Errorf("dir %s: mode %o", d, got[d].mode)
		}
	}
	if c := got["dev/console"]; c.mode != cpioChar|0o600 || c.rmaj != 5 || c.rmin != 1 {
		t.Errorf("dev/console: %+v", c)
	}
	for _, f := range files {
		if e := got[f.name]; e.mode != cpioFile|uint32(f.perm) || !bytes.Equal(e.data, f.data) {
			t.Errorf("%s: mode %o, %d bytes", f.name, e.mode, len(e.data))
		}
	}
}

func TestReadStaticBusybox(t *testing.T) {
	if _, err := os.Stat(Busybox); err != nil {
		t.Skip("busybox-static not installed")
	}
	if _, err := readStaticBusybox(Busybox); err != nil {
		t.Error(err)
	}
	if _, err := readStaticBusybox("/usr/bin/env"); err == nil {
		t.Error("/usr/bin/env (dynamic): no error")
	}
}
