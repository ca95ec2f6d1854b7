package config

import (
	"fmt"
	"time"

	"gopkg.in/yaml.v3"
)

// Duration is a time.Duration written as a Go duration string ("100ms",
// "2s"). A bare number is refused: "interval: 5" is ambiguous (5 s? 5 ns?)
// and a classic source of silent misconfiguration.
type Duration time.Duration

// UnmarshalYAML parses a Go duration string.
func (d *Duration) UnmarshalYAML(n *yaml.Node) error {
	if n.Kind != yaml.ScalarNode {
		return typeErr(n, "expected a duration such as 2s, not a %s", kindName(n))
	}
	v, err := time.ParseDuration(n.Value)
	if err != nil {
		if _, numErr := fmt.Sscanf(n.Value, "%f", new(float64)); numErr == nil {
			return typeErr(n, "duration %q needs a unit, e.g. %ss or %sms", n.Value, n.Value, n.Value)
		}
		return typeErr(n, "%q is not a duration (use e.g. 100ms, 2s, 1m)", n.Value)
	}
	if v < 0 {
		return typeErr(n, "duration %q is negative", n.Value)
	}
	*d = Duration(v)
	return nil
}

// typeErr reports a problem through yaml.v3's TypeError so that the decoder
// keeps going and every such problem in a file is collected.
func typeErr(n *yaml.Node, format string, args ...any) error {
	return &yaml.TypeError{Errors: []string{fmt.Sprintf("line %d: %s", n.Line, fmt.Sprintf(format, args...))}}
}

func kindName(n *yaml.Node) string {
	switch n.Kind {
	case yaml.MappingNode:
		return "mapping"
	case yaml.SequenceNode:
		return "list"
	default:
		return "value"
	}
}
