package main

import (
	"context"
	"os"
	"path/filepath"
	"testing"

	"github.com/lethe-project/lethe/catalog"
	"github.com/lethe-project/lethe/internal/pgtest"
	"github.com/lethe-project/lethe/policy"
	"github.com/stretchr/testify/require"
)

func TestMain(m *testing.M) {
	code := m.Run()
	pgtest.Stop()
	os.Exit(code)
}

// writeModels writes app/models/<name> files under a new directory.
func writeModels(t *testing.T, files map[string]string) string {
	dir := t.TempDir()
	for name, src := range files {
		p := filepath.Join(dir, "app", "models", name)
		require.NoError(t, os.MkdirAll(filepath.Dir(p), 0o755))
		require.NoError(t, os.WriteFile(p, []byte(src), 0o600))
	}
	return dir
}

// TestGroundTruthReadsTheSubjectsHasMany: a has_many or has_one on the
// subject's model declares the other table's column a reference to the
// subject just as a belongs_to there would (lago's Customer has_many
// :events, whose Event has no belongs_to :customer), with Rails' rules for
// the column: foreign_key:, as: (polymorphic, not scored), inverse_of:,
// else <owner>_id; through: declares no column, nor does a commented-out
// line, and the options may continue on the next lines.
func TestGroundTruthReadsTheSubjectsHasMany(t *testing.T) {
	db := pgtest.NewDB(t, `
CREATE TABLE customers (id bigint PRIMARY KEY, referrer_id bigint);
CREATE TABLE events (id bigint PRIMARY KEY, customer_id bigint);
CREATE TABLE reviews (id bigint PRIMARY KEY, author_id bigint, customer_id bigint);
CREATE TABLE assignees (id bigint PRIMARY KEY, assignee_id bigint, customer_id bigint);
CREATE TABLE notes (id bigint PRIMARY KEY, author_id bigint, customer_id bigint);
CREATE TABLE namespaces (id bigint PRIMARY KEY, creator_id bigint, customer_id bigint);
CREATE TABLE error_details (id bigint PRIMARY KEY, owner_id bigint, owner_type text);
CREATE TABLE memberships (id bigint PRIMARY KEY, customer_id bigint REFERENCES customers, group_id bigint);
CREATE TABLE groups (id bigint PRIMARY KEY, customer_id bigint);
CREATE TABLE logs (id bigint PRIMARY KEY, customer_id bigint, external_customer_id text);
CREATE TABLE projects (id bigint PRIMARY KEY, customer_id bigint);
`)
	dir := writeModels(t, map[string]string{
		"customer.rb": `class Customer < ApplicationRecord
  has_many :events
  has_many :reviews, foreign_key: :author_id, inverse_of: :author
  has_many :assignees, dependent: :destroy, inverse_of: :assignee
  # has_many :notes, foreign_key: :author_id, dependent: :destroy
  has_one :namespace, class_name: 'Namespace',
    required: true,
    foreign_key: :creator_id
  has_many :error_details, as: :owner, dependent: :destroy
  has_many :memberships
  has_many :groups, through: :memberships
  has_many :logs,
    -> { order(logged_at: :desc) },
    class_name: "Log",
    foreign_key: :external_customer_id,
    primary_key: :external_id
  has_many :referrals, class_name: "Customer", foreign_key: "referrer_id"
end
`,
		"event.rb":        "class Event < ApplicationRecord\nend\n",
		"review.rb":       "class Review < ApplicationRecord\n  belongs_to :author, class_name: 'Customer'\nend\n",
		"assignee.rb":     "class Assignee < ApplicationRecord\n  belongs_to :assignee, class_name: 'Customer'\nend\n",
		"note.rb":         "class Note < ApplicationRecord\nend\n",
		"namespace.rb":    "class Namespace < ApplicationRecord\nend\n",
		"error_detail.rb": "class ErrorDetail < ApplicationRecord\nend\n",
		"membership.rb":   "class Membership < ApplicationRecord\nend\n",
		"group.rb":        "class Group < ApplicationRecord\nend\n",
		"log.rb":          "class Log < ApplicationRecord\nend\n",
		"project.rb":      "class Project < ApplicationRecord\n  has_many :events\nend\n",
	})
	cat, err := catalog.Load(context.Background(), db.Pool)
	require.NoError(t, err)
	sub, ok := cat.Lookup(policy.Ident{Raw: "customers", Parts: []string{"customers"}})
	require.True(t, ok)
	truth, ambiguous, _, err := groundTruth(cat, sub, dir)
	require.NoError(t, err)
	require.Equal(t, map[string]bool{"events.customer_id": true, "reviews.author_id": true, "assignees.assignee_id": true,
		"namespaces.creator_id": true, "customers.referrer_id": true}, truth)
	require.Equal(t, map[string]bool{"error_details.owner_id": true, "logs.external_customer_id": true}, ambiguous)
}

// TestGroundTruthKeepsNamespacedModelsApart: Ci::Pipeline and
// Ci::Sources::Pipeline are two models (the second used to replace the
// first, leaving ci_pipelines unscored), belongs_to :user inside module Ci
// is the top-level User, and MergeRequest::Metrics lives in
// merge_request_metrics (Rails leaves "metrics" as it is).
func TestGroundTruthKeepsNamespacedModelsApart(t *testing.T) {
	db := pgtest.NewDB(t, `
CREATE TABLE users (id bigint PRIMARY KEY);
CREATE TABLE ci_pipelines (id bigint PRIMARY KEY, user_id bigint, auto_canceled_by_id bigint);
CREATE TABLE ci_sources_pipelines (id bigint PRIMARY KEY, pipeline_id bigint);
CREATE TABLE merge_request_metrics (id bigint PRIMARY KEY, merged_by_id bigint);
CREATE TABLE merge_requests (id bigint PRIMARY KEY);
`)
	dir := writeModels(t, map[string]string{
		"user.rb":                  "class User < ApplicationRecord\nend\n",
		"merge_request.rb":         "class MergeRequest < ApplicationRecord\nend\n",
		"merge_request/metrics.rb": "class MergeRequest::Metrics < ApplicationRecord\n  belongs_to :merged_by, class_name: 'User'\nend\n",
		"ci/pipeline.rb": `module Ci
  class Pipeline < Ci::ApplicationRecord
    belongs_to :user
    belongs_to :auto_canceled_by, class_name: 'Ci::Pipeline'
  end
end
`,
		"ci/application_record.rb": "module Ci\n  class ApplicationRecord < ::ApplicationRecord\n    self.abstract_class = true\n  end\nend\n",
		"ci/sources/pipeline.rb":   "module Ci\n  module Sources\n    class Pipeline < Ci::ApplicationRecord\n      self.table_name = 'ci_sources_pipelines'\n    end\n  end\nend\n",
	})
	cat, err := catalog.Load(context.Background(), db.Pool)
	require.NoError(t, err)
	sub, ok := cat.Lookup(policy.Ident{Raw: "users", Parts: []string{"users"}})
	require.True(t, ok)
	truth, _, modeled, err := groundTruth(cat, sub, dir)
	require.NoError(t, err)
	require.Equal(t, map[string]bool{"ci_pipelines.user_id": true, "merge_request_metrics.merged_by_id": true}, truth)
	require.True(t, modeled["ci_pipelines"])
	require.True(t, modeled["ci_sources_pipelines"])
}

// TestSchemaRBForeignKeyToAnIrregularPlural: add_foreign_key "x",
// "children" is on x.child_id, as Rails derives it (human-essentials'
// schema.rb), not on a children_id that does not exist.
func TestSchemaRBForeignKeyToAnIrregularPlural(t *testing.T) {
	ddl := schemaRB(`  create_table "children", force: :cascade do |t|
  end
  create_table "child_item_requests", force: :cascade do |t|
    t.bigint "child_id"
  end
  add_foreign_key "child_item_requests", "children"
  add_foreign_key "child_item_requests", "people"
`)
	require.Contains(t, ddl, `ADD FOREIGN KEY ("child_id") REFERENCES "children"`)
	require.Contains(t, ddl, `ADD FOREIGN KEY ("person_id") REFERENCES "people"`)
}
