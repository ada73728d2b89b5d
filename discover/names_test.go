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
