package main

import (
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/pprof"
	"time"
)

// pprofEnv names a loopback address on which any warroom command serves
// Go's profiles (net/http/pprof), e.g. WARROOM_PPROF=127.0.0.1:6060; the
// --pprof flag does the same. Then:
//
//	go tool pprof -seconds 60 http://127.0.0.1:6060/debug/pprof/profile
const pprofEnv = "WARROOM_PPROF"

// startPprof serves the profiles on addr until the process ends. Only a
// loopback address is accepted: profiles show the room's memory, which
// holds its secrets.
func startPprof(addr string, stderr io.Writer) error {
	host, _, err := net.SplitHostPort(addr)
	if err != nil {
		return fmt.Errorf("pprof address %q: %w", addr, err)
	}
	if ip := net.ParseIP(host); host != "localhost" && (ip == nil || !ip.IsLoopback()) {
		return errors.New("pprof address " + addr + " is not loopback: use 127.0.0.1:PORT, [::1]:PORT or localhost:PORT")
	}
	l, err := net.Listen("tcp", addr)
	if err != nil {
		return fmt.Errorf("pprof: %w", err)
	}
	mux := http.NewServeMux()
	mux.HandleFunc("/debug/pprof/", pprof.Index)
	mux.HandleFunc("/debug/pprof/cmdline", pprof.Cmdline)
	mux.HandleFunc("/debug/pprof/profile", pprof.Profile)
	mux.HandleFunc("/debug/pprof/symbol", pprof.Symbol)
	mux.HandleFunc("/debug/pprof/trace", pprof.Trace)
	srv := &http.Server{Handler: mux, ReadHeaderTimeout: 5 * time.Second}
	go func() { _ = srv.Serve(l) }()
	fmt.Fprintf(stderr, "warroom: profiles on http://%s/debug/pprof/\n", l.Addr())
	return nil
}
