// Package roletest runs tests as lethe runs in production: as a role that
// holds exactly the privileges `lethe grants` computes for the test's
// policy, never as the superuser that created the test database. A job
// that needs a privilege the grants do not give fails its test.
package roletest

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"net/url"
	"sync"
	"testing"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/lethe-project/lethe/grants"
	"github.com/lethe-project/lethe/internal/pgtest"
	"github.com/lethe-project/lethe/policy"
)

// Role is a least-privilege role on one test database.
type Role struct {
	// Name is the role's name.
	Name string
	// URL connects to the test database as the role.
	URL string
	// Pool is a pool of the role's connections, closed when the test ends.
	Pool *pgxpool.Pool
}

// New creates a role on db with the grants that pol needs there, as the
// script `lethe grants` prints, and drops it (and what it owns) when the
// test ends. Run it after the schema is final: grants are per table.
func New(t testing.TB, db *pgtest.DB, pol *policy.Policy) *Role {
	t.Helper()
	r, err := TryNew(t, db, pol)
	if err != nil {
		t.Fatalf("roletest: lethe grants refuses the test's policy: %v", err)
	}
	return r
}

// TryNew is New for a policy that may not fit the database (a test of a
// policy error): it returns the error `lethe grants` gives for it, and no
// role. The job refuses such a policy before it changes anything, whoever
// runs it.
func TryNew(t testing.TB, db *pgtest.DB, pol *policy.Policy) (*Role, error) {
	t.Helper()
	ctx := context.Background()
	g, err := grants.Compute(ctx, db.Pool, pol)
	if err != nil {
		return nil, err
	}
	r := &Role{Name: "lethe_" + db.Name}
	if len(r.Name) > 63 {
		r.Name = r.Name[:63]
	}
	var script bytes.Buffer
	if err := g.WriteSQL(&script, r.Name); err != nil {
		t.Fatal(err)
	}
	if _, err := db.Pool.Exec(ctx, script.String()); err != nil {
		t.Fatalf("roletest: run the grants script: %v\n%s", err, script.String())
	}
	// A password, so that a server reached through TEST_DATABASE_URL that
	// wants one lets the role in; the private cluster trusts local users.
	pw := make([]byte, 16)
	_, _ = rand.Read(pw)
	secret := hex.EncodeToString(pw)
	if _, err := db.Pool.Exec(ctx, "ALTER ROLE "+pgx.Identifier{r.Name}.Sanitize()+" PASSWORD '"+secret+"'"); err != nil {
		t.Fatal(err)
	}
	u, err := url.Parse(db.URL)
	if err != nil {
		t.Fatal(err)
	}
	u.User = url.UserPassword(r.Name, secret)
	r.URL = u.String()
	if r.Pool, err = pgxpool.New(ctx, r.URL); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		r.Pool.Close()
		id := pgx.Identifier{r.Name}.Sanitize()
		// The role's sessions are gone with its pool; what it owns (the
		// lethe schema) goes with it, as the test database will.
		_, _ = db.Pool.Exec(context.Background(), "DROP OWNED BY "+id)
		_, _ = db.Pool.Exec(context.Background(), "DROP ROLE IF EXISTS "+id)
	})
	return r, nil
}

type key struct {
	db  *pgtest.DB
	pol *policy.Policy
}

var (
	mu    sync.Mutex // one grants script at a time: concurrent runs of a test share the role
	roles = map[key]*Role{}
)

// Pool returns the pool a job under test connects with: that of a role
// with exactly the grants pol needs on db, made on first use for this
// database and policy (the schema must be final by then), or db's
// superuser pool when pol is nil or lethe grants refuses it (a test of a
// policy error: the job refuses the policy too, before it changes
// anything, so the privileges do not matter).
func Pool(t testing.TB, db *pgtest.DB, pol *policy.Policy) *pgxpool.Pool {
	t.Helper()
	if pol == nil {
		return db.Pool
	}
	k := key{db, pol}
	mu.Lock()
	defer mu.Unlock()
	if r, ok := roles[k]; ok {
		return r.Pool
	}
	r, err := TryNew(t, db, pol)
	if err != nil {
		return db.Pool
	}
	roles[k] = r
	t.Cleanup(func() {
		mu.Lock()
		delete(roles, k)
		mu.Unlock()
	})
	return r.Pool
}
