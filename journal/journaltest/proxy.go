package journaltest

import (
	"net"
	"sync"
	"testing"
)

// Proxy is a loopback TCP proxy to one address, for partitions. Cut
// resets every connection through it (both ends learn at once, as when a
// process dies). Blackhole stops carrying bytes without closing anything,
// as a network partition does: the proxy's kernel still acknowledges, so
// neither end's TCP keepalives notice; only timeouts above TCP do. Heal
// carries bytes again (what was held is delivered late, as retransmits
// would) and accepts new connections, which a Cut or Blackhole refuse.
type Proxy struct {
	ln     net.Listener
	target string

	mu     sync.Mutex
	conns  []net.Conn
	cut    bool
	held   bool
	healed *sync.Cond
	wg     sync.WaitGroup
}

// NewProxy listens on a free loopback port and forwards to target. It is
// closed at the end of the test.
func NewProxy(t testing.TB, target string) *Proxy {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	p := &Proxy{ln: ln, target: target}
	p.healed = sync.NewCond(&p.mu)
	p.wg.Add(1)
	go p.serve()
	t.Cleanup(p.Close)
	return p
}

// Addr is the proxy's address.
func (p *Proxy) Addr() string { return p.ln.Addr().String() }

func (p *Proxy) serve() {
	defer p.wg.Done()
	for {
		c, err := p.ln.Accept()
		if err != nil {
			return
		}
		p.mu.Lock()
		if p.cut || p.held {
			p.mu.Unlock()
			c.Close()
			continue
		}
		s, err := net.Dial("tcp", p.target)
		if err != nil {
			p.mu.Unlock()
			c.Close()
			continue
		}
		p.conns = append(p.conns, c, s)
		p.mu.Unlock()
		p.wg.Add(2)
		go p.pipe(c, s)
		go p.pipe(s, c)
	}
}

func (p *Proxy) pipe(dst, src net.Conn) {
	defer p.wg.Done()
	defer func() {
		// One side ended: end the other (a cut already closed both).
		dst.Close()
		src.Close()
	}()
	buf := make([]byte, 32<<10)
	for {
		n, err := src.Read(buf)
		if n > 0 {
			p.mu.Lock()
			for p.held && !p.cut {
				p.healed.Wait()
			}
			p.mu.Unlock()
			if _, werr := dst.Write(buf[:n]); werr != nil {
				return
			}
		}
		if err != nil {
			return
		}
	}
}

// Blackhole stops carrying bytes; connections stay open.
func (p *Proxy) Blackhole() {
	p.mu.Lock()
	p.held = true
	p.mu.Unlock()
}

// Cut closes every connection through the proxy and refuses new ones.
// Both ends see their connection end; in flight data is lost.
func (p *Proxy) Cut() {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.cut = true
	p.healed.Broadcast()
	for _, c := range p.conns {
		if tc, ok := c.(*net.TCPConn); ok {
			_ = tc.SetLinger(0) // a reset, not an orderly close
		}
		c.Close()
	}
	p.conns = nil
}

// Heal carries bytes and accepts connections again.
func (p *Proxy) Heal() {
	p.mu.Lock()
	p.cut, p.held = false, false
	p.healed.Broadcast()
	p.mu.Unlock()
}

// Close stops the proxy.
func (p *Proxy) Close() {
	p.Cut()
	p.ln.Close()
	p.wg.Wait()
}
