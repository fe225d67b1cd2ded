package rpc

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"strings"
	"sync/atomic"
	"time"
	"unicode/utf8"

	"github.com/warroom/warroom/config"
	"github.com/warroom/warroom/sources"
)

// MaxBody bounds a JSON-RPC response; health probes answer in bytes.
const MaxBody = 1 << 20

// Client is a minimal JSON-RPC 2.0 client over HTTP POST.
type Client struct {
	URL  string // may embed a token: never shown (errors are redacted)
	HTTP *http.Client
	// Now stamps HTTP-date Retry-After headers; default time.Now.
	Now func() time.Time
	id  atomic.Int64
}

// RPCError is a JSON-RPC error object.
type RPCError struct {
	Code    int             `json:"code"`
	Message string          `json:"message"`
	Data    json.RawMessage `json:"data,omitempty"`
}

func (e *RPCError) Error() string {
	return fmt.Sprintf("JSON-RPC error %d: %s", e.Code, oneLine(e.Message, 200))
}

type request struct {
	JSONRPC string `json:"jsonrpc"`
	ID      int64  `json:"id"`
	Method  string `json:"method"`
	Params  any    `json:"params,omitempty"`
}

type response struct {
	JSONRPC string          `json:"jsonrpc"`
	ID      json.RawMessage `json:"id"`
	Result  json.RawMessage `json:"result"`
	Error   *RPCError       `json:"error"`
}

// Call invokes method and decodes the result into out. Errors:
//   - *RPCError for a JSON-RPC error answer (HTTP 200); what its code
//     means depends on the chain (see codes), the caller decides;
//   - *sources.Error for HTTP failures (429 RateLimited with Retry-After,
//     5xx Transient, other 4xx Permanent), transport errors, timeouts and
//     malformed bodies. When the body of a non-2xx answer is a JSON-RPC
//     error (Infura's 429 with -32005 and a back-off hint), it is the
//     *sources.Error's Err.
func (c *Client) Call(ctx context.Context, method string, params any, out any) error {
	id := c.id.Add(1)
	body, err := json.Marshal(request{JSONRPC: "2.0", ID: id, Method: method, Params: params})
	if err != nil {
		return &sources.Error{Class: sources.Permanent, Msg: method + ": " + err.Error(), Err: err}
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, c.URL, bytes.NewReader(body))
	if err != nil {
		return &sources.Error{Class: sources.Permanent, Msg: "bad RPC URL: " + config.Redact(err.Error()), Err: err}
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Accept", "application/json")
	hc := c.HTTP
	if hc == nil {
		hc = http.DefaultClient
	}
	resp, err := hc.Do(req)
	if err != nil {
		return transportError(ctx, method, err)
	}
	defer resp.Body.Close()
	raw, err := io.ReadAll(io.LimitReader(resp.Body, MaxBody+1))
	if err != nil {
		return transportError(ctx, method, err)
	}
	if resp.StatusCode < 200 || resp.StatusCode > 299 {
		now := time.Now()
		if c.Now != nil {
			now = c.Now()
		}
		msg := fmt.Sprintf("%s: HTTP %d %s", method, resp.StatusCode, http.StatusText(resp.StatusCode))
		if snippet := bodySnippet(raw); snippet != "" {
			msg += ": " + snippet
		}
		e := sources.StatusError(resp.StatusCode, resp.Header, now, config.Redact(msg))
		var r response
		if json.Unmarshal(raw, &r) == nil && r.Error != nil {
			e.Err = r.Error
		}
		return e
	}
	if len(raw) > MaxBody {
		return &sources.Error{Class: sources.Transient, Msg: fmt.Sprintf("%s: response larger than %d bytes", method, MaxBody)}
	}
	var r response
	if err := json.Unmarshal(raw, &r); err != nil {
		return &sources.Error{Class: sources.Transient, Msg: fmt.Sprintf("%s: malformed JSON-RPC response: %s", method, oneLine(err.Error(), 120)), Err: err}
	}
	if string(r.ID) != strconv.FormatInt(id, 10) && string(r.ID) != `"`+strconv.FormatInt(id, 10)+`"` {
		return &sources.Error{Class: sources.Transient, Msg: fmt.Sprintf("%s: response id %s does not match request id %d", method, oneLine(string(r.ID), 40), id)}
	}
	if r.Error != nil {
		return r.Error
	}
	if len(r.Result) == 0 {
		return &sources.Error{Class: sources.Transient, Msg: method + ": response has neither result nor error"}
	}
	if out != nil {
		if err := json.Unmarshal(r.Result, out); err != nil {
			return &sources.Error{Class: sources.Transient, Msg: fmt.Sprintf("%s: unexpected result %s: %s", method, oneLine(string(r.Result), 60), oneLine(err.Error(), 80)), Err: err}
		}
	}
	return nil
}

func transportError(ctx context.Context, method string, err error) error {
	if errors.Is(context.Cause(ctx), context.DeadlineExceeded) || errors.Is(err, context.DeadlineExceeded) {
		return &sources.Error{Class: sources.Transient, Msg: method + ": timed out", Err: context.DeadlineExceeded}
	}
	return &sources.Error{Class: sources.Transient, Msg: method + ": " + config.Redact(err.Error()), Err: err}
}

// bodySnippet is a short, printable start of an error body (an HTML 502
// page, a JSON-RPC error).
func bodySnippet(b []byte) string {
	var r response
	if json.Unmarshal(b, &r) == nil && r.Error != nil {
		return oneLine(r.Error.Message, 120)
	}
	s := string(b)
	if !utf8.ValidString(s) {
		return ""
	}
	return oneLine(s, 120)
}

func oneLine(s string, n int) string {
	s = strings.Join(strings.Fields(s), " ")
	if len(s) > n {
		cut := n
		for cut > 0 && !utf8.RuneStart(s[cut]) {
			cut--
		}
		s = s[:cut] + "…"
	}
	return s
}

// parseQuantity parses an EVM hex quantity ("0x1406f40").
func parseQuantity(s string) (uint64, error) {
	if !strings.HasPrefix(s, "0x") && !strings.HasPrefix(s, "0X") {
		return 0, fmt.Errorf("hex quantity %q lacks 0x", oneLine(s, 40))
	}
	v, err := strconv.ParseUint(s[2:], 16, 64)
	if err != nil {
		return 0, fmt.Errorf("bad hex quantity %q", oneLine(s, 40))
	}
	return v, nil
}
