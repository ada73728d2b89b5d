package retention

import (
	"context"
	"errors"

	"github.com/jackc/pgx/v5/pgconn"
)

// SQLSTATE codes the job reacts to.
const (
	codeDeadlock    = "40P01"
	codeLockTimeout = "55P03"
	codeSerialize   = "40001"
	codeQueryCancel = "57014"
	codeObjectInUse = "55006"
	classDataError  = "22"
)

func sqlState(err error) string {
	var pe *pgconn.PgError
	if errors.As(err, &pe) {
		return pe.Code
	}
	return ""
}

// lockTrouble reports whether err comes from other sessions' locks: worth
// a retry after a pause.
func lockTrouble(err error) bool {
	switch sqlState(err) {
	case codeDeadlock, codeLockTimeout, codeSerialize, codeObjectInUse:
		return true
	}
	return false
}

// statementTimedOut reports whether err is our statement_timeout, not a
// cancellation of ctx.
func statementTimedOut(ctx context.Context, err error) bool {
	return ctx.Err() == nil && sqlState(err) == codeQueryCancel
}

func isDataError(err error) bool {
	s := sqlState(err)
	return len(s) == 5 && s[:2] == classDataError
}

func pgMessage(err error) string {
	var pe *pgconn.PgError
	if errors.As(err, &pe) {
		return pe.Message
	}
	return err.Error()
}
