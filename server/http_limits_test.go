package server

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"strings"
	"testing"
	"time"
)

// closedWithin reads c until the server closes it (EOF or reset), and
// fails if that takes longer than limit.
func closedWithin(t *testing.T, c net.Conn, limit time.Duration, what string) {
	t.Helper()
	start := time.Now()
	_ = c.SetReadDeadline(time.Now().Add(limit))
	_, err := io.Copy(io.Discard, c)
	if errors.Is(err, os.ErrDeadlineExceeded) {
		t.Fatalf("%s: still open after %s", what, limit)
	}
	t.Logf("%s: closed by the server after %s", what, time.Since(start).Round(10*time.Millisecond))
}

// TestHTTPTimeoutsCloseSlowAndIdleConnections: a request whose body
// trickles in, a client that never finishes its headers, and a keep-alive
// connection left idle are all closed by the server within its timeouts;
// a timeline stream outlives them.
func TestHTTPTimeoutsCloseSlowAndIdleConnections(t *testing.T) {
	const rt, it = 400 * time.Millisecond, 400 * time.Millisecond
	g := newRig(t, func(o *Options) { o.HTTPReadTimeout, o.HTTPWriteTimeout, o.HTTPIdleTimeout = rt, rt, it })
	addr := g.s.HTTPAddr()
	dial := func() net.Conn {
		c, err := net.Dial("tcp", addr)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { c.Close() })
		return c
	}

	slow := dial()
	fmt.Fprint(slow, "POST /api/alertmanager HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 1000\r\n\r\n{\"version\":")
	closedWithin(t, slow, rt+5*time.Second, "slow body")

	headers := dial()
	fmt.Fprint(headers, "GET /healthz HTTP/1.1\r\nHost: x\r\n")
	closedWithin(t, headers, rt+5*time.Second, "unfinished headers")

	idle := dial()
	fmt.Fprint(idle, "GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n")
	resp, err := http.ReadResponse(bufio.NewReader(idle), nil)
	if err != nil || resp.StatusCode != http.StatusOK {
		t.Fatalf("healthz on the keep-alive connection: %v %v", resp, err)
	}
	resp.Body.Close()
	closedWithin(t, idle, it+5*time.Second, "idle keep-alive")

	// The stream is not cut by the read or write timeout.
	req, _ := http.NewRequest("GET", "http://"+addr+"/api/timeline/stream", nil)
	req.Header.Set("Authorization", "Bearer "+token)
	sresp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer sresp.Body.Close()
	time.Sleep(3 * rt)
	postAlert(t, g)
	lines := bufio.NewScanner(sresp.Body)
	got := make(chan bool, 1)
	go func() {
		for lines.Scan() {
			if strings.Contains(lines.Text(), `"kind":"ALERT"`) {
				got <- true
				return
			}
		}
		got <- false
	}()
	select {
	case ok := <-got:
		if !ok {
			t.Fatal("the stream ended before the alert")
		}
	case <-time.After(10 * time.Second):
		t.Fatal("no alert on the stream")
	}
}

// TestHTTPConnectionCap: connections beyond the cap wait to be accepted
// and are served once others close.
func TestHTTPConnectionCap(t *testing.T) {
	g := newRig(t, func(o *Options) { o.MaxHTTPConns = 2 })
	addr := g.s.HTTPAddr()
	var held []net.Conn
	for range 2 {
		c, err := net.Dial("tcp", addr)
		if err != nil {
			t.Fatal(err)
		}
		fmt.Fprint(c, "GET /healthz HTTP/1.1\r\nHost: x\r\n") // never finished
		held = append(held, c)
	}
	client := &http.Client{Timeout: 500 * time.Millisecond}
	if resp, err := client.Get("http://" + addr + "/healthz"); err == nil {
		resp.Body.Close()
		t.Fatal("a third connection was served while two were held")
	}
	for _, c := range held {
		c.Close()
	}
	client.Timeout = 5 * time.Second
	resp, err := client.Get("http://" + addr + "/healthz")
	if err != nil {
		t.Fatalf("after the held connections closed: %v", err)
	}
	resp.Body.Close()
}
