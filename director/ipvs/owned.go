package ipvs

import (
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"net/netip"
	"os"
	"path/filepath"
	"sort"
)

// ownedFile remembers which kernel services lvsd made, so that after a
// restart a service whose file was removed is still recognised as ours
// (and deleted), while services added by others stay untouched. It lives
// under /run, which, like the IPVS table, does not survive a reboot.
type ownedFile struct {
	path string
}

type ownedKey struct {
	FWMark   uint32 `json:"fwmark,omitempty"`
	IPv6     bool   `json:"ipv6,omitempty"`
	Protocol uint16 `json:"protocol,omitempty"`
	Addr     string `json:"addr,omitempty"`
}

func (o ownedFile) load() (map[ServiceKey]bool, error) {
	out := map[ServiceKey]bool{}
	if o.path == "" {
		return out, nil
	}
	data, err := os.ReadFile(o.path)
	if errors.Is(err, fs.ErrNotExist) {
		return out, nil
	}
	if err != nil {
		return out, fmt.Errorf("read %s: %w", o.path, err)
	}
	var keys []ownedKey
	if err := json.Unmarshal(data, &keys); err != nil {
		return out, fmt.Errorf("parse %s: %w", o.path, err)
	}
	for _, k := range keys {
		key := ServiceKey{FWMark: k.FWMark, IPv6: k.IPv6, Protocol: k.Protocol}
		if k.Addr != "" {
			ap, err := netip.ParseAddrPort(k.Addr)
			if err != nil {
				return out, fmt.Errorf("parse %s: %w", o.path, err)
			}
			key.Addr = ap
		}
		out[key] = true
	}
	return out, nil
}

// save writes the set atomically (temp file and rename).
func (o ownedFile) save(owned map[ServiceKey]bool) error {
	if o.path == "" {
		return nil
	}
	keys := make([]ownedKey, 0, len(owned))
	for k := range owned {
		ok := ownedKey{FWMark: k.FWMark, IPv6: k.IPv6, Protocol: k.Protocol}
		if k.Addr.IsValid() {
			ok.Addr = k.Addr.String()
		}
		keys = append(keys, ok)
	}
	sort.Slice(keys, func(i, j int) bool { return fmt.Sprint(keys[i]) < fmt.Sprint(keys[j]) })
	data, err := json.Marshal(keys)
	if err != nil {
		return err
	}
	if err := os.MkdirAll(filepath.Dir(o.path), 0o755); err != nil {
		return fmt.Errorf("save %s: %w", o.path, err)
	}
	tmp := o.path + ".tmp"
	if err := os.WriteFile(tmp, data, 0o600); err != nil {
		return fmt.Errorf("save %s: %w", o.path, err)
	}
	return os.Rename(tmp, o.path)
}
