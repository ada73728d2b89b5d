package export

import (
	"bytes"
	"unicode/utf8"
)

// kind is how a column's text goes into JSON.
type kind int

const (
	// asString writes the text as a JSON string.
	asString kind = iota
	// asJSON writes the text as it is: it is JSON already (integers, json,
	// arrays).
	asJSON
	// asBool writes t and f as true and false.
	asBool
	// asTime writes a timestamptz's ISO text in UTC as RFC 3339.
	asTime
)

// outColumn is one exported column: its JSON key with the colon, and kind.
type outColumn struct {
	key  []byte
	kind kind
}

// appendRow appends one row, read as text, as a JSON object and a newline.
// A nil value is SQL NULL.
func appendRow(b []byte, cols []outColumn, vals [][]byte) []byte {
	b = append(b, '{')
	for i, c := range cols {
		if i > 0 {
			b = append(b, ',')
		}
		b = append(b, c.key...)
		v := vals[i]
		switch {
		case v == nil:
			b = append(b, "null"...)
		case c.kind == asJSON:
			b = append(b, v...)
		case c.kind == asBool:
			if len(v) == 1 && v[0] == 't' {
				b = append(b, "true"...)
			} else {
				b = append(b, "false"...)
			}
		case c.kind == asTime:
			b = appendTime(b, v)
		default:
			b = appendString(b, v)
		}
	}
	return append(b, '}', '\n')
}

// appendTime turns "2026-03-29 01:30:00.123456+00" into
// "2026-03-29T01:30:00.123456+00:00"; anything else (infinity, BC dates)
// goes as the text is.
func appendTime(b, v []byte) []byte {
	i := bytes.IndexByte(v, ' ')
	if i < 0 || !bytes.HasSuffix(v, []byte("+00")) || bytes.HasSuffix(v, []byte("BC")) {
		return appendString(b, v)
	}
	b = append(b, '"')
	b = append(b, v[:i]...)
	b = append(b, 'T')
	b = append(b, v[i+1:len(v)-3]...)
	return append(b, `+00:00"`...)
}

const hexDigits = "0123456789abcdef"

// appendString writes v as a JSON string, escaping quotes, backslashes and
// control characters; invalid UTF-8 becomes U+FFFD, as encoding/json does.
func appendString(b, v []byte) []byte {
	b = append(b, '"')
	start := 0
	for i := 0; i < len(v); {
		c := v[i]
		if c >= 0x20 && c != '"' && c != '\\' && c < utf8.RuneSelf {
			i++
			continue
		}
		if c < utf8.RuneSelf {
			b = append(b, v[start:i]...)
			switch c {
			case '"', '\\':
				b = append(b, '\\', c)
			case '\n':
				b = append(b, '\\', 'n')
			case '\r':
				b = append(b, '\\', 'r')
			case '\t':
				b = append(b, '\\', 't')
			default:
				b = append(b, '\\', 'u', '0', '0', hexDigits[c>>4], hexDigits[c&0xf])
			}
			i++
			start = i
			continue
		}
		r, size := utf8.DecodeRune(v[i:])
		if r == utf8.RuneError && size == 1 {
			b = append(b, v[start:i]...)
			b = append(b, `\ufffd`...)
			i++
			start = i
			continue
		}
		i += size
	}
	b = append(b, v[start:]...)
	return append(b, '"')
}
