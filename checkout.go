package main

import (
	"encoding/json"
	"fmt"
	"io"
	"sort"
	"strings"

	"github.com/lethe-project/lethe/plan"
	"github.com/lethe-project/lethe/policy"
)

// planJSON is the plan in lethe check --format json.
type planJSON struct {
	Subject subjectJSON  `json:"subject"`
	Steps   []stepJSON   `json:"steps"`
	Ignored []ignoreJSON `json:"ignored"`
}

type subjectJSON struct {
	Table       string `json:"table"`
	Key         string `json:"key"`
	KeyType     string `json:"key_type"`
	RequestedAt string `json:"requested_at"`
	Grace       string `json:"grace"`
	Hold        string `json:"hold,omitempty"`
	PurgedAt    string `json:"purged_at,omitempty"`
}

type stepJSON struct {
	Order  int    `json:"order"`
	Table  string `json:"table"`
	Action string `json:"action"`
	Match  string `json:"match"`
	Via    string `json:"via,omitempty"`
	Ref    string `json:"ref,omitempty"`
	// MatchColumns and RefColumns name every column pair of a multi-column
	// key (match: [a, b]), Match and Ref first; absent for one column.
	MatchColumns []string  `json:"match_columns,omitempty"`
	RefColumns   []string  `json:"ref_columns,omitempty"`
	Set          []setJSON `json:"set,omitempty"`
	Basis        string    `json:"basis,omitempty"`
	After        []string  `json:"after,omitempty"`
	Line         int       `json:"line,omitempty"`
	Final        bool      `json:"final,omitempty"`
}

type setJSON struct {
	Column string `json:"column"`
	Value  string `json:"value"`
}

type ignoreJSON struct {
	Table  string `json:"table"`
	Column string `json:"column,omitempty"`
	Reason string `json:"reason"`
	Line   int    `json:"line"`
}

func planToJSON(pl *plan.Plan) *planJSON {
	s := pl.Subject
	out := &planJSON{Subject: subjectJSON{Table: s.Table.String(), Key: s.Key.Name, KeyType: s.Key.Type,
		RequestedAt: s.RequestedAt.Name, Grace: policy.Duration(s.Grace).String()}, Steps: []stepJSON{}, Ignored: []ignoreJSON{}}
	if s.Hold != nil {
		out.Subject.Hold = s.Hold.Name
	}
	if s.PurgedAt != nil {
		out.Subject.PurgedAt = s.PurgedAt.Name
	}
	for i, st := range append(append([]*plan.Step{}, pl.Steps...), pl.Final) {
		j := stepJSON{Order: i + 1, Table: st.Table.String(), Action: string(st.Action), Match: st.Match.Name,
			After: st.After, Line: st.Line, Final: st == pl.Final}
		if st.Via != nil {
			j.Via, j.Ref = st.Via.Table.String(), st.Ref.Name
		}
		if cols, refs := st.Link(); len(cols) > 1 {
			for i := range cols {
				j.MatchColumns, j.RefColumns = append(j.MatchColumns, cols[i].Name), append(j.RefColumns, refs[i].Name)
			}
		}
		for _, sc := range st.Set {
			j.Set = append(j.Set, setJSON{Column: sc.Column.Name, Value: sc.Value.String()})
		}
		if st.Rule != nil {
			j.Basis = st.Rule.Basis
		}
		out.Steps = append(out.Steps, j)
	}
	for _, ig := range pl.Ignore {
		j := ignoreJSON{Table: ig.Table.String(), Reason: ig.Reason, Line: ig.Line}
		if !ig.Column.IsZero() {
			j.Column = ig.Column.String()
		}
		out.Ignored = append(out.Ignored, j)
	}
	return out
}

func writeJSON(w io.Writer, rep *checkReport) error {
	if rep.Problems == nil {
		rep.Problems = []checkItem{}
	}
	if rep.Warnings == nil {
		rep.Warnings = []checkItem{}
	}
	if rep.Checked == nil {
		rep.Checked = []string{}
	}
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(rep)
}

// writeCheckText prints the report for people: problems grouped by table,
// each group with the rule to add, on stderr; then the plan on stdout and
// the warnings, grouped the same way, on stderr.
func writeCheckText(stdout, stderr io.Writer, rep *checkReport, pl *plan.Plan) {
	if !rep.Valid {
		if len(rep.Problems) == 1 {
			fmt.Fprintf(stderr, "lethe: policy %s: %s\n", rep.Policy, itemText(rep.Problems[0]))
			if s := rep.Problems[0].Suggestion; s != "" {
				fmt.Fprintf(stderr, "  → %s\n", s)
			}
		} else {
			fmt.Fprintf(stderr, "lethe: policy %s: %d problems\n", rep.Policy, len(rep.Problems))
			writeGroups(stderr, rep.Problems)
		}
		if len(rep.Warnings) > 0 {
			fmt.Fprintf(stderr, "lethe: %s\n", plural(len(rep.Warnings), "warning"))
			writeGroups(stderr, rep.Warnings)
		}
		return
	}
	fmt.Fprintf(stdout, "policy %s is valid (sha256 %s)\n", rep.Policy, rep.SHA256[:12])
	for _, w := range rep.Warnings {
		if w.Kind == kindExport || w.Kind == kindSchedule || w.Kind == kindJournal {
			fmt.Fprintf(stderr, "lethe: warning: %s\n", w.Message)
		}
	}
	var grouped []checkItem
	for _, w := range rep.Warnings {
		if w.Kind != kindExport && w.Kind != kindSchedule && w.Kind != kindJournal {
			grouped = append(grouped, w)
		}
	}
	if len(grouped) > 0 {
		fmt.Fprintf(stderr, "lethe: warning: %s the policy does not classify or could do better (--strict makes unclassified and stale ones problems):\n", plural(len(grouped), "thing"))
		writeGroups(stderr, grouped)
	}
	fmt.Fprintf(stdout, "checked against the database: %s\n", strings.Join(rep.Checked, ", "))
	if d := rep.Discovery; d != nil {
		fmt.Fprintf(stdout, "discovery: %d candidates, %d tables sampled", d.Candidates, d.SampledTables)
		if d.UnsampledTables > 0 {
			fmt.Fprintf(stdout, ", %d not sampled (time budget or statement timeout: their candidates have no confidence)", d.UnsampledTables)
		}
		fmt.Fprintln(stdout)
	}
	if pl != nil {
		pl.Describe(stdout)
	}
}

func itemText(it checkItem) string {
	if it.Line > 0 {
		return fmt.Sprintf("line %d: %s", it.Line, it.Message)
	}
	return it.Message
}

// writeGroups prints items grouped by table (those of no table first),
// each followed by its suggestion.
func writeGroups(w io.Writer, items []checkItem) {
	groups := map[string][]checkItem{}
	var names []string
	for _, it := range items {
		if _, ok := groups[it.Table]; !ok {
			names = append(names, it.Table)
		}
		groups[it.Table] = append(groups[it.Table], it)
	}
	sort.Strings(names)
	for _, name := range names {
		indent := "  "
		if name != "" {
			fmt.Fprintf(w, "  %s:\n", name)
			indent = "    "
		}
		for _, it := range groups[name] {
			fmt.Fprintf(w, "%s%s\n", indent, itemText(it))
			if it.Suggestion != "" {
				fmt.Fprintf(w, "%s  → %s\n", indent, it.Suggestion)
			}
		}
	}
}

func plural(n int, what string) string {
	if n == 1 {
		return "1 " + what
	}
	return fmt.Sprintf("%d %ss", n, what)
}
