package config

import (
	"fmt"
	"reflect"
	"strings"

	"gopkg.in/yaml.v3"
)

// schema checks a parsed file against the raw type it decodes into, before
// decoding. yaml.v3 alone would let through what an operator did not mean:
// a null ("priority:") read as unset, 2.5 truncated to 2, 010 read as octal
// 8, "yes" read as true, and it stops at the first unknown key in strict
// mode. schema reports each such value at its own line and column and
// drops it from the tree, so the decoder sees only values it reads exactly
// and the checks of values still run over the rest of the file.
type schema struct {
	rep  reporter
	bad  *badPaths
	seen map[seenKey]bool // anchored values already checked: their verdict
	file reflect.Type     // rawMain or rawService, for hints on unknown keys
}

// seenKey is an anchored value checked as one type: the same anchor may
// serve as a string in one place and be refused as a list item elsewhere.
type seenKey struct {
	n *yaml.Node
	t reflect.Type
}

var durationType = reflect.TypeOf(Duration(0))

// field is one key of a raw struct.
type field struct {
	typ        reflect.Type
	allowEmpty bool // `lvsd:"empty"`: an explicit "" means something
}

func fieldsOf(t reflect.Type) map[string]field {
	out := map[string]field{}
	for i := 0; i < t.NumField(); i++ {
		f := t.Field(i)
		name := strings.Split(f.Tag.Get("yaml"), ",")[0]
		if name != "" && name != "-" {
			out[name] = field{typ: f.Type, allowEmpty: f.Tag.Get("lvsd") == "empty"}
		}
	}
	return out
}

// check reports whether n is acceptable as a value of type t at path; it
// has reported the problem when not. at is the node to point at when the
// value is not a scalar (the key, for a mapping entry).
func (s *schema) check(path string, n *yaml.Node, t reflect.Type, at *yaml.Node, allowEmpty bool) bool {
	if n.Kind == yaml.AliasNode {
		if n.Alias == nil {
			return s.fail(path, at, "an alias that names no anchor")
		}
		at, n = n, n.Alias // a problem is reported where the alias is used
	}
	if n.Anchor == "" {
		return s.checkNode(path, n, t, at, allowEmpty)
	}
	// An anchored value is checked (and cleaned) once per type, where it
	// is first met; its other uses take the same verdict. This also keeps
	// a chain of aliases from costing exponential time.
	key := seenKey{n, t}
	if ok, done := s.seen[key]; done {
		if !ok {
			s.bad.add(path)
		}
		return ok
	}
	s.seen[key] = true
	ok := s.checkNode(path, n, t, at, allowEmpty)
	s.seen[key] = ok
	return ok
}

func (s *schema) checkNode(path string, n *yaml.Node, t reflect.Type, at *yaml.Node, allowEmpty bool) bool {
	if t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	if n.Kind == yaml.ScalarNode && at.Kind != yaml.AliasNode {
		at = n
	}
	if n.Style&yaml.TaggedStyle != 0 {
		// "!!float 10" would make a whole number a float, "!!binary" a
		// string base64: a tag only ever changes how a value is read.
		return s.fail(path, at, fmt.Sprintf("the tag %s is not taken here: write the value without it", n.Tag))
	}
	if n.Kind == yaml.ScalarNode && n.ShortTag() == "!!null" {
		if strings.HasSuffix(path, "]") {
			return s.fail(path, at, `an empty list item: give it a value, or remove the "-"`)
		}
		if t.Kind() == reflect.Struct && t != durationType {
			return s.fail(path, at, "no value: write {} for the defaults, or remove the key")
		}
		return s.fail(path, at, "no value: write one, or remove the key for the default")
	}
	switch {
	case t == durationType:
		if n.Kind != yaml.ScalarNode {
			return s.fail(path, at, "expected a duration such as 2s, not "+kindName(n))
		}
		if _, msg := parseDuration(n.Value); msg != "" {
			return s.fail(path, at, msg)
		}
		return true
	case t.Kind() == reflect.Struct:
		if n.Kind != yaml.MappingNode {
			return s.fail(path, at, "expected a mapping of keys, not "+kindName(n))
		}
		s.mapping(path, n, t)
		return true
	case t.Kind() == reflect.Slice:
		return s.list(path, n, t, at)
	}
	if n.Kind != yaml.ScalarNode {
		return s.fail(path, at, fmt.Sprintf("expected %s, not %s", wantOf(t), kindName(n)))
	}
	if msg := scalarProblem(n, t, allowEmpty); msg != "" {
		return s.fail(path, at, msg)
	}
	return true
}

func (s *schema) fail(path string, at *yaml.Node, msg string) bool {
	s.rep.atPos(at.Line, at.Column, path, msg)
	s.bad.add(path)
	return false
}

// mapping checks every key of n against the fields of t, dropping the
// unknown, repeated and refused ones.
func (s *schema) mapping(path string, n *yaml.Node, t reflect.Type) {
	fields := fieldsOf(t)
	first := map[string]*yaml.Node{}
	keep := n.Content[:0:0]
	for i := 0; i+1 < len(n.Content); i += 2 {
		k, v := n.Content[i], n.Content[i+1]
		sub := joinPath(path, k.Value)
		switch f, known := fields[k.Value]; {
		case k.Kind != yaml.ScalarNode:
			s.rep.atPos(k.Line, k.Column, path, "a key must be a plain name, not "+kindName(k))
		case k.ShortTag() == "!!merge":
			if s.merge(path, v, t) {
				keep = append(keep, k, v)
			}
		case first[k.Value] != nil:
			s.rep.atPos(k.Line, k.Column, sub, fmt.Sprintf("key %q appears twice (first at line %d)", k.Value, first[k.Value].Line))
		case !known:
			s.rep.atPos(k.Line, k.Column, sub, unknownKey(k.Value, fields, s.file))
			first[k.Value] = k
		default:
			first[k.Value] = k
			if s.check(sub, v, f.typ, k, f.allowEmpty) {
				keep = append(keep, k, v)
			}
		}
	}
	n.Content = keep
}

// merge checks the mappings a "<<" key merges in, as keys of this mapping.
func (s *schema) merge(path string, v *yaml.Node, t reflect.Type) bool {
	targets := []*yaml.Node{v}
	if v.Kind == yaml.SequenceNode {
		targets = v.Content
	}
	for _, m := range targets {
		if m.Kind == yaml.AliasNode && m.Alias != nil {
			m = m.Alias
		}
		if m.Kind != yaml.MappingNode {
			s.rep.atPos(v.Line, v.Column, path, "<< merges mappings only (an alias such as *defaults)")
			return false
		}
		if key := (seenKey{m, t}); !s.seen[key] {
			s.seen[key] = true
			s.mapping(path, m, t)
		}
	}
	return true
}

// list checks a list, replacing a refused item by an empty one of the
// right kind so that the items after it keep their index (and the paths
// in later messages their meaning).
func (s *schema) list(path string, n *yaml.Node, t reflect.Type, at *yaml.Node) bool {
	if n.Kind != yaml.SequenceNode {
		if n.Kind == yaml.ScalarNode {
			return s.fail(path, at, fmt.Sprintf("expected %s, not the single value %q", wantOf(t), n.Value))
		}
		return s.fail(path, at, fmt.Sprintf("expected %s, not %s", wantOf(t), kindName(n)))
	}
	for i, item := range n.Content {
		if !s.check(idx(path, i), item, t.Elem(), item, true) {
			n.Content[i] = emptyOf(t.Elem(), item)
		}
	}
	return true
}

// emptyOf is a stand-in for a refused list item: an empty mapping for a
// struct, an empty string, or a 0 (whose complaints are suppressed).
func emptyOf(t reflect.Type, like *yaml.Node) *yaml.Node {
	n := &yaml.Node{Kind: yaml.ScalarNode, Tag: "!!str", Line: like.Line, Column: like.Column}
	switch t.Kind() {
	case reflect.Struct, reflect.Pointer:
		n.Kind, n.Tag = yaml.MappingNode, "!!map"
	case reflect.Int, reflect.Int64:
		n.Tag, n.Value = "!!int", "0"
	}
	return n
}

func joinPath(path, key string) string {
	if path == "" {
		return key
	}
	return path + "." + key
}

// wantOf names what a key of type t takes, for messages.
func wantOf(t reflect.Type) string {
	switch t.Kind() {
	case reflect.Slice:
		if e := t.Elem(); e.Kind() == reflect.Int {
			return "a list of numbers"
		}
		return "a list"
	case reflect.Int, reflect.Int64:
		return "a whole number"
	case reflect.Bool:
		return "true or false"
	case reflect.Struct:
		return "a mapping of keys"
	}
	return "a single value"
}

func kindName(n *yaml.Node) string {
	switch n.Kind {
	case yaml.MappingNode:
		return "a mapping"
	case yaml.SequenceNode:
		return "a list"
	case yaml.AliasNode:
		return "an alias"
	default:
		return fmt.Sprintf("the value %q", n.Value)
	}
}
