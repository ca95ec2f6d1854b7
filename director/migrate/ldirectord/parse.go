// Package ldirectord translates an ldirectord.cf (ldirectord(8)) into
// lvsd's service files: each virtual (or virtual6) section becomes one
// service, with ldirectord's defaults (wrr, quiescent yes, negotiate
// checks every 10 s, failurecount 1) written out. Every directive is
// translated or reported with its file and line.
package ldirectord

import (
	"bufio"
	"os"
	"strings"
)

// line is one "key = value" directive.
type line struct {
	key, value string
	no         int
	indented   bool
}

// parse reads the directives of an ldirectord.cf: '#' starts a comment
// outside quotes, an indented line belongs to the virtual section above
// it, and the value is everything after '=' (quotes are kept: some
// directives, such as real, hold several quoted words).
func parse(path string) ([]line, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	var out []line
	sc := bufio.NewScanner(f)
	for no := 1; sc.Scan(); no++ {
		raw := stripComment(sc.Text())
		text := strings.TrimSpace(raw)
		if text == "" {
			continue
		}
		key, value, _ := strings.Cut(text, "=")
		out = append(out, line{
			key: strings.ToLower(strings.TrimSpace(key)), value: strings.TrimSpace(value), no: no,
			indented: raw[0] == ' ' || raw[0] == '\t',
		})
	}
	return out, sc.Err()
}

func stripComment(s string) string {
	quote := false
	for i := 0; i < len(s); i++ {
		switch s[i] {
		case '"':
			quote = !quote
		case '#':
			if !quote {
				return s[:i]
			}
		}
	}
	return s
}

// unquote removes the quotes around a value.
func unquote(s string) string {
	if len(s) >= 2 && s[0] == '"' && s[len(s)-1] == '"' {
		return s[1 : len(s)-1]
	}
	return s
}

// fields splits a value into words, a double-quoted string being one.
func fields(s string) []string {
	var out []string
	for s = strings.TrimSpace(s); s != ""; s = strings.TrimSpace(s) {
		if s[0] == '"' {
			end := strings.IndexByte(s[1:], '"')
			if end < 0 {
				return append(out, s[1:])
			}
			out = append(out, s[1:1+end])
			s = s[end+2:]
			continue
		}
		end := strings.IndexAny(s, " \t")
		if end < 0 {
			end = len(s)
		}
		out = append(out, s[:end])
		s = s[end:]
	}
	return out
}

// yes reads ldirectord's yes/no.
func yes(s string) bool { return strings.EqualFold(unquote(s), "yes") }
