package main

import (
	"net"
	"sync"
	"time"
)

// latencyProxy stands between the tools and the server when --latency is
// given: every chunk of bytes, in each direction, is passed on half the
// round-trip time after it arrived, in order, with no bandwidth limit. It
// makes the loopback server look like one farther away, where round trips
// and waits that overlap or not start to matter.
type latencyProxy struct {
	ln     net.Listener
	target string
	oneWay time.Duration
	wg     sync.WaitGroup
	mu     sync.Mutex
	conns  []net.Conn
}

// startLatencyProxy listens on a free loopback port and forwards every
// connection to target with rtt added to each round trip.
func startLatencyProxy(target string, rtt time.Duration) (*latencyProxy, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, err
	}
	p := &latencyProxy{ln: ln, target: target, oneWay: rtt / 2}
	p.wg.Add(1)
	go p.accept()
	return p, nil
}

// Port is the port the tools connect to.
func (p *latencyProxy) Port() int { return p.ln.Addr().(*net.TCPAddr).Port }

// Close stops listening and ends every connection.
func (p *latencyProxy) Close() {
	p.ln.Close()
	p.mu.Lock()
	for _, c := range p.conns {
		c.Close()
	}
	p.mu.Unlock()
	p.wg.Wait()
}

func (p *latencyProxy) accept() {
	defer p.wg.Done()
	for {
		client, err := p.ln.Accept()
		if err != nil {
			return
		}
		server, err := net.Dial("tcp", p.target)
		if err != nil {
			client.Close()
			continue
		}
		p.mu.Lock()
		p.conns = append(p.conns, client, server)
		p.mu.Unlock()
		p.wg.Add(2)
		go p.pipe(server, client)
		go p.pipe(client, server)
	}
}

// pipe copies src to dst, each chunk delayed by oneWay; at src's end it
// closes dst's writing side, and when the peer is gone both.
func (p *latencyProxy) pipe(dst, src net.Conn) {
	defer p.wg.Done()
	type chunk struct {
		b  []byte
		at time.Time
	}
	chunks := make(chan chunk, 4096)
	go func() {
		defer close(chunks)
		for {
			buf := make([]byte, 32<<10)
			n, err := src.Read(buf)
			if n > 0 {
				chunks <- chunk{buf[:n], time.Now().Add(p.oneWay)}
			}
			if err != nil {
				return
			}
		}
	}()
	for c := range chunks {
		time.Sleep(time.Until(c.at))
		if _, err := dst.Write(c.b); err != nil {
			break
		}
	}
	if tcp, ok := dst.(*net.TCPConn); ok {
		tcp.CloseWrite()
	} else {
		dst.Close()
	}
	for range chunks {
		// drained until src ends (its peer closes, or Close)
	}
}
