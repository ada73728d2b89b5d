package policy

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"

	"go.yaml.in/yaml/v3"
)

// Problem is one thing wrong with a policy, at a line of the file when known.
type Problem struct {
	// Line is the 1-based line in the policy file, or 0 when unknown.
	Line int
	// Msg says what is wrong.
	Msg string
}

// Error is every problem found in a policy. Jobs turn it into exit code 2.
type Error struct {
	// Path is the policy file.
	Path string
	// Problems lists what is wrong, in file order.
	Problems []Problem
}

func (e *Error) Error() string {
	var b strings.Builder
	if len(e.Problems) == 1 {
		fmt.Fprintf(&b, "policy %s: ", e.Path)
		e.Problems[0].write(&b)
		return b.String()
	}
	fmt.Fprintf(&b, "policy %s: %d problems", e.Path, len(e.Problems))
	for _, p := range e.Problems {
		b.WriteString("\n  ")
		p.write(&b)
	}
	return b.String()
}

func (p Problem) write(b *strings.Builder) {
	if p.Line > 0 {
		fmt.Fprintf(b, "line %d: ", p.Line)
	}
	b.WriteString(p.Msg)
}

// Add records a problem.
func (e *Error) Add(line int, format string, args ...any) {
	e.Problems = append(e.Problems, Problem{Line: line, Msg: fmt.Sprintf(format, args...)})
}

// Err returns e when it holds problems and nil otherwise.
func (e *Error) Err() error {
	if len(e.Problems) == 0 {
		return nil
	}
	return e
}

// MaxSize is the largest policy file lethe reads, 16 MiB: a real policy is
// a few kilobytes, and a wrong path (/dev/zero) must not fill the memory.
const MaxSize = 16 << 20

// Load reads and checks the policy file at path.
func Load(path string) (*Policy, error) {
	return LoadContext(context.Background(), path)
}

// LoadContext is Load that gives up when ctx is done, even while the open
// or a read blocks (a FIFO with no writer, a stalled network file system):
// it returns ctx's error, not a *Error.
func LoadContext(ctx context.Context, path string) (*Policy, error) {
	type result struct {
		data []byte
		err  error
	}
	ch := make(chan result, 1)
	go func() {
		// An open or read that never returns leaves this goroutine behind;
		// the process is about to exit anyway.
		data, err := readLimited(path)
		ch <- result{data, err}
	}()
	select {
	case <-ctx.Done():
		return nil, ctx.Err()
	case r := <-ch:
		if r.err != nil {
			return nil, &Error{Path: path, Problems: []Problem{{Msg: r.err.Error()}}}
		}
		return Parse(r.data, path)
	}
}

// readLimited reads at most MaxSize bytes of path.
func readLimited(path string) ([]byte, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	data, err := io.ReadAll(io.LimitReader(f, MaxSize+1))
	if err != nil {
		return nil, err
	}
	if len(data) > MaxSize {
		return nil, errors.New("the file is larger than 16 MiB, the most a policy may be")
	}
	return data, nil
}

// Parse decodes and checks a policy. Every error is an *Error.
func Parse(data []byte, path string) (*Policy, error) {
	perr := &Error{Path: path}
	var root yaml.Node
	dec := yaml.NewDecoder(bytes.NewReader(data))
	if err := dec.Decode(&root); err != nil {
		if errors.Is(err, io.EOF) {
			perr.Add(0, "the file is empty")
		} else {
			addYAMLError(perr, err)
		}
		return nil, perr
	}
	var extra yaml.Node
	if err := dec.Decode(&extra); err == nil {
		perr.Add(extra.Line, "the file holds more than one YAML document")
		return nil, perr
	}
	if len(root.Content) == 0 || root.Content[0].Kind != yaml.MappingNode {
		perr.Add(root.Line, "the policy must be a mapping of sections (subject:, retention:, inactivity:, orphans: ...)")
		return nil, perr
	}
	p := &Policy{Path: path}
	strict := yaml.NewDecoder(bytes.NewReader(data))
	strict.KnownFields(true)
	if err := strict.Decode(p); err != nil {
		addYAMLError(perr, err)
		return nil, perr
	}
	sum := sha256.Sum256(data)
	p.Digest = hex.EncodeToString(sum[:])
	setLines(p, root.Content[0])
	p.check(perr)
	if err := perr.Err(); err != nil {
		return nil, err
	}
	return p, nil
}

func addYAMLError(perr *Error, err error) {
	var te *yaml.TypeError
	if errors.As(err, &te) {
		for _, msg := range te.Errors {
			line := 0
			if _, err := fmt.Sscanf(msg, "line %d:", &line); err == nil {
				msg = strings.TrimSpace(msg[strings.IndexByte(msg, ':')+1:])
			}
			perr.Add(line, "%s", friendlyYAML(msg))
		}
		return
	}
	msg := strings.TrimPrefix(err.Error(), "yaml: ")
	line := 0
	if _, err := fmt.Sscanf(msg, "line %d:", &line); err == nil {
		msg = strings.TrimSpace(msg[strings.IndexByte(msg, ':')+1:])
	}
	perr.Add(line, "%s", msg)
}

// friendlyYAML rewords the decoder's messages in the policy's terms.
func friendlyYAML(msg string) string {
	if strings.HasPrefix(msg, "field ") && strings.Contains(msg, " not found in type ") {
		name := strings.TrimPrefix(msg, "field ")
		name = name[:strings.Index(name, " not found")]
		typ := msg[strings.LastIndex(msg, ".")+1:]
		return fmt.Sprintf("unknown key %q in %s", name, sectionName(typ))
	}
	return msg
}

func sectionName(typ string) string {
	switch typ {
	case "Policy":
		return "the top level (want subject, tables, ignore, references, discovery, retention, objects, processors, inactivity, orphans, export)"
	case "Subject":
		return "subject"
	case "Rule":
		return "a tables: rule"
	case "Ignore":
		return "an ignore: entry"
	case "Reference":
		return "a references: entry (want table, column or columns, to, to_column or to_columns, note)"
	case "Discovery":
		return "discovery (want names, personal, skip, sample_rows)"
	case "Export":
		return "export (want exclude)"
	case "RetentionRule":
		return "a retention: rule"
	case "ObjectRule":
		return "an objects: entry (want location, or table, column and location)"
	case "Processor":
		return "a processors: entry"
	case "Inactivity":
		return "inactivity"
	case "InactivityNotify":
		return "inactivity.notify (want webhook, smtp)"
	case "InactivityWebhook":
		return "inactivity.notify.webhook"
	case "InactivitySMTP":
		return "inactivity.notify.smtp"
	case "ExportJob":
		return "export (want request, to, expire, email, notify)"
	case "ExportRequest":
		return "export.request (want column, or table, match, requested_at, done_at)"
	case "Orphans":
		return "orphans (want organizations, invites, objects)"
	case "OrgRule":
		return "an orphans: organizations: rule"
	case "OrgMembers":
		return "members (want table, match)"
	case "InviteRule":
		return "an orphans: invites: rule (want table, inviter, pending)"
	case "OrphanObjects":
		return "an orphans: objects: entry (want location, min_age)"
	}
	return typ
}

// setLines copies the line numbers of sections and list items from the
// document tree into the decoded policy.
func setLines(p *Policy, top *yaml.Node) {
	for i := 0; i+1 < len(top.Content); i += 2 {
		key, val := top.Content[i], top.Content[i+1]
		switch key.Value {
		case "subject":
			p.Subject.Line = key.Line
		case "tables":
			eachItem(val.Content, len(p.Tables), func(j int, item *yaml.Node) { p.Tables[j].Line = item.Line })
		case "ignore":
			eachItem(val.Content, len(p.Ignore), func(j int, item *yaml.Node) { p.Ignore[j].Line = item.Line })
		case "references":
			eachItem(val.Content, len(p.References), func(j int, item *yaml.Node) { p.References[j].Line = item.Line })
		case "discovery":
			if p.Discovery != nil {
				p.Discovery.Line = key.Line
			}
		case "retention":
			eachItem(val.Content, len(p.Retention), func(j int, item *yaml.Node) { p.Retention[j].Line = item.Line })
		case "objects":
			eachItem(val.Content, len(p.Objects), func(j int, item *yaml.Node) { p.Objects[j].Line = item.Line })
		case "processors":
			eachItem(val.Content, len(p.Processors), func(j int, item *yaml.Node) { p.Processors[j].Line = item.Line })
		case "inactivity":
			setInactivityLines(p.Inactivity, key, val)
		case "orphans":
			setOrphansLines(p.Orphans, key, val)
		case "export":
			setExportJobLines(p.ExportJob, key, val)
		}
	}
}

// eachItem calls fn for each of the first n list items: the decoded list
// and the document tree's items are in the same order.
func eachItem(items []*yaml.Node, n int, fn func(j int, item *yaml.Node)) {
	for j, item := range items {
		if j < n {
			fn(j, item)
		}
	}
}

// decodeError turns an UnmarshalYAML error into a *yaml.TypeError, which
// the decoder collects before it goes on with the rest of the file (any
// other error stops it): one run names every problem.
func decodeError(err error) error {
	return &yaml.TypeError{Errors: []string{err.Error()}}
}
