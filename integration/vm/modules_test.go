package vm

import (
	"bytes"
	"compress/gzip"
	"os"
	"path/filepath"
	"slices"
	"testing"

	"github.com/ulikunitz/xz"
)

func TestParseShowDepends(t *testing.T) {
	out := `insmod /c/lib/modules/6.1.0-48-amd64/kernel/drivers/virtio/virtio.ko 
insmod /c/lib/modules/6.1.0-48-amd64/kernel/drivers/virtio/virtio_ring.ko 
builtin crc32c
insmod /c/lib/modules/6.1.0-48-amd64/kernel/net/9p/9pnet.ko.xz debug=0 
`
	want := []string{
		"/c/lib/modules/6.1.0-48-amd64/kernel/drivers/virtio/virtio.ko",
		"/c/lib/modules/6.1.0-48-amd64/kernel/drivers/virtio/virtio_ring.ko",
		"/c/lib/modules/6.1.0-48-amd64/kernel/net/9p/9pnet.ko.xz",
	}
	if got := parseShowDepends(out); !slices.Equal(got, want) {
		t.Errorf("got %q\nwant %q", got, want)
	}
}

func TestAppendUniqueKeepsFirstOrder(t *testing.T) {
	got := appendUnique([]string{"virtio", "virtio_ring"}, "virtio", "9pnet", "virtio_ring", "9p")
	if want := []string{"virtio", "virtio_ring", "9pnet", "9p"}; !slices.Equal(got, want) {
		t.Errorf("got %q, want %q", got, want)
	}
}

func TestReadModuleDecompresses(t *testing.T) {
	dir := t.TempDir()
	ko := []byte("\x7fELF module body")
	var gz bytes.Buffer
	zw := gzip.NewWriter(&gz)
	zw.Write(ko)
	zw.Close()
	files := map[string][]byte{
		"a.ko":    ko,
		"b.ko.gz": gz.Bytes(),
		"c.ko.xz": xzCompress(t, ko, xz.CRC32),
	}
	for name, data := range files {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, data, 0o644); err != nil {
			t.Fatal(err)
		}
		base, got, err := readModule(p)
		if err != nil || !bytes.Equal(got, ko) || base != name[:1]+".ko" {
			t.Errorf("%s: got %q, %q, %v", name, base, got, err)
		}
	}
	zst := filepath.Join(dir, "d.ko.zst")
	os.WriteFile(zst, []byte("zstd"), 0o644)
	if _, _, err := readModule(zst); err == nil {
		t.Error(".ko.zst: no error")
	}
}
