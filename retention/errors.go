package retention

import (
	"context"

	"github.com/lethe-project/lethe/jobs"
)

// codeQueryCancel is the SQLSTATE of a statement cancelled by
// statement_timeout (or by a cancel request).
const codeQueryCancel = "57014"

// statementTimedOut reports whether err is our statement_timeout, not a
// cancellation of ctx: the job then halves the batch or the range and
// tries again, its own answer to a statement that took too long.
func statementTimedOut(ctx context.Context, err error) bool {
	return ctx.Err() == nil && jobs.SQLState(err) == codeQueryCancel
}
