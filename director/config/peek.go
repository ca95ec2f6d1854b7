package config

import (
	"os"
	"path/filepath"

	"gopkg.in/yaml.v3"
)

// ControlSocketOf returns the control socket named by the main file at
// path, reading nothing else, so that `lvsd status` finds a running daemon
// even while the files on disk are broken.
func ControlSocketOf(path string) string {
	var raw struct {
		Control rawControl `yaml:"control"`
	}
	if data, err := os.ReadFile(path); err == nil {
		_ = yaml.Unmarshal(data, &raw) // best effort: fall back to the default
	}
	return relTo(filepath.Dir(path), orDefault(raw.Control.Socket, DefaultControlSocket))
}
