package main

import (
	"io"
	"net"
	"runtime"
	"time"
)

// latencyProxy forwards TCP connections to target, delaying every chunk by
// half the round-trip time in each direction: what a pod sees talking to a
// managed database in the same zone. It does not limit bandwidth.
type latencyProxy struct {
	l      net.Listener
	target string
	oneWay time.Duration
}

func newLatencyProxy(target string, rtt time.Duration) (*latencyProxy, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, err
	}
	p := &latencyProxy{l: l, target: target, oneWay: rtt / 2}
	go p.serve()
	return p, nil
}

func (p *latencyProxy) Addr() string { return p.l.Addr().String() }

func (p *latencyProxy) Close() { p.l.Close() }

func (p *latencyProxy) serve() {
	for {
		c, err := p.l.Accept()
		if err != nil {
			return
		}
		go func() {
			s, err := net.Dial("tcp", p.target)
			if err != nil {
				c.Close()
				return
			}
			go p.pipe(c, s)
			p.pipe(s, c)
		}()
	}
}

type chunk struct {
	b  []byte
	at time.Time
}

// pipe copies src to dst, delivering each chunk oneWay after it was read.
func (p *latencyProxy) pipe(dst, src net.Conn) {
	ch := make(chan chunk, 1024)
	go func() {
		defer close(ch)
		for {
			buf := make([]byte, 64<<10)
			n, err := src.Read(buf)
			if n > 0 {
				ch <- chunk{buf[:n], time.Now().Add(p.oneWay)}
			}
			if err != nil {
				return
			}
		}
	}()
	for c := range ch {
		waitUntil(c.at)
		if _, err := dst.Write(c.b); err != nil {
			break
		}
	}
	if tc, ok := dst.(*net.TCPConn); ok {
		_ = tc.CloseWrite()
	} else {
		dst.Close()
	}
	_, _ = io.Copy(io.Discard, src)
}

// waitUntil sleeps until t. A timer sleep wakes up to a millisecond late
// (the poller's timeout has millisecond resolution), which would more than
// double a 1 ms round trip, so the last 1.5 ms are spent yielding the
// processor instead.
func waitUntil(t time.Time) {
	const slack = 1500 * time.Microsecond
	if d := time.Until(t); d > slack {
		time.Sleep(d - slack)
	}
	for time.Now().Before(t) {
		runtime.Gosched()
	}
}
