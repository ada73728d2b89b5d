package orphans

import (
	"errors"

	"github.com/jackc/pgx/v5/pgconn"
)

// retryable reports whether a batch failed because of other sessions and is
// worth retrying: a deadlock, a lock wait that timed out, a serialization
// failure.
func retryable(err error) bool {
	var pe *pgconn.PgError
	if errors.As(err, &pe) {
		switch pe.Code {
		case "40P01", "55P03", "40001":
			return true
		}
	}
	return false
}
