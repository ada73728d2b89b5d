// Package pgerr makes PostgreSQL's errors safe to show: their messages can
// quote the values a statement was given, and lethe's values are subject
// keys and personal data.
//
// A server error's text is its severity, message and SQLSTATE; its DETAIL
// ("Key (email)=(ann@example.com) already exists.", "Failing row contains
// (...)") and HINT are never shown. Messages that can quote a value are
// replaced with a description of the condition: every data exception
// (class 22: `invalid input syntax for type uuid: "..."`, `value "..." is
// out of range for type bigint`, ...) and whatever a function or trigger
// raises (class P0, which may format any value). Messages of other classes
// name only objects (constraints, tables, columns) and are kept.
//
// It does not decide exit codes nor log anything: package jobs and main
// call [Redact] on what they are about to show.
package pgerr

import (
	"errors"
	"regexp"
	"strings"

	"github.com/jackc/pgx/v5/pgconn"
)

// conditions names the data exceptions lethe can meet, as the SQLSTATE
// appendix of PostgreSQL's manual spells them.
var conditions = map[string]string{
	"22001": "value too long",
	"22003": "numeric value out of range",
	"22004": "null value not allowed",
	"22007": "invalid datetime format",
	"22008": "datetime field overflow",
	"22012": "division by zero",
	"22021": "invalid byte sequence for the encoding",
	"22023": "invalid parameter value",
	"22P02": "invalid input syntax",
	"22P05": "untranslatable character",
}

// forType finds the type a data exception's message names, which is no
// value: `... for type character varying(5): "..."` gives the type.
var forType = regexp.MustCompile(`for type ([A-Za-z_][A-Za-z0-9_ .,()\[\]"]*?)(?::|$)`)

// Message is pe's severity, message and SQLSTATE, with a message that can
// quote a value replaced by a description of the condition ([Describe]).
func Message(pe *pgconn.PgError) string {
	return pe.Severity + ": " + Describe(pe) + " (SQLSTATE " + pe.Code + ")"
}

// Describe is pe's message if it can quote no value, else a description
// of the condition: "numeric value out of range for type bigint".
func Describe(pe *pgconn.PgError) string {
	switch {
	case IsDataError(pe):
		msg, ok := conditions[pe.Code]
		if !ok {
			msg = "data exception"
		}
		if m := forType.FindStringSubmatch(pe.Message); m != nil && !strings.Contains(m[1], `"`) {
			msg += " for type " + strings.TrimSpace(m[1])
		}
		return msg
	case strings.HasPrefix(pe.Code, "P0"):
		where, _, _ := strings.Cut(pe.Where, "\n")
		if where == "" {
			return "an error raised by a function or trigger"
		}
		return "an error raised by " + where
	}
	return pe.Message
}

// IsDataError reports whether err is a PostgreSQL data exception (SQLSTATE
// class 22): a value that its type does not accept.
func IsDataError(err error) bool {
	var pe *pgconn.PgError
	return errors.As(err, &pe) && strings.HasPrefix(pe.Code, "22")
}

// Redact returns err with the text of every PostgreSQL error in it, however
// wrapped or joined, replaced by its [Message]. The result unwraps to err,
// so errors.As and errors.Is see what they saw before. Nil stays nil, and an
// error with no server error in it is returned as it is.
func Redact(err error) error {
	if err == nil {
		return nil
	}
	var found []*pgconn.PgError
	collect(err, &found)
	if len(found) == 0 {
		return err
	}
	text := err.Error()
	for _, pe := range found {
		text = strings.ReplaceAll(text, pe.Error(), Message(pe))
		if safe := Describe(pe); safe != pe.Message && pe.Message != "" {
			// Wrapped by its message alone somewhere.
			text = strings.ReplaceAll(text, pe.Message, safe)
		}
	}
	return &redacted{text: text, err: err}
}

func collect(err error, found *[]*pgconn.PgError) {
	switch e := err.(type) {
	case nil:
		return
	case *pgconn.PgError:
		*found = append(*found, e)
	case interface{ Unwrap() []error }:
		for _, x := range e.Unwrap() {
			collect(x, found)
		}
		return
	}
	collect(errors.Unwrap(err), found)
}

type redacted struct {
	text string
	err  error
}

func (r *redacted) Error() string { return r.text }
func (r *redacted) Unwrap() error { return r.err }
