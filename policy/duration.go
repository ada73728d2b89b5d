package policy

import (
	"fmt"
	"strconv"
	"strings"
	"time"

	"go.yaml.in/yaml/v3"
)

// Duration is a policy duration: a sequence of whole numbers with units
// s, m, h, d (24h), w (7d) and y (365d), such as 30d, 12h or 1y6w.
type Duration time.Duration

var units = map[byte]time.Duration{
	's': time.Second,
	'm': time.Minute,
	'h': time.Hour,
	'd': 24 * time.Hour,
	'w': 7 * 24 * time.Hour,
	'y': 365 * 24 * time.Hour,
}

// MaxDuration is the longest policy duration, 100 years: anything longer
// is a typo, and a sum that overflowed would silently become short.
const MaxDuration = 100 * 365 * 24 * time.Hour

// ParseDuration parses a policy duration. The total must not exceed
// MaxDuration.
func ParseDuration(s string) (Duration, error) {
	orig := s
	s = strings.TrimSpace(s)
	if s == "" {
		return 0, fmt.Errorf("empty duration")
	}
	var total time.Duration
	for s != "" {
		i := 0
		for i < len(s) && s[i] >= '0' && s[i] <= '9' {
			i++
		}
		if i == 0 || i == len(s) {
			return 0, fmt.Errorf("duration %q: want a number followed by a unit (s, m, h, d, w, y), e.g. 30d", orig)
		}
		n, err := strconv.ParseInt(s[:i], 10, 64)
		if err != nil {
			return 0, fmt.Errorf("duration %q: %w", orig, err)
		}
		unit, ok := units[s[i]]
		if !ok {
			return 0, fmt.Errorf("duration %q: unknown unit %q (use s, m, h, d, w or y)", orig, s[i])
		}
		// Checked before adding, so the sum can never overflow.
		if n > int64((MaxDuration-total)/unit) {
			return 0, fmt.Errorf("duration %q is longer than 100 years", orig)
		}
		total += time.Duration(n) * unit
		s = s[i+1:]
	}
	return Duration(total), nil
}

// UnmarshalText implements encoding.TextUnmarshaler.
func (d *Duration) UnmarshalText(b []byte) error {
	v, err := ParseDuration(string(b))
	if err != nil {
		return err
	}
	*d = v
	return nil
}

// String formats the duration in the largest whole units.
func (d Duration) String() string {
	v := time.Duration(d)
	if v == 0 {
		return "0s"
	}
	var b strings.Builder
	for _, u := range []struct {
		c byte
		d time.Duration
	}{{'y', units['y']}, {'d', units['d']}, {'h', time.Hour}, {'m', time.Minute}, {'s', time.Second}} {
		if n := v / u.d; n > 0 {
			fmt.Fprintf(&b, "%d%c", n, u.c)
			v -= n * u.d
		}
	}
	return b.String()
}

// UnmarshalYAML implements yaml.Unmarshaler so that errors carry the line.
func (d *Duration) UnmarshalYAML(node *yaml.Node) error {
	if node.Kind != yaml.ScalarNode {
		return decodeError(fmt.Errorf("line %d: want a duration such as 30d, got %s", node.Line, describe(node)))
	}
	v, err := ParseDuration(node.Value)
	if err != nil {
		return decodeError(fmt.Errorf("line %d: %w", node.Line, err))
	}
	*d = v
	return nil
}
