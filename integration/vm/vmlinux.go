package vm

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"path/filepath"
)

var elfMagic = []byte{0x7F, 'E', 'L', 'F'}

// ErrNoVmlinux means that a bzImage holds no xz-compressed ELF kernel.
var ErrNoVmlinux = errors.New("no xz-compressed vmlinux found")

// ExtractVmlinux returns the uncompressed ELF kernel inside a bzImage
// (vmlinuz). The payload is the xz stream that starts at the magic
// FD 37 7A 58 5A 00; the bytes after the stream (the kernel appends the
// uncompressed size) are ignored. Booting the ELF through its PVH entry
// takes less than half the time of booting the bzImage under TCG.
func ExtractVmlinux(vmlinuz []byte) ([]byte, error) {
	var firstErr error
	for off := 0; ; {
		i := bytes.Index(vmlinuz[off:], xzMagic)
		if i < 0 {
			break
		}
		off += i
		out, err := decodeXZ(vmlinuz[off:])
		switch {
		case err == nil && bytes.HasPrefix(out, elfMagic):
			return out, nil
		case err == nil:
			err = fmt.Errorf("payload at %d: not an ELF file", off)
		}
		if firstErr == nil {
			firstErr = err
		}
		off += len(xzMagic)
	}
	if firstErr != nil {
		return nil, fmt.Errorf("%w: %w", ErrNoVmlinux, firstErr)
	}
	return nil, ErrNoVmlinux
}

// extractVmlinuxFile writes the ELF kernel of the bzImage src to dst.
func extractVmlinuxFile(src, dst string) error {
	in, err := os.ReadFile(src)
	if err != nil {
		return fmt.Errorf("read vmlinuz: %w", err)
	}
	out, err := ExtractVmlinux(in)
	if err != nil {
		return fmt.Errorf("extract vmlinux %s: %w", src, err)
	}
	return writeFileAtomic(dst, out, 0o644)
}

// writeFileAtomic writes data to a temporary file beside name and
// renames it, so that name is either absent or complete, even when
// two runs write it at once.
func writeFileAtomic(name string, data []byte, perm os.FileMode) error {
	f, err := os.CreateTemp(filepath.Dir(name), filepath.Base(name)+".tmp*")
	if err != nil {
		return fmt.Errorf("write %s: %w", name, err)
	}
	_, err = f.Write(data)
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = os.Chmod(f.Name(), perm)
	}
	if err == nil {
		err = os.Rename(f.Name(), name)
	}
	if err != nil {
		os.Remove(f.Name())
		return fmt.Errorf("write %s: %w", name, err)
	}
	return nil
}
