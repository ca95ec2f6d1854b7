package vm

import (
	"bytes"
	"fmt"
	"os/exec"
)

// xzMagic starts every xz stream (the .xz file format, section 2.1.1.1).
var xzMagic = []byte{0xFD, '7', 'z', 'X', 'Z', 0x00}

// decodeXZ decompresses the first xz stream in data with xz-utils and
// ignores whatever follows it (a kernel image appends its size). Kernels
// use the x86 branch filter before LZMA2, which xz-utils reads and the
// pure-Go xz library does not; xz-utils is among the harness's packages.
func decodeXZ(data []byte) ([]byte, error) {
	cmd := exec.Command("xz", "--decompress", "--stdout", "--single-stream")
	cmd.Stdin = bytes.NewReader(data)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		return nil, fmt.Errorf("xz: %v: %s", err, bytes.TrimSpace(stderr.Bytes()))
	}
	return out, nil
}
