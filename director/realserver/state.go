package realserver

import (
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"net/netip"
	"os"
	"path/filepath"
	"slices"
)

// DefaultStatePath is where Up records what it changed. /run is a tmpfs:
// the record goes at reboot, with the kernel settings it describes.
const DefaultStatePath = "/run/lvsd/realserver.json"

// The kinds of change Down makes.
const (
	DelAddr  Kind = "del-addr"
	LinkDown Kind = "link-down"
	DelLink  Kind = "del-link"
)

// State is the record of what Up changed, oldest first.
type State struct {
	Options Options  `json:"options"` // of the last up
	Changes []Change `json:"changes"`
}

// LoadState reads the record at path; none there is an empty State.
func LoadState(path string) (State, error) {
	var st State
	b, err := os.ReadFile(path)
	if errors.Is(err, fs.ErrNotExist) {
		return st, nil
	}
	if err != nil {
		return st, err
	}
	if err := json.Unmarshal(b, &st); err != nil {
		return st, fmt.Errorf("realserver state %s: %w", path, err)
	}
	return st, nil
}

// save writes st to path atomically (a rename), so a crash leaves the
// old record or the new one, never half of one.
func (st State) save(path string) error {
	b, err := json.MarshalIndent(st, "", "  ")
	if err != nil {
		return err
	}
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return err
	}
	tmp := path + ".tmp"
	if err := os.WriteFile(tmp, append(b, '\n'), 0o644); err != nil {
		return err
	}
	return os.Rename(tmp, path)
}

// undoSysctls are the sysctls the record changed, which Down reads.
func (st State) undoSysctls() []string {
	var names []string
	for _, c := range st.Changes {
		if c.Kind == SetSysctl {
			names = append(names, c.Sysctl)
		}
	}
	return names
}

// PlanUndo returns what undoes the record on the host as it is now,
// newest change first, and notes on what it leaves: a sysctl someone
// changed again since is theirs now, and an interface that still holds
// addresses of others is kept.
func PlanUndo(st State, cur Current) ([]Change, []string) {
	var cs []Change
	var notes []string
	removed := map[string][]netip.Prefix{}
	for _, c := range slices.Backward(st.Changes) {
		_, linkThere := cur.Links[c.Link]
		switch c.Kind {
		case AddAddr:
			if slices.Contains(cur.Addrs[c.Link], c.Addr) {
				cs = append(cs, Change{Kind: DelAddr, Link: c.Link, Addr: c.Addr})
				removed[c.Link] = append(removed[c.Link], c.Addr)
			}
		case SetSysctl:
			switch v, ok := cur.Sysctls[c.Sysctl]; {
			case !ok: // its interface is gone
			case v != c.New:
				notes = append(notes, fmt.Sprintf("%s left at %s: changed since lvsd set it to %s", dotted(c.Sysctl), v, c.New))
			default:
				cs = append(cs, Change{Kind: SetSysctl, Sysctl: c.Sysctl, Old: c.New, New: c.Old})
			}
		case LinkUp:
			if linkThere {
				cs = append(cs, Change{Kind: LinkDown, Link: c.Link})
			}
		case AddLink:
			if !linkThere {
				continue
			}
			if others := othersOn(cur.Addrs[c.Link], removed[c.Link]); len(others) > 0 {
				notes = append(notes, fmt.Sprintf("%s kept: it holds %v, which lvsd did not add", c.Link, others))
				continue
			}
			cs = append(cs, Change{Kind: DelLink, Link: c.Link, LinkKind: c.LinkKind})
		}
	}
	return cs, notes
}

// othersOn are the addresses of have that are not in removed and not
// link-local (the kernel adds an fe80:: address to a link it sets up).
func othersOn(have, removed []netip.Prefix) []netip.Prefix {
	var out []netip.Prefix
	for _, p := range have {
		if !slices.Contains(removed, p) && !p.Addr().IsLinkLocalUnicast() {
			out = append(out, p)
		}
	}
	return out
}
