package main

import (
	"context"
	"sync"

	"github.com/jackc/pgx/v5/pgxpool"
)

// warmPool opens every connection of the load's pool and runs each of the
// load's statements once on it (the writes rolled back), before the first
// window. On the table partitioned by week a session's first statement
// builds the cache entries of its 60-odd partitions: 45 ms on this machine,
// 24 connections at once several hundred. Left to the windows, those first
// statements landed in whichever window first needed a connection (the
// first alone window, or a work window whose slower statements needed more
// connections at once) and made its p99 a measure of connection start-up,
// not of lethe. An application's long-lived connections are warm.
func warmPool(ctx context.Context, p *pgxpool.Pool, user string) error {
	n := int(p.Config().MaxConns)
	conns := make([]*pgxpool.Conn, 0, n)
	defer func() {
		for _, c := range conns {
			c.Release()
		}
	}()
	for range n { // held together, so that each is a different connection
		c, err := p.Acquire(ctx)
		if err != nil {
			return err
		}
		conns = append(conns, c)
	}
	errs := make([]error, n)
	var wg sync.WaitGroup
	for i, c := range conns {
		wg.Add(1)
		go func() {
			defer wg.Done()
			errs[i] = warmConn(ctx, c, user)
		}()
	}
	wg.Wait()
	for _, err := range errs {
		if err != nil {
			return err
		}
	}
	return nil
}

func warmConn(ctx context.Context, c *pgxpool.Conn, user string) error {
	var email string
	var k int
	if err := c.QueryRow(ctx, readSQL, user).Scan(&email, &k); err != nil {
		return err
	}
	tx, err := c.Begin(ctx)
	if err != nil {
		return err
	}
	defer tx.Rollback(context.WithoutCancel(ctx))
	for _, sql := range []string{updateSQL, insertSQL} {
		if _, err := tx.Exec(ctx, sql, user); err != nil {
			return err
		}
	}
	return nil
}
