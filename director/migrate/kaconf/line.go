package kaconf

import "strings"

// decomment removes leading whitespace, a comment (from an unquoted '!'
// or '#'), the backslash of an escaped "\!" or "\#" outside quotes, and
// trailing whitespace, as keepalived's decomment() does. A line ending in
// a lone backslash keeps it: it continues a multiline definition.
func decomment(s string) string {
	s = strings.TrimLeft(s, " \t")
	var b strings.Builder
	quote, cont := false, false
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case c == '"':
			quote = !quote
		case c == '\\':
			if i+1 == len(s) {
				cont = true
				i = len(s)
				continue
			}
			if !quote && (s[i+1] == '#' || s[i+1] == '!') {
				b.WriteByte(s[i+1])
			} else {
				b.WriteByte(c)
				b.WriteByte(s[i+1])
			}
			i++
			continue
		case !quote && (c == '!' || c == '#'):
			i = len(s) // the rest is a comment
			continue
		}
		b.WriteByte(c)
	}
	out := strings.TrimRight(b.String(), " \t")
	if cont {
		out += `\`
	}
	return out
}

// Words splits a line into words as keepalived's alloc_strvec does: blanks
// separate words, and a double-quoted string (without escapes) is one word
// without its quotes.
func Words(s string) []string {
	var out []string
	for {
		s = strings.TrimLeft(s, " \t")
		if s == "" {
			return out
		}
		if s[0] == '"' {
			end := strings.IndexByte(s[1:], '"')
			if end < 0 { // keepalived reports the unmatched quote and stops
				return out
			}
			out = append(out, s[1:1+end])
			s = s[end+2:]
			continue
		}
		end := strings.IndexAny(s, " \t\"")
		if end < 0 {
			end = len(s)
		}
		out = append(out, s[:end])
		s = s[end:]
	}
}

// QuotedWords splits a line as keepalived does for script command lines
// (alloc_strvec_quoted_escaped): single or double quotes group, and a
// backslash escapes the next character (\n, \t, \xHH, \OOO and the like
// are decoded). It returns false on an unmatched quote.
func QuotedWords(s string) ([]string, bool) {
	var out []string
	i := 0
	for {
		for i < len(s) && (s[i] == ' ' || s[i] == '\t') {
			i++
		}
		if i == len(s) {
			return out, true
		}
		var w strings.Builder
		var quote byte
		for i < len(s) {
			c := s[i]
			switch {
			case c == '\\':
				if i+1 == len(s) {
					return out, false
				}
				n, adv := unescape(s[i+1:])
				w.WriteByte(n)
				i += 1 + adv
				continue
			case quote != 0 && c == quote:
				quote = 0
			case quote == 0 && (c == '"' || c == '\''):
				quote = c
			case quote == 0 && (c == ' ' || c == '\t'):
				goto done
			default:
				w.WriteByte(c)
			}
			i++
		}
	done:
		if quote != 0 {
			return out, false
		}
		out = append(out, w.String())
	}
}

// unescape decodes the escape after a backslash and says how many bytes
// it used.
func unescape(s string) (byte, int) {
	hex := func(c byte) (byte, bool) {
		switch {
		case c >= '0' && c <= '9':
			return c - '0', true
		case c >= 'a' && c <= 'f':
			return c - 'a' + 10, true
		case c >= 'A' && c <= 'F':
			return c - 'A' + 10, true
		}
		return 0, false
	}
	switch c := s[0]; {
	case c == 'x' && len(s) > 1:
		if _, ok := hex(s[1]); ok {
			var v byte
			n := 1
			for ; n < len(s); n++ {
				d, ok := hex(s[n])
				if !ok {
					break
				}
				v = v<<4 | d
			}
			return v, n
		}
	case c == 'c' && len(s) > 1:
		return s[1] & 0x1f, 2
	case c >= '0' && c <= '7':
		v, n := c-'0', 1
		for ; n < 3 && n < len(s) && s[n] >= '0' && s[n] <= '7'; n++ {
			v = v<<3 + s[n] - '0'
		}
		return v, n
	}
	if r, ok := map[byte]byte{'a': '\a', 'b': '\b', 'E': 0x1b, 'f': '\f', 'n': '\n', 'r': '\r', 't': '\t', 'v': '\v'}[s[0]]; ok {
		return r, 1
	}
	return s[0], 1
}

// splitBraces cuts a line at every '{' and '}' outside double quotes, as
// keepalived's read_line does: each brace becomes a line of its own.
func splitBraces(s string) []string {
	var out []string
	for s != "" {
		i := braceAt(s)
		switch {
		case i < 0:
			out = append(out, s)
			return out
		case i == 0:
			out = append(out, s[:1])
			s = strings.TrimLeft(s[1:], " \t")
		default:
			if p := strings.TrimRight(s[:i], " \t"); p != "" {
				out = append(out, p)
			}
			s = s[i:]
		}
	}
	return out
}

func braceAt(s string) int {
	quote := false
	for i := 0; i < len(s); i++ {
		switch s[i] {
		case '"':
			quote = !quote
		case '{', '}':
			if !quote {
				return i
			}
		}
	}
	return -1
}
