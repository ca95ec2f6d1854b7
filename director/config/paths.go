package config

// Heartbeat paths: links besides the instance's interface on which the
// same VRRP adverts are sent and received, so that the loss of one link
// alone does not make both directors master (see vrrp/path.go).

// Path is one additional heartbeat path of an instance.
type Path struct {
	Interface string
	// Unicast, if set, sends to these peers from Source on this path
	// instead of the multicast group.
	Unicast *Unicast
}

type rawPath struct {
	Interface string      `yaml:"interface"`
	Unicast   *rawUnicast `yaml:"unicast"`
}

// resolvePaths checks an instance's paths: each needs an interface of its
// own, not the instance's, and its unicast block follows the instance's
// rules (a source and peers of the virtual IPs' family).
func resolvePaths(p string, raws []rawPath, in Instance, r reporter) []Path {
	var out []Path
	seen := map[string]int{}
	for i, raw := range raws {
		pp := idx(p+".paths", i)
		switch j, dup := seen[raw.Interface]; {
		case raw.Interface == "":
			r.at(pp+".interface", "required: the link this path's adverts use")
		case raw.Interface == in.Interface:
			r.at(pp+".interface", "%s is the instance's own interface: a path needs another link", raw.Interface)
		case dup:
			r.at(pp+".interface", "%s is already the path at line %d", raw.Interface, r.pos.line(idx(p+".paths", j)))
		}
		seen[raw.Interface] = i
		out = append(out, Path{Interface: raw.Interface, Unicast: resolveUnicast(pp, raw.Unicast, in, r)})
	}
	return out
}
