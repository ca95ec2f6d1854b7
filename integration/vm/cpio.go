package vm

import (
	"fmt"
	"io"
	"io/fs"
	"strings"
)

// Mode bits of the newc format (they are the stat(2) ones).
const (
	cpioDir  = 0o040000
	cpioFile = 0o100000
	cpioLink = 0o120000
	cpioChar = 0o020000
)

// cpioWriter writes a "newc" (SVR4, no CRC) cpio archive, the format the
// kernel unpacks as initramfs (Documentation/driver-api/early-userspace/
// buffer-format.rst). Entries are owned by root and dated 0 so that the
// same input gives the same bytes.
type cpioWriter struct {
	w   io.Writer
	ino uint32
	err error
}

// newCPIOWriter returns a writer that appends entries to w.
func newCPIOWriter(w io.Writer) *cpioWriter {
	return &cpioWriter{w: w, ino: 1}
}

// Dir adds a directory.
func (c *cpioWriter) Dir(name string, perm fs.FileMode) error {
	return c.entry(name, cpioDir|uint32(perm.Perm()), 2, 0, 0, nil)
}

// File adds a regular file with the given content.
func (c *cpioWriter) File(name string, perm fs.FileMode, data []byte) error {
	return c.entry(name, cpioFile|uint32(perm.Perm()), 1, 0, 0, data)
}

// Symlink adds a symbolic link to target.
func (c *cpioWriter) Symlink(name, target string) error {
	return c.entry(name, cpioLink|0o777, 1, 0, 0, []byte(target))
}

// CharDev adds a character device node.
func (c *cpioWriter) CharDev(name string, perm fs.FileMode, major, minor uint32) error {
	return c.entry(name, cpioChar|uint32(perm.Perm()), 1, major, minor, nil)
}

// Close writes the trailer. It does not close the underlying writer.
func (c *cpioWriter) Close() error {
	return c.entry("TRAILER!!!", 0, 1, 0, 0, nil)
}

// entry writes one header, name and body, each padded to 4 bytes.
func (c *cpioWriter) entry(name string, mode, nlink, rmaj, rmin uint32, data []byte) error {
	if c.err != nil {
		return c.err
	}
	name = strings.TrimPrefix(name, "/")
	if name == "" || strings.ContainsRune(name, 0) {
		return fmt.Errorf("cpio entry %q: bad name", name)
	}
	ino := c.ino
	if mode == 0 {
		ino = 0 // trailer
	}
	c.ino++
	fields := []uint32{ino, mode, 0, 0, nlink, 0, uint32(len(data)),
		0, 0, rmaj, rmin, uint32(len(name) + 1), 0}
	var b strings.Builder
	b.WriteString("070701")
	for _, f := range fields {
		fmt.Fprintf(&b, "%08X", f)
	}
	b.WriteString(name)
	b.WriteByte(0)
	b.WriteString(pad4(b.Len()))
	if _, c.err = io.WriteString(c.w, b.String()); c.err != nil {
		return fmt.Errorf("cpio entry %s: %w", name, c.err)
	}
	if _, c.err = c.w.Write(data); c.err == nil {
		_, c.err = io.WriteString(c.w, pad4(len(data)))
	}
	if c.err != nil {
		return fmt.Errorf("cpio entry %s: %w", name, c.err)
	}
	return nil
}

// pad4 returns the NUL bytes that bring n up to a multiple of 4.
func pad4(n int) string {
	return strings.Repeat("\x00", (4-n%4)%4)
}
