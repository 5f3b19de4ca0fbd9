// Package latencyproxy is a TCP proxy on loopback that adds a round-trip
// time to every connection through it: a server on the same machine made
// to look farther away, for the benchmark (mailtrail-bench --latency) and
// for tests of what a sync does where round trips cost. It owns nothing
// but its listener and the connections through it; Close ends them all.
package latencyproxy

import (
	"net"
	"sync"
	"time"
)

// Proxy stands between a client and a server: every chunk of bytes, in
// each direction, is passed on half the round-trip time after it arrived,
// in order, with no bandwidth limit. It makes a loopback server look like
// one farther away, where round trips and waits that overlap or not start
// to matter. (TCP's own handshake with the proxy is not delayed: a
// client's connect returns at once, and the server's greeting comes half
// a round trip later.)
type Proxy struct {
	ln     net.Listener
	target string
	oneWay time.Duration
	wg     sync.WaitGroup
	mu     sync.Mutex
	conns  []net.Conn
}

// Start listens on a free loopback port and forwards every connection to
// target with rtt added to each round trip.
func Start(target string, rtt time.Duration) (*Proxy, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, err
	}
	p := &Proxy{ln: ln, target: target, oneWay: rtt / 2}
	p.wg.Add(1)
	go p.accept()
	return p, nil
}

// Port is the port the tools connect to.
func (p *Proxy) Port() int { return p.ln.Addr().(*net.TCPAddr).Port }

// Close stops listening and ends every connection.
func (p *Proxy) Close() {
	p.ln.Close()
	p.mu.Lock()
	for _, c := range p.conns {
		c.Close()
	}
	p.mu.Unlock()
	p.wg.Wait()
}

func (p *Proxy) accept() {
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
func (p *Proxy) pipe(dst, src net.Conn) {
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
