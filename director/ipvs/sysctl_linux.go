package ipvs

import (
	"os"
	"path/filepath"
	"strings"
)

// ProcSysctls reads and writes /proc/sys of the calling thread's network
// namespace.
type ProcSysctls struct{}

// Get returns the value of a setting.
func (ProcSysctls) Get(path string) (string, error) {
	b, err := os.ReadFile(filepath.Join("/proc/sys", path))
	return strings.TrimSpace(string(b)), err
}

// Set writes a setting.
func (ProcSysctls) Set(path, value string) error {
	return os.WriteFile(filepath.Join("/proc/sys", path), []byte(value), 0o644)
}
