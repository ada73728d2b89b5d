package schedule

import (
	"fmt"
	"strings"
)

// Entry is one scheduled job.
type Entry struct {
	// Name is the job's name, as --job takes it.
	Name string
	// Spec is its cron expression; see the package doc.
	Spec string
}

// ParseEntries reads schedules written as NAME=SPEC entries separated by
// semicolons or newlines, such as "purge=0 3 * * *; retention=*/15 * * * *".
// Blank entries are ignored; a job named twice, an entry without "=", or an
// empty name or spec is an error. It does not check the specs: [New] does,
// with the parser [Config.Seconds] selects.
func ParseEntries(s string) ([]Entry, error) {
	var out []Entry
	seen := map[string]bool{}
	for _, item := range strings.FieldsFunc(s, func(r rune) bool { return r == ';' || r == '\n' }) {
		item = strings.TrimSpace(item)
		if item == "" {
			continue
		}
		name, spec, ok := strings.Cut(item, "=")
		name, spec = strings.TrimSpace(name), strings.TrimSpace(spec)
		switch {
		case !ok:
			return nil, fmt.Errorf("schedule entry %q: want NAME=SPEC, such as purge=0 3 * * *", item)
		case name == "" || strings.ContainsAny(name, " \t"):
			return nil, fmt.Errorf("schedule entry %q: %q is not a job name", item, name)
		case spec == "":
			return nil, fmt.Errorf("schedule entry %q: job %s has an empty schedule", item, name)
		case seen[name]:
			return nil, fmt.Errorf("schedule: job %s is scheduled twice", name)
		}
		seen[name] = true
		out = append(out, Entry{Name: name, Spec: spec})
	}
	if len(out) == 0 {
		return nil, fmt.Errorf("schedule: no job scheduled; want NAME=SPEC entries such as purge=0 3 * * *")
	}
	return out, nil
}
