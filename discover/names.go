package discover

import (
	"path"
	"strings"
)

// referenceNames are the column names that say "the key of a person" in
// most applications; <subject>_id and *_<subject>_id are added for the
// subject table's own name.
var referenceNames = []string{
	"user_id", "*_user_id", "userid", "user_uuid", "author_id", "owner_id", "creator_id", "created_by", "updated_by",
	"deleted_by", "modified_by", "*_by", "*_by_id", "*_by_user_id", "account_id", "*_account_id",
	"person_id", "reporter_id", "assignee_id", "sender_id", "recipient_id", "receiver_id", "actor_id",
	"requester_id", "reviewer_id", "approver_id", "follower_id", "followee_id", "editor_id", "uploader_id",
	"inviter_id", "invitee_id", "moderator_id", "submitter_id", "subscriber_id", "commenter_id", "voter_id",
	"banner_id", "banned_id", "blocker_id", "blocked_id", "granter_id", "grantee_id", "revoker_id", "resolver_id",
	"verifier_id", "customer_id", "contact_id", "profile_id", "participant_id", "attendee_id", "host_id",
	"initiator_id", "impersonator_id", "last_editor_id", "closer_id", "merger_id", "mentioned_id", "target_user_id",
}

// personalNames are column names that hold personal data themselves.
var personalNames = []string{
	"email", "*_email", "email_*", "*_email_address", "phone", "*_phone", "phone_*", "mobile", "*_mobile",
	"ip", "*_ip", "ip_*", "*_ip_address", "ip_address", "remote_addr", "*_remote_addr", "address", "*_address",
	"street", "postcode", "postal_code", "zip_code", "first_name", "last_name", "full_name", "display_name",
	"real_name", "username", "user_name", "nickname", "birth*", "*_birth*", "dob", "birthday", "gender", "ssn",
	"passport*", "tax_id", "iban", "national_id", "user_agent", "*_user_agent", "home_lat", "home_lon",
	"home_location*",
}

// notPersonal are names that match a personal pattern but name things,
// not people: a table's own name column in a catalog of objects is
// personal only if the table is about people, which discovery cannot know;
// these are the common ones that never are.
var notPersonal = []string{
	"table_name", "column_name", "file_name", "filename", "class_name", "type_name", "event_name", "job_name",
	"queue_name", "host_name", "hostname", "domain_name", "tag_name", "branch_name", "ref_name", "key_name",
	"action_name", "feature_name", "content_type_name", "mime_name", "schema_name", "index_name", "*_type_name",
	"*_file_name", "*_class_name", "*_key_name", "*_url_address", "mac_address", "web_address",
}

// agentNouns are patterns for a column named after someone who acted
// (updater_id, pusher_id, authorizer_id, moderator_id); notAgents are
// the common nouns in -er/-or that name things, not people. A name that
// is also a table's (order_id and orders) refers to that table instead.
var (
	agentNouns = []string{"*er_id", "*or_id"}
	notAgents  = []string{
		"parent", "provider", "container", "header", "footer", "layer", "tier", "counter", "filter", "folder", "order",
		"number", "marker", "trigger", "handler", "processor", "vendor", "supplier", "partner", "server", "worker",
		"runner", "scanner", "sensor", "printer", "router", "adapter", "cluster", "buffer", "identifier", "locator",
		"selector", "vector", "sector", "factor", "color", "colour", "error", "mirror", "floor", "major", "minor",
		"connector", "generator", "iterator", "calendar", "register", "ledger", "cover", "poster", "sticker",
		"chapter", "letter", "paper", "banner", "master", "primary_key_or", "anchor", "door", "elevator", "tracker",
		"trailer", "transfer", "tenor", "flavor", "flavour", "behavior", "behaviour", "descriptor", "interceptor",
		"executor", "scheduler", "dispatcher", "launcher", "exporter", "importer", "converter", "encoder",
		"decoder", "parser", "renderer", "formatter", "validator", "indicator", "monitor", "operator_group",
		"other", "outer", "inner", "upper", "lower", "center", "centre", "after", "under", "over",
		"quarter", "twitter", "meter", "liter", "litre", "power", "tower", "water", "winner_team", "corner", "character",
	}
)

// externalTables are prefixes of tables that mirror another system's
// records (a payment provider's): a party's role there (payer_id,
// receiver_id, customer_id), whether an agent noun or in referenceNames,
// names that system's account, not a person's row; only the subject's own
// name (user_id, person_id, <subject>_id) is the application's reference.
var externalTables = []string{"paypal_*", "stripe_*", "braintree_*", "adyen_*", "gocardless_*", "mollie_*",
	"spree_paypal_*", "*_paypal_*", "twilio_*"}

// agent reports whether name (lower case) is <agent noun>_id.
func agent(name string) bool {
	if !matchAny(name, agentNouns) {
		return false
	}
	base := strings.TrimSuffix(name, "_id")
	if i := strings.LastIndexByte(base, '_'); i >= 0 {
		base = base[i+1:]
	}
	for _, n := range notAgents {
		if base == n {
			return false
		}
	}
	return len(base) > 3
}

// notReferences are names that match a reference pattern but hold no key:
// counts, times, types, and other systems' identifiers.
var notReferences = []string{"*_count", "count_*", "*_at", "*_on", "*_type", "external_*", "*_external_id",
	"provider_*", "remote_*", "stripe_*", "paypal_*", "gocardless_*", "adyen_*", "*_provider_*", "*_per_*"}

// matchAny reports whether name (lower case) matches one of patterns.
func matchAny(name string, patterns []string) bool {
	for _, p := range patterns {
		if ok, _ := path.Match(p, name); ok {
			return true
		}
	}
	return false
}

// singular is a table name's singular, the way Rails and Django name a
// reference to it (users → user, diary_entries → diary_entry).
func singular(name string) string {
	n := strings.ToLower(name)
	if i := strings.LastIndexByte(n, '.'); i >= 0 {
		n = n[i+1:]
	}
	switch {
	case strings.HasSuffix(n, "ies") && len(n) > 3:
		return n[:len(n)-3] + "y"
	case strings.HasSuffix(n, "sses"), strings.HasSuffix(n, "xes"), strings.HasSuffix(n, "ches"),
		strings.HasSuffix(n, "shes"), strings.HasSuffix(n, "uses"):
		return n[:len(n)-2]
	case strings.HasSuffix(n, "ss"):
		return n
	case strings.HasSuffix(n, "s") && len(n) > 1:
		return n[:len(n)-1]
	}
	return n
}

// camelToSnake folds "userId" and "UserID" to "user_id", so that the
// patterns cover quoted camel-case columns too.
func camelToSnake(s string) string {
	var b strings.Builder
	rs := []rune(s)
	for i, r := range rs {
		upper := r >= 'A' && r <= 'Z'
		if upper && i > 0 && (rs[i-1] >= 'a' && rs[i-1] <= 'z' || i+1 < len(rs) && rs[i+1] >= 'a' && rs[i+1] <= 'z' && rs[i-1] != '_') {
			b.WriteByte('_')
		}
		if upper {
			r += 'a' - 'A'
		}
		b.WriteRune(r)
	}
	return b.String()
}
