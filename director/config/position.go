package config

import (
	"fmt"
	"strings"

	"gopkg.in/yaml.v3"
)

// positions maps a key path ("vrrp.instances[0].vrid") to the line of the
// key in the file, and keeps the reverse (line to path) for translating the
// YAML decoder's own line-numbered errors.
type positions struct {
	lines  map[string]int
	byLine map[int]string
	values map[int]string // the scalar value written on a line
}

func indexPositions(root *yaml.Node) positions {
	p := positions{lines: map[string]int{}, byLine: map[int]string{}, values: map[int]string{}}
	if root == nil {
		return p
	}
	if root.Kind == yaml.DocumentNode && len(root.Content) > 0 {
		root = root.Content[0]
	}
	p.walk("", root)
	return p
}

func (p positions) walk(path string, n *yaml.Node) {
	switch n.Kind {
	case yaml.MappingNode:
		for i := 0; i+1 < len(n.Content); i += 2 {
			k, v := n.Content[i], n.Content[i+1]
			sub := k.Value
			if path != "" {
				sub = path + "." + k.Value
			}
			p.set(sub, k.Line)
			if v.Kind == yaml.ScalarNode {
				p.values[v.Line] = v.Value
			}
			p.walk(sub, v)
		}
	case yaml.SequenceNode:
		for i, v := range n.Content {
			sub := fmt.Sprintf("%s[%d]", path, i)
			p.set(sub, v.Line)
			p.walk(sub, v)
		}
	case yaml.AliasNode:
		if n.Alias != nil {
			p.walk(path, n.Alias)
		}
	}
}

func (p positions) set(path string, line int) {
	if _, dup := p.lines[path]; !dup {
		p.lines[path] = line
	}
	if _, seen := p.byLine[line]; !seen {
		p.byLine[line] = path
	}
}

// line finds the line of path, or of its nearest ancestor present in the file.
func (p positions) line(path string) int {
	for path != "" {
		if l, ok := p.lines[path]; ok {
			return l
		}
		path = parent(path)
	}
	return 1
}

// parent strips the last ".key" or "[i]" from a path.
func parent(path string) string {
	i := strings.LastIndexAny(path, ".[")
	if i < 0 {
		return ""
	}
	return path[:i]
}

// keyAt finds the node for a path, for re-decoding a sub-tree (per-real
// check overrides are decoded over a copy of the service's check).
func keyAt(root *yaml.Node, key string) *yaml.Node {
	if root == nil || root.Kind != yaml.MappingNode {
		return nil
	}
	for i := 0; i+1 < len(root.Content); i += 2 {
		if root.Content[i].Value == key {
			return root.Content[i+1]
		}
	}
	return nil
}
