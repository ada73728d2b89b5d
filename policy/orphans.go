package policy

import (
	"fmt"
	"strings"

	"github.com/lethe-project/lethe/objstore"
	"go.yaml.in/yaml/v3"
)

// Orphans is the orphans: section, the work of the orphans job: data that
// lost its owner. Each list may be empty, but not all three.
type Orphans struct {
	// Organizations lists the tables of shared entities (organizations,
	// teams, workspaces) that are removed, with what belongs to them, once
	// they have no member left.
	Organizations []OrgRule `yaml:"organizations"`
	// Invites lists tables of invitations whose pending rows are deleted
	// once the person who sent them is gone.
	Invites []InviteRule `yaml:"invites"`
	// Objects lists object prefixes named after a subject key, removed
	// (every version) once that subject no longer exists.
	Objects []OrphanObjects `yaml:"objects"`

	// Line is where the section starts in the file.
	Line int `yaml:"-"`
}

// OrgRule says when a row of an organization table is orphaned and what
// goes with it.
type OrgRule struct {
	// Table is the organization table.
	Table Ident `yaml:"table"`
	// Key is its key column (uuid, integer or text).
	Key Ident `yaml:"key"`
	// Members names the membership table; an organization with no row
	// there is orphaned.
	Members OrgMembers `yaml:"members"`
	// CreatedAt is the timestamp column of the organization's creation:
	// an organization younger than MinAge is never removed, so that one
	// created a moment ago, before its first member, stays.
	CreatedAt Ident `yaml:"created_at"`
	// MinAge is the least age, by the database's clock, of an organization
	// the job removes. Required and positive.
	MinAge Duration `yaml:"min_age"`
	// Tables lists what belongs to the organization, each rule matching
	// the organization's key (or, with via, a row of another rule's
	// table), with the same actions as the top-level tables: (delete,
	// anonymize with set, keep with basis). Pseudonyms are not available.
	Tables []Rule `yaml:"tables"`
	// Ignore lists tables that refer to the organization but need no
	// action, each with the reason, as the top-level ignore:.
	Ignore []Ignore `yaml:"ignore"`
	// Objects lists location templates of the organization's files, with
	// {key} the organization's key and any other {name} a column of its
	// row; every version is removed before its rows.
	Objects []string `yaml:"objects"`

	// Line is where the rule starts in the file.
	Line int `yaml:"-"`
}

// OrgMembers names the membership table of an organization table.
type OrgMembers struct {
	// Table is the membership table.
	Table Ident `yaml:"table"`
	// Match is its column holding the organization's key; it must have a
	// foreign key to the organization table, which is what lets the job
	// see a membership inserted while it runs.
	Match Ident `yaml:"match"`
}

// InviteRule deletes pending invitations whose inviter is gone: no subject
// row holds the inviter's key, or that row has requested deletion
// (subject.requested_at is set). Rows whose inviter is NULL are kept.
type InviteRule struct {
	// Table is the invitations table.
	Table Ident `yaml:"table"`
	// Inviter is its column holding the inviting subject's key.
	Inviter Ident `yaml:"inviter"`
	// Pending is an equality filter (column: value or null) that selects
	// the invitations still open, such as {accepted_at: null}. Required.
	Pending Assignments `yaml:"pending"`

	// Line is where the rule starts in the file.
	Line int `yaml:"-"`
}

// OrphanObjects is a location template with {key} the subject key, as in
// "s3://app-uploads/users/{key}/" or "s3://avatars/{key}.png": what is
// found under its fixed part and named after a key that no subject row
// holds is removed, every version.
type OrphanObjects struct {
	// Location is the template; {key} is its only placeholder and is
	// followed by "/" at the end, or by a suffix without "/".
	Location string `yaml:"location"`
	// MinAge is the least age of the newest version (or delete marker) of
	// a prefix the job removes, so that files uploaded just before their
	// subject's row is committed stay. Required and positive.
	MinAge Duration `yaml:"min_age"`

	// Line is where the entry starts in the file.
	Line int `yaml:"-"`
}

// checkOrphans checks the orphans: section as far as the file alone shows;
// tables, columns and foreign keys are checked against the catalog when
// the job starts.
func (p *Policy) checkOrphans(perr *Error) {
	o := p.Orphans
	if o == nil {
		return
	}
	if len(o.Organizations) == 0 && len(o.Invites) == 0 && len(o.Objects) == 0 {
		perr.Add(o.Line, "orphans: needs organizations:, invites: or objects:")
	}
	tables := map[string]int{}
	for i := range o.Organizations {
		r := &o.Organizations[i]
		if prev, ok := tables[r.Table.Sanitize()]; ok && !r.Table.IsZero() {
			perr.Add(r.Line, "orphans: organizations: %s repeats the rule at line %d", r.Table, prev)
		}
		tables[r.Table.Sanitize()] = r.Line
		p.checkOrgRule(perr, r)
	}
	for _, r := range o.Invites {
		checkInviteRule(perr, r)
	}
	seen := map[string]int{}
	for _, ob := range o.Objects {
		if prev, ok := seen[ob.Location]; ok && ob.Location != "" {
			perr.Add(ob.Line, "orphans: objects: location %q repeats the entry at line %d", ob.Location, prev)
		}
		seen[ob.Location] = ob.Line
		checkOrphanObjects(perr, ob)
	}
}

func (p *Policy) checkOrgRule(perr *Error, r *OrgRule) {
	where := fmt.Sprintf("orphans: organization %s", r.Table)
	if r.Table.IsZero() {
		perr.Add(r.Line, "orphans: an organizations: rule needs table:")
		return
	}
	for _, c := range []struct {
		id   Ident
		name string
	}{{r.Key, "key"}, {r.CreatedAt, "created_at"}, {r.Members.Table, "members.table"}, {r.Members.Match, "members.match"}} {
		switch {
		case c.id.IsZero():
			perr.Add(r.Line, "%s needs %s", where, c.name)
		case c.name != "members.table" && len(c.id.Parts) > 1:
			perr.Add(r.Line, "%s: %s must be a column name, not %q", where, c.name, c.id.Raw)
		}
	}
	if r.MinAge <= 0 {
		perr.Add(r.Line, "%s needs min_age: a positive duration such as 1d (an organization younger than that is never removed)", where)
	}
	seen := map[string]int{}
	for i := range r.Tables {
		rule := &r.Tables[i]
		if rule.Line == 0 {
			rule.Line = r.Line
		}
		p.checkRule(perr, rule, seen)
		if rule.Table.Sanitize() == r.Table.Sanitize() && rule.Match.Sanitize() == r.Key.Sanitize() {
			perr.Add(rule.Line, "%s: tables: must not name the organization row itself; it goes last on its own", where)
		}
		for _, a := range rule.Set {
			if a.Value.Kind == Pseudonym {
				perr.Add(a.Line, "%s: rule for %s: pseudonyms are for subjects; use a literal or null", where, rule.Table)
			}
		}
	}
	for _, ig := range r.Ignore {
		if ig.Table.IsZero() || ig.Reason == "" {
			perr.Add(ig.Line, "%s: an ignore: entry needs table and reason", where)
		}
	}
	for _, loc := range r.Objects {
		if _, err := objstore.ParseLocation(loc); err != nil {
			perr.Add(r.Line, "%s: objects: %v", where, err)
		}
	}
}

func checkInviteRule(perr *Error, r InviteRule) {
	if r.Table.IsZero() || r.Inviter.IsZero() {
		perr.Add(r.Line, "orphans: an invites: rule needs table and inviter")
		return
	}
	if len(r.Inviter.Parts) > 1 {
		perr.Add(r.Line, "orphans: invites %s: inviter must be a column name, not %q", r.Table, r.Inviter.Raw)
	}
	if len(r.Pending) == 0 {
		perr.Add(r.Line, "orphans: invites %s needs pending: the columns that mark an invitation still open, such as {accepted_at: null}", r.Table)
	}
	for _, a := range r.Pending {
		if a.Value.Kind == Pseudonym {
			perr.Add(a.Line, "orphans: invites %s: pending: compares with literals or null, not a pseudonym", r.Table)
		}
	}
}

func checkOrphanObjects(perr *Error, o OrphanObjects) {
	if o.Location == "" {
		perr.Add(o.Line, "orphans: an objects: entry needs location:")
		return
	}
	if o.MinAge <= 0 {
		perr.Add(o.Line, "orphans: objects %s needs min_age: a positive duration such as 1d (newer files are never removed)", o.Location)
	}
	loc, err := objstore.ParseLocation(o.Location)
	if err != nil {
		perr.Add(o.Line, "orphans: objects: %v", err)
		return
	}
	if ph := loc.Placeholders(); len(ph) != 1 || ph[0] != "key" || strings.Count(o.Location, "{") != 1 {
		perr.Add(o.Line, "orphans: objects %s: {key} must be the only placeholder (a prefix is checked against the subject's key)", o.Location)
		return
	}
	after := o.Location[strings.Index(o.Location, "{key}")+len("{key}"):]
	if after != "/" && strings.Contains(after, "/") {
		perr.Add(o.Line, "orphans: objects %s: {key} must be followed by \"/\" at the end (a prefix) or by a suffix without \"/\" (one object), so that each group listed under the fixed part names one subject", o.Location)
	}
}

// setOrphansLines copies the line numbers of the orphans: section and its
// list items, and of the rules and ignore entries inside organizations,
// from the document tree.
func setOrphansLines(o *Orphans, key, val *yaml.Node) {
	if o == nil {
		return
	}
	o.Line = key.Line
	for i := 0; i+1 < len(val.Content); i += 2 {
		items := val.Content[i+1].Content
		switch val.Content[i].Value {
		case "organizations":
			eachItem(items, len(o.Organizations), func(j int, item *yaml.Node) { setOrgLines(&o.Organizations[j], item) })
		case "invites":
			eachItem(items, len(o.Invites), func(j int, item *yaml.Node) { o.Invites[j].Line = item.Line })
		case "objects":
			eachItem(items, len(o.Objects), func(j int, item *yaml.Node) { o.Objects[j].Line = item.Line })
		}
	}
}

func setOrgLines(r *OrgRule, item *yaml.Node) {
	r.Line = item.Line
	for i := 0; i+1 < len(item.Content); i += 2 {
		items := item.Content[i+1].Content
		switch item.Content[i].Value {
		case "tables":
			eachItem(items, len(r.Tables), func(j int, n *yaml.Node) { r.Tables[j].Line = n.Line })
		case "ignore":
			eachItem(items, len(r.Ignore), func(j int, n *yaml.Node) { r.Ignore[j].Line = n.Line })
		}
	}
}
