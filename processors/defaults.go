package processors

import (
	"net/http"
	"time"
)

const (
	defaultMethod      = http.MethodDelete
	defaultTimeout     = 10 * time.Second
	defaultMaxAttempts = 4
	defaultBackoff     = 500 * time.Millisecond
	defaultMaxBackoff  = 30 * time.Second
)

// defaultDoneStatus confirms an erasure; 404 means already gone.
var defaultDoneStatus = []int{http.StatusOK, http.StatusAccepted, http.StatusNoContent, http.StatusNotFound}

// withDefaults returns c with its zero fields set to their defaults.
func (c Config) withDefaults() Config {
	if c.Method == "" {
		c.Method = defaultMethod
	}
	if len(c.DoneStatus) == 0 {
		c.DoneStatus = defaultDoneStatus
	}
	if c.Timeout == 0 {
		c.Timeout = defaultTimeout
	}
	if c.MaxAttempts == 0 {
		c.MaxAttempts = defaultMaxAttempts
	}
	if c.Backoff == 0 {
		c.Backoff = defaultBackoff
	}
	if c.MaxBackoff == 0 {
		c.MaxBackoff = max(defaultMaxBackoff, c.Backoff)
	}
	return c
}
