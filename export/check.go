package export

import (
	"fmt"
	"strings"

	"github.com/lethe-project/lethe/plan"
)

// looksSecret lists name parts that suggest a secret, beyond the names the
// export always leaves out: hashes, keys, seeds and the like, which a
// person's copy rarely needs and whose leak could harm them.
var looksSecret = []string{"hash", "crypt", "cipher", "credential", "nonce", "seed", "private", "signature", "mfa", "2fa", "otp", "recovery"}

// Check is lethe check's view of the export: a policy error when an
// export.exclude names no column of its table, and a warning for each
// column that looks secret and would still be exported.
func Check(pl *plan.Plan) (warnings []string, err error) {
	parts, err := buildParts(pl)
	if err != nil {
		return nil, err
	}
	for _, p := range parts {
		ex := map[string]bool{}
		for _, c := range p.entry.Excluded {
			ex[c] = true
		}
		for _, name := range p.step.Table.ColumnOrder {
			id := p.step.Table.String() + "." + name
			if ex[name] || !secretLooking(name) {
				continue
			}
			where := "subject.export.exclude"
			if p.step.Rule != nil {
				where = fmt.Sprintf("export.exclude of the rule at line %d", p.step.Line)
			} else if p.step != pl.Final {
				where = "no rule: it is exported as a cascade"
			}
			warnings = append(warnings, fmt.Sprintf("export: column %s looks secret and would be exported (%s)", id, where))
		}
	}
	return warnings, nil
}

func secretLooking(name string) bool {
	n := strings.ToLower(name)
	if strings.HasSuffix(n, "_key") {
		return true
	}
	for _, part := range looksSecret {
		if strings.Contains(n, part) {
			return true
		}
	}
	return false
}
