package comms

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/gorilla/websocket"
)

// browser is headless Chromium driven over the DevTools protocol (a
// websocket of JSON messages: chromedevtools.github.io/devtools-protocol).
type browser struct {
	port string
}

func startBrowser(t *testing.T, bin string) *browser {
	t.Helper()
	// Not t.TempDir: Chromium's helpers may still write to the profile
	// for a moment after the browser is gone.
	dir, err := os.MkdirTemp("", "warroom-cdp-")
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	cmd := exec.CommandContext(ctx, bin, "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
		"--disable-background-networking", "--disable-component-update", "--disable-sync", "--disable-dev-shm-usage",
		"--remote-debugging-address=127.0.0.1", "--remote-debugging-port=0", "--remote-allow-origins=*",
		"--user-data-dir="+dir, "about:blank")
	cmd.WaitDelay = 5 * time.Second
	// Its own process group, so that its renderer and GPU helpers end
	// with it.
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	cmd.Cancel = func() error { return syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL) }
	if err := cmd.Start(); err != nil {
		cancel()
		os.RemoveAll(dir)
		t.Fatal(err)
	}
	t.Cleanup(func() {
		cancel()
		cmd.Wait()
		for i := 0; i < 50 && os.RemoveAll(dir) != nil; i++ {
			time.Sleep(20 * time.Millisecond)
		}
	})
	// Chromium writes the port it chose to DevToolsActivePort.
	deadline := time.Now().Add(30 * time.Second)
	for {
		f, err := os.Open(filepath.Join(dir, "DevToolsActivePort"))
		if err == nil {
			sc := bufio.NewScanner(f)
			sc.Scan()
			port := strings.TrimSpace(sc.Text())
			f.Close()
			if port != "" {
				return &browser{port: port}
			}
		}
		if time.Now().After(deadline) {
			t.Fatal("chromium did not open its DevTools port")
		}
		time.Sleep(20 * time.Millisecond)
	}
}

type cdpMsg struct {
	ID     int             `json:"id,omitempty"`
	Method string          `json:"method,omitempty"`
	Params json.RawMessage `json:"params,omitempty"`
	Result json.RawMessage `json:"result,omitempty"`
	Error  *struct {
		Message string `json:"message"`
	} `json:"error,omitempty"`
}

// load opens url in a new tab with scripts disabled, waits for its load
// event and returns its DOM and every console message, exception and log
// entry (CSP violations are log entries) the browser reported.
func (b *browser) load(t *testing.T, url string) (string, []string) {
	t.Helper()
	req, _ := http.NewRequest(http.MethodPut, "http://127.0.0.1:"+b.port+"/json/new?about:blank", nil)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	var target struct {
		WS string `json:"webSocketDebuggerUrl"`
	}
	err = json.NewDecoder(resp.Body).Decode(&target)
	resp.Body.Close()
	if err != nil || target.WS == "" {
		t.Fatalf("new target: %v %+v", err, target)
	}
	c, _, err := websocket.DefaultDialer.Dial(target.WS, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	c.SetReadDeadline(time.Now().Add(60 * time.Second))
	var logs []string
	next := 0
	call := func(method string, params any) json.RawMessage {
		t.Helper()
		next++
		id := next
		p, _ := json.Marshal(params)
		if err := c.WriteJSON(cdpMsg{ID: id, Method: method, Params: p}); err != nil {
			t.Fatal(err)
		}
		for {
			var m cdpMsg
			if err := c.ReadJSON(&m); err != nil {
				t.Fatalf("%s: %v", method, err)
			}
			if m.ID == id {
				if m.Error != nil {
					t.Fatalf("%s: %s", method, m.Error.Message)
				}
				return m.Result
			}
			logs = append(logs, event(m)...)
		}
	}
	call("Emulation.setScriptExecutionDisabled", map[string]bool{"value": true})
	call("Runtime.enable", nil)
	call("Log.enable", nil)
	call("Page.enable", nil)
	call("Page.navigate", map[string]string{"url": url})
	for loaded := false; !loaded; {
		var m cdpMsg
		if err := c.ReadJSON(&m); err != nil {
			t.Fatalf("waiting for the load: %v", err)
		}
		loaded = m.Method == "Page.loadEventFired"
		logs = append(logs, event(m)...)
	}
	var doc struct {
		Root struct {
			NodeID int `json:"nodeId"`
		} `json:"root"`
	}
	json.Unmarshal(call("DOM.getDocument", map[string]int{"depth": -1}), &doc)
	var html struct {
		OuterHTML string `json:"outerHTML"`
	}
	json.Unmarshal(call("DOM.getOuterHTML", map[string]int{"nodeId": doc.Root.NodeID}), &html)
	if html.OuterHTML == "" {
		t.Fatal("empty DOM")
	}
	return html.OuterHTML, logs
}

// event describes a console call, an uncaught exception or a log entry.
func event(m cdpMsg) []string {
	switch m.Method {
	case "Runtime.consoleAPICalled", "Runtime.exceptionThrown", "Log.entryAdded":
		return []string{fmt.Sprintf("%s %s", m.Method, m.Params)}
	}
	return nil
}
