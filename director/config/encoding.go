package config

import (
	"bytes"
	"fmt"
	"unicode/utf8"
)

// maxEncodingErrors bounds the report for a file that is not text at all:
// the first lines say enough.
const maxEncodingErrors = 10

// encodingProblem is one place where a file is not the UTF-8 text YAML
// reads the same way as an editor shows it.
type encodingProblem struct {
	line, col int
	msg       string
}

// checkEncoding finds what yaml.v3 would refuse without saying where (bytes
// that are not UTF-8, control characters), and what it would read
// differently from an editor: a lone carriage return and the Unicode line
// separators are line breaks to YAML but not to most editors, so every
// line number after one would be off. A UTF-8 byte order mark is fine;
// UTF-16 and UTF-32 are refused, since the line numbers of this package
// count UTF-8 text.
func checkEncoding(data []byte) []encodingProblem {
	if bytes.HasPrefix(data, []byte{0xFF, 0xFE}) || bytes.HasPrefix(data, []byte{0xFE, 0xFF}) ||
		bytes.HasPrefix(data, []byte{0, 0, 0xFE, 0xFF}) {
		return []encodingProblem{{1, 1, "the file is UTF-16 or UTF-32 text: save it as UTF-8"}}
	}
	data = bytes.TrimPrefix(data, []byte("\xEF\xBB\xBF"))
	var out []encodingProblem
	line, col := 1, 1
	lastLine := 0 // one problem per line is enough
	for i := 0; i < len(data) && len(out) < maxEncodingErrors; {
		r, size := utf8.DecodeRune(data[i:])
		msg := runeProblem(r, size, data[i:])
		if msg != "" && line != lastLine {
			out = append(out, encodingProblem{line, col, msg})
			lastLine = line
		}
		switch {
		case r == '\n':
			line, col = line+1, 1
		case r == '\r' && i+1 < len(data) && data[i+1] == '\n':
			// the \n that follows ends the line
		default:
			col++
		}
		i += size
	}
	return out
}

func runeProblem(r rune, size int, rest []byte) string {
	switch {
	case r == utf8.RuneError && size <= 1:
		return fmt.Sprintf("byte 0x%02X is not UTF-8: save the file as UTF-8", rest[0])
	case r == 0:
		return "a NUL byte: is this a binary or UTF-16 file? save it as UTF-8 text"
	case r == '\r' && (len(rest) < 2 || rest[1] != '\n'):
		return "a carriage return (\\r) without a newline after it: use \\n or \\r\\n line ends"
	case r == '\u0085' || r == '\u2028' || r == '\u2029':
		return fmt.Sprintf("U+%04X is a line break to YAML but not to most editors: remove it", r)
	case r == '\t' || r == '\n' || r == '\r':
		return ""
	case r < 0x20 || r == 0x7F || (r >= 0x80 && r <= 0x9F):
		return fmt.Sprintf("control character U+%04X is not allowed in YAML: remove it", r)
	case r == 0xFEFF:
		return "a byte order mark (U+FEFF) inside the file: remove it"
	case r == 0xFFFE || r == 0xFFFF:
		return fmt.Sprintf("U+%04X is not a character: remove it", r)
	}
	return ""
}
