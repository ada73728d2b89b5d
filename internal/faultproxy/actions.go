package faultproxy

import (
	"fmt"
	"io"
	"net"
	"net/http"
	"time"
)

// Status answers with code, the given headers and body, without passing
// the request on.
func Status(code int, header http.Header, body string) Action {
	return func(w http.ResponseWriter, r *http.Request, _ http.Handler) {
		_, _ = io.Copy(io.Discard, r.Body)
		for k, vs := range header {
			for _, v := range vs {
				w.Header().Add(k, v)
			}
		}
		w.WriteHeader(code)
		_, _ = io.WriteString(w, body)
	}
}

// S3Error answers as S3 does with an error: an XML Error document.
func S3Error(status int, code, message string) Action {
	body := fmt.Sprintf(`<?xml version="1.0" encoding="UTF-8"?>
<Error><Code>%s</Code><Message>%s</Message><RequestId>faultproxy</RequestId><HostId>faultproxy</HostId></Error>`, code, message)
	return Status(status, http.Header{"Content-Type": {"application/xml"}}, body)
}

// SlowDown answers as S3 does when throttling: 503 with code SlowDown.
func SlowDown() Action {
	return S3Error(http.StatusServiceUnavailable, "SlowDown", "Please reduce your request rate.")
}

// InternalError answers as S3 does on a server fault: 500 InternalError.
func InternalError() Action {
	return S3Error(http.StatusInternalServerError, "InternalError", "We encountered an internal error. Please try again.")
}

// Reset drops the connection with a TCP reset (SO_LINGER 0) before any
// answer, as a crashed server or a load balancer would.
func Reset() Action {
	return func(w http.ResponseWriter, r *http.Request, _ http.Handler) {
		hj, ok := w.(http.Hijacker)
		if !ok {
			panic("faultproxy: connection cannot be hijacked")
		}
		conn, _, err := hj.Hijack()
		if err != nil {
			return
		}
		if tc, ok := conn.(*net.TCPConn); ok {
			_ = tc.SetLinger(0)
		}
		_ = conn.Close()
	}
}

// Delay waits d, or until the client gives up, and then passes the request
// on: a slow server.
func Delay(d time.Duration) Action {
	return func(w http.ResponseWriter, r *http.Request, forward http.Handler) {
		select {
		case <-time.After(d):
			forward.ServeHTTP(w, r)
		case <-r.Context().Done():
		}
	}
}

// Pass passes the request on unchanged: a rule with it only counts the
// requests it matches.
func Pass() Action {
	return func(w http.ResponseWriter, r *http.Request, forward http.Handler) {
		forward.ServeHTTP(w, r)
	}
}
