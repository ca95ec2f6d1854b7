package config

import (
	"regexp"
	"strings"
)

// badPaths are the keys whose values the YAML stage refused (wrong kind,
// not a number, no value...). Those keys are dropped before decoding, so
// the checks of values see them as absent and still check everything
// else in the file; what badPaths filters out are the complaints that only
// follow from the dropped value ("vrid: required" after "vrid: ten", a
// timeout longer than the default interval after "interval: 5").
type badPaths struct{ paths []string }

func (b *badPaths) add(path string) {
	if b != nil {
		b.paths = append(b.paths, path)
	}
}

func (b *badPaths) any() bool { return b != nil && len(b.paths) > 0 }

// siblings lists, by key name, the keys beside it (in the same mapping)
// whose checks read its value; "*" is the whole mapping. A timeout is
// checked against its interval, a check's type decides which other keys
// apply, an instance's version and addresses decide what the rest of it
// may say.
var siblings = map[string][]string{
	"virtual":         {"fwmark", "family", "protocol"},
	"fwmark":          {"virtual", "family", "protocol"},
	"interval":        {"timeout", "retry_interval"},
	"type":            {"*"},
	"version":         {"*"},
	"virtual_ips":     {"unicast", "checksum", "priority", "vrid"},
	"interface":       {"priority", "vrid"},
	"unicast":         {"checksum"},
	"upper_threshold": {"lower_threshold"},
	"forward":         {"address"},
	"scheduler":       {"scheduler_flags"},
	"security":        {"*"},
	"username":        {"password", "password_file", "security"},
	"password":        {"username", "password_file"},
	"password_file":   {"username", "password"},
}

// dependents lists, by the top-level key of a refused value, the keys
// elsewhere in the file whose checks read it: a service's address family
// decides whether its realservers' addresses fit, its protocol and check
// what its realservers' checks inherit; an instance's name is what groups
// refer to.
var dependents = map[string][]string{
	"virtual":  {"reals[*].address", "sorry", "persistence.netmask"},
	"fwmark":   {"reals[*].address", "sorry", "persistence.netmask"},
	"family":   {"reals[*].address", "sorry", "persistence.netmask"},
	"forward":  {"reals[*].address"},
	"protocol": {"check", "reals[*].check", "reals[*].address"},
	"check":    {"reals[*].check", "reals[*].address"},
	"vrrp":     {"vrrp.groups"},
}

var reIndex = regexp.MustCompile(`\[\d+\]`)

// covers reports whether a complaint at path may follow from a refused
// value: it is at or under the refused key, or under a key whose checks
// read the refused one. Complaints about other keys still come out, so one
// bad value does not hide the rest of the file.
func (b *badPaths) covers(path string) bool {
	if b == nil {
		return false
	}
	if b.under(path) {
		return true
	}
	norm := reIndex.ReplaceAllString(path, "[*]")
	for _, p := range b.paths {
		par, name := parent(p), p[len(parent(p)):]
		name = strings.TrimPrefix(name, ".")
		for _, sib := range siblings[name] {
			if sib == "*" && within(path, par) || within(path, joinPath(par, sib)) {
				return true
			}
		}
		root := p
		if i := strings.IndexAny(p, ".["); i >= 0 {
			root = p[:i]
		}
		for _, d := range dependents[root] {
			if within(norm, d) {
				return true
			}
		}
	}
	return false
}

// under reports whether path is at or below a refused value.
func (b *badPaths) under(path string) bool {
	if b == nil {
		return false
	}
	for _, p := range b.paths {
		if within(path, p) {
			return true
		}
	}
	return false
}

// within reports whether path is s or below it ("" is the whole file).
func within(path, s string) bool {
	return s == "" || path == s || strings.HasPrefix(path, s+".") || strings.HasPrefix(path, s+"[")
}
