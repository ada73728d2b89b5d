package plan

import (
	"fmt"
	"io"
	"strings"

	"github.com/lethe-project/lethe/policy"
)

// Describe writes the plan for people: the subject selection and each step
// in execution order with its action and what ordered it.
func (pl *Plan) Describe(w io.Writer) {
	s := pl.Subject
	fmt.Fprintf(w, "subject: %s key %s (%s)\n", s.Table, s.Key.Name, s.Key.Type)
	fmt.Fprintf(w, "  eligible when %s is set and at least %s old (database clock)", s.RequestedAt.Name, policy.Duration(s.Grace))
	if s.Hold != nil {
		fmt.Fprintf(w, ", and %s is not true", s.Hold.Name)
	}
	if s.PurgedAt != nil {
		fmt.Fprintf(w, ", and %s is null", s.PurgedAt.Name)
	}
	fmt.Fprintln(w)
	fmt.Fprintln(w, "steps, in order, for each batch of subjects:")
	for i, st := range append(append([]*Step{}, pl.Steps...), pl.Final) {
		fmt.Fprintf(w, "%3d. %-10s %s", i+1, st.Action, st.Table)
		switch {
		case st == pl.Final:
			fmt.Fprintf(w, " (the subject row, last)")
		case st.On != nil:
			fmt.Fprintf(w, " where %s = the subject's %s", st.Match.Name, st.On.Name)
			for _, x := range st.extra {
				fmt.Fprintf(w, " and %s = the subject's %s", x[0].Name, x[1].Name)
			}
		case st.Via != nil:
			fmt.Fprintf(w, " where %s → %s.%s", st.Match.Name, st.Via.Table, st.Ref.Name)
			for _, x := range st.extra {
				fmt.Fprintf(w, " and %s → %s.%s", x[0].Name, st.Via.Table, x[1].Name)
			}
			if st.Rule != nil && !st.Rule.ViaMatch.IsZero() {
				fmt.Fprintf(w, " (through the %s rule on %s)", st.Via.Table, st.Via.Match.Name)
			}
		default:
			fmt.Fprintf(w, " where %s = subject key", st.Match.Name)
		}
		fmt.Fprintln(w)
		if len(st.Set) > 0 {
			var parts []string
			for _, sc := range st.Set {
				parts = append(parts, fmt.Sprintf("%s = %s", sc.Column.Name, sc.Value))
			}
			fmt.Fprintf(w, "       set %s\n", strings.Join(parts, ", "))
		}
		if st.Rule != nil && st.Rule.Basis != "" {
			fmt.Fprintf(w, "       basis: %s\n", st.Rule.Basis)
		}
		for _, a := range st.After {
			fmt.Fprintf(w, "       %s\n", a)
		}
	}
	if len(pl.Ignore) > 0 {
		fmt.Fprintln(w, "ignored:")
		for _, ig := range pl.Ignore {
			fmt.Fprintf(w, "     %s: %s\n", ig.Table, ig.Reason)
		}
	}
}
