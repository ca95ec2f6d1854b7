package config

import (
	"fmt"
	"strconv"
	"strings"
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
		return typeErr(n, "expected a duration such as 2s, not %s", kindName(n))
	}
	v, msg := parseDuration(n.Value)
	if msg != "" {
		return typeErr(n, "%s", msg)
	}
	*d = Duration(v)
	return nil
}

// parseDuration reads a duration as written in a file; on failure the
// message says how to write it.
func parseDuration(s string) (time.Duration, string) {
	v, err := time.ParseDuration(s)
	if err == nil {
		if v < 0 {
			return 0, fmt.Sprintf("duration %q is negative", s)
		}
		return v, ""
	}
	t := strings.TrimSpace(s)
	if _, numErr := strconv.ParseFloat(t, 64); numErr == nil && t != "" {
		return 0, fmt.Sprintf("duration %q needs a unit, e.g. %ss or %sms", s, t, t)
	}
	if joined := strings.Join(strings.Fields(s), ""); joined != s {
		if _, err := time.ParseDuration(joined); err == nil {
			return 0, fmt.Sprintf("%q is not a duration: write it without spaces, %s", s, joined)
		}
	}
	return 0, fmt.Sprintf("%q is not a duration (use e.g. 100ms, 2s, 1m)", s)
}

// typeErr reports a problem through yaml.v3's TypeError so that the decoder
// keeps going and every such problem in a file is collected.
func typeErr(n *yaml.Node, format string, args ...any) error {
	return &yaml.TypeError{Errors: []string{fmt.Sprintf("line %d: %s", n.Line, fmt.Sprintf(format, args...))}}
}
