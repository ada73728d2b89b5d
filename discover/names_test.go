package discover

import (
	"testing"

	"github.com/lethe-project/lethe/catalog"
	"github.com/stretchr/testify/require"
)

// TestLimitsPerUserAreNotReferences: a limit per user (gisia's
// application_settings.unique_ips_limit_per_user) is a number, not a
// reference, though it ends in _user.
func TestLimitsPerUserAreNotReferences(t *testing.T) {
	key := &catalog.Column{Name: "id", Type: "integer"}
	users := &catalog.Table{Schema: "public", Name: "users", Columns: map[string]*catalog.Column{"id": key}}
	settings := &catalog.Table{Schema: "public", Name: "application_settings"}
	s := newShape(Input{Catalog: &catalog.Catalog{}, Subject: Target{users, key}})
	for name, want := range map[string]bool{"unique_ips_limit_per_user": false, "pipeline_limit_per_user": false, "owner_user": true, "user_id": true} {
		got := s.referenceByName(settings, &catalog.Column{Name: name, Type: "integer"}) != nil
		require.Equal(t, want, got, name)
	}
}

// TestProviderTablesNameTheProvidersParties: in a table that mirrors a
// payment provider's records (sharetribe's paypal_payments), a party's
// role (receiver_id, payer_id, customer_id) is the provider's account id,
// whether the role is in the reference list or an agent noun; the
// subject's own name (person_id, user_id) is still the application's
// reference. The same roles in the application's own tables still count.
func TestProviderTablesNameTheProvidersParties(t *testing.T) {
	key := &catalog.Column{Name: "id", Type: "character varying(22)", Category: "S"}
	people := &catalog.Table{Schema: "public", Name: "people", Columns: map[string]*catalog.Column{"id": key}}
	s := newShape(Input{Catalog: &catalog.Catalog{}, Subject: Target{people, key}})
	col := func(name string) *catalog.Column {
		return &catalog.Column{Name: name, Type: "character varying(255)", Category: "S"}
	}
	for table, want := range map[string]map[string]bool{
		"paypal_payments": {"receiver_id": false, "payer_id": false, "customer_id": false, "sender_id": false, "person_id": true, "user_id": true},
		"paypal_tokens":   {"receiver_id": false},
		"payments":        {"receiver_id": true, "payer_id": true, "customer_id": true, "person_id": true},
	} {
		tb := &catalog.Table{Schema: "public", Name: table}
		for name, w := range want {
			got := s.referenceByName(tb, col(name)) != nil
			require.Equal(t, w, got, table+"."+name)
		}
	}
}
