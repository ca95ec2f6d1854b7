package config

import (
	"fmt"
	"strings"

	"gopkg.in/yaml.v3"
)

// positions maps a key path ("vrrp.instances[0].vrid") to the line and
// column of the key in the file.
type positions struct {
	lines map[string]int
	cols  map[string]int
}

func indexPositions(root *yaml.Node) positions {
	p := positions{lines: map[string]int{}, cols: map[string]int{}}
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
			p.set(sub, k.Line, k.Column)
			p.walk(sub, v)
		}
	case yaml.SequenceNode:
		for i, v := range n.Content {
			sub := fmt.Sprintf("%s[%d]", path, i)
			p.set(sub, v.Line, v.Column)
			p.walk(sub, v)
		}
	}
	// Aliases are not followed: a key reached through one is reported at
	// the alias, where the operator wrote it for this place, and a chain of
	// aliases cannot make the index grow exponentially.
}

func (p positions) set(path string, line, col int) {
	if _, dup := p.lines[path]; !dup {
		p.lines[path], p.cols[path] = line, col
	}
}

// line finds the line of path, or of its nearest ancestor present in the file.
func (p positions) line(path string) int {
	l, _ := p.lineCol(path)
	return l
}

// lineCol finds the line and column of path, or of its nearest ancestor
// present in the file; the top of the file when there is none.
func (p positions) lineCol(path string) (int, int) {
	for path != "" {
		if l, ok := p.lines[path]; ok {
			return l, p.cols[path]
		}
		path = parent(path)
	}
	return 1, 0
}

// parent strips the last ".key" or "[i]" from a path.
func parent(path string) string {
	i := strings.LastIndexAny(path, ".[")
	if i < 0 {
		return ""
	}
	return path[:i]
}
