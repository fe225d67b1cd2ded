package main

import (
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestInitOutputPassesCheck: what init writes, from any mix of flags,
// passes warroom check, starts with the schema header and has the schema
// beside it.
func TestInitOutputPassesCheck(t *testing.T) {
	// A Prometheus answering /api/v1/label/job/values in the documented
	// shape (Prometheus HTTP API, "Querying label values").
	prom := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path != "/api/v1/label/job/values" {
			http.NotFound(w, r)
			return
		}
		w.Header().Set("Content-Type", "application/json")
		w.Write([]byte(`{"status":"success","data":["node","prometheus","tokens api"]}`))
	}))
	defer prom.Close()
	t.Setenv("USER", "rosa")
	for name, flags := range map[string][]string{
		"defaults":   nil,
		"services":   {"--name", "Launch \"war\" room", "--service", "tokens", "--service", "history", "--commander", "maya"},
		"jobs":       {"--prometheus", prom.URL, "--jobs"},
		"datadog":    {"--datadog", "datadoghq.eu", "--service", "api", "--slack-channel", "C0123ABCD"},
		"everything": {"--prometheus", prom.URL, "--jobs", "--datadog", "datadoghq.com", "--service", "extra", "--slack-channel", "C0123ABCD"},
	} {
		t.Run(name, func(t *testing.T) {
			dir := t.TempDir()
			out := filepath.Join(dir, "room", "warroom.yaml")
			code, stdout, stderr := runCLI(append([]string{"init", "-o", out}, flags...)...)
			if code != 0 {
				t.Fatalf("init: exit %d\n%s%s", code, stdout, stderr)
			}
			code, stdout, stderr = runCLI("check", "-c", out)
			if code != 0 {
				b, _ := os.ReadFile(out)
				t.Fatalf("check of the starter file: exit %d\n%s%s\n%s", code, stdout, stderr, b)
			}
			b, _ := os.ReadFile(out)
			if !strings.HasPrefix(string(b), "# yaml-language-server: $schema=./warroom.schema.json\n") {
				t.Error("no schema header")
			}
			if _, err := os.Stat(filepath.Join(dir, "room", "warroom.schema.json")); err != nil {
				t.Error(err)
			}
			if name == "jobs" && !strings.Contains(stdout, "3 services") {
				t.Errorf("one service per job: %s", stdout)
			}
		})
	}
	// It never overwrites without --force.
	dir := t.TempDir()
	out := filepath.Join(dir, "warroom.yaml")
	os.WriteFile(out, []byte("mine"), 0o600)
	if code, _, stderr := runCLI("init", "-o", out); code != 2 || !strings.Contains(stderr, "--force") {
		t.Fatalf("overwrote: %d %s", code, stderr)
	}
	if code, _, _ := runCLI("init", "-o", out, "--force"); code != 0 {
		t.Fatal("--force")
	}
}

// TestConfigDiscovery: without -c the file comes from $WARROOM_CONFIG,
// then ./warroom.yaml, then the XDG config directory, and the command
// says which it used.
func TestConfigDiscovery(t *testing.T) {
	example, _ := filepath.Abs("../../examples/airdrop/warroom.yaml")
	wd, _ := os.Getwd()
	dir := t.TempDir()
	t.Cleanup(func() { os.Chdir(wd) })
	os.Chdir(dir)
	xdg := filepath.Join(dir, "xdg")
	t.Setenv("XDG_CONFIG_HOME", xdg)
	t.Setenv("WARROOM_CONFIG", "")
	if code, _, stderr := runCLI("check"); code != 2 || !strings.Contains(stderr, "WARROOM_CONFIG") {
		t.Fatalf("nothing to find: %d %s", code, stderr)
	}
	os.MkdirAll(filepath.Join(xdg, "warroom"), 0o755)
	b, _ := os.ReadFile(example)
	os.WriteFile(filepath.Join(xdg, "warroom", "warroom.yaml"), []byte(strings.ReplaceAll(string(b), "playbooks: ./playbooks\n", "")), 0o600)
	if code, _, stderr := runCLI("check"); code != 0 || !strings.Contains(stderr, "XDG config directory") {
		t.Fatalf("xdg: %d %s", code, stderr)
	}
	runCLI("init", "--service", "here")
	if code, out, stderr := runCLI("check"); code != 0 || !strings.Contains(stderr, "using warroom.yaml (found in the current directory)") || !strings.Contains(out, "(1 service, ") || !strings.Contains(out, " 1 person, ") {
		t.Fatalf("cwd: %d %s %s", code, out, stderr)
	}
	t.Setenv("WARROOM_CONFIG", example)
	if code, out, stderr := runCLI("check"); code != 0 || !strings.Contains(stderr, "from $WARROOM_CONFIG") || !strings.Contains(out, "9 services") {
		t.Fatalf("env: %d %s %s", code, out, stderr)
	}
	if code, out, _ := runCLI("check", "-c", filepath.Join(xdg, "warroom", "warroom.yaml")); code != 0 || !strings.Contains(out, "9 services") {
		t.Fatalf("-c wins: %d %s", code, out)
	}
}
