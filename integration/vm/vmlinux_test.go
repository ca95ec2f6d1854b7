package vm

import (
	"bytes"
	"errors"
	"math/rand"
	"os/exec"
	"testing"

	"github.com/ulikunitz/xz"
)

// fakeELF returns n bytes that start with the ELF magic and contain
// many x86 call and jmp opcodes, which the x86 branch filter rewrites.
func fakeELF(n int) []byte {
	r := rand.New(rand.NewSource(1))
	b := make([]byte, n)
	r.Read(b)
	for i := 64; i+5 < n; i += 7 + r.Intn(20) {
		b[i] = 0xE8 | byte(r.Intn(2))
		b[i+4] = []byte{0x00, 0xFF}[r.Intn(2)]
	}
	copy(b, elfMagic)
	return b
}

// xzCompress compresses data with github.com/ulikunitz/xz (LZMA2 only).
func xzCompress(t *testing.T, data []byte, check byte) []byte {
	t.Helper()
	var buf bytes.Buffer
	w, err := xz.WriterConfig{CheckSum: check}.NewWriter(&buf)
	if err != nil {
		t.Fatal(err)
	}
	w.Write(data)
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

// bzImage wraps payload like a kernel image: setup code before it
// (with a decoy magic that is not a stream) and the size after it.
func bzImage(payload []byte) []byte {
	img := append([]byte("MZ setup code "), xzMagic...)
	img = append(img, []byte("not a stream")...)
	img = append(img, payload...)
	return append(img, 0x12, 0x34, 0x56, 0x78)
}

func TestExtractVmlinux(t *testing.T) {
	elf := fakeELF(300 << 10)
	for _, check := range []byte{xz.None, xz.CRC32, xz.CRC64, xz.SHA256} {
		got, err := ExtractVmlinux(bzImage(xzCompress(t, elf, check)))
		if err != nil {
			t.Fatalf("check %#x: %v", check, err)
		}
		if !bytes.Equal(got, elf) {
			t.Fatalf("check %#x: output differs", check)
		}
	}
}

func TestExtractVmlinuxErrors(t *testing.T) {
	notELF := xzCompress(t, []byte("plain text, not an ELF file"), xz.CRC32)
	corrupt := xzCompress(t, fakeELF(4096), xz.CRC32)
	corrupt[len(corrupt)/2] ^= 0xFF
	for name, in := range map[string][]byte{
		"no magic":  []byte("MZ just setup code"),
		"not ELF":   bzImage(notELF),
		"corrupt":   bzImage(corrupt),
		"truncated": bzImage(xzCompress(t, fakeELF(4096), xz.CRC32)[:200]),
	} {
		if _, err := ExtractVmlinux(in); !errors.Is(err, ErrNoVmlinux) {
			t.Errorf("%s: got %v, want ErrNoVmlinux", name, err)
		}
	}
}

// TestDecodeXZWithX86Filter checks the BCJ+LZMA2 path against xz-utils,
// which compresses kernels the same way (scripts/xz_wrap.sh).
func TestDecodeXZWithX86Filter(t *testing.T) {
	elf := fakeELF(200 << 10)
	cmd := exec.Command("xz", "--format=xz", "--check=crc32", "--x86", "--lzma2=dict=1MiB", "-c")
	cmd.Stdin = bytes.NewReader(elf)
	stream, err := cmd.Output()
	if err != nil {
		t.Fatalf("xz: %v", err)
	}
	got, err := ExtractVmlinux(bzImage(stream))
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(got, elf) {
		t.Fatal("output differs from the xz input")
	}
}
