package sim

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"sort"
	"strconv"
	"strings"
	"testing"
	"time"
)

type rpcReply struct {
	JSONRPC string          `json:"jsonrpc"`
	Result  json.RawMessage `json:"result"`
	Error   *struct {
		Code    int             `json:"code"`
		Message string          `json:"message"`
		Data    json.RawMessage `json:"data"`
	} `json:"error"`
	ID json.RawMessage `json:"id"`
}

func rpcPost(t *testing.T, url, body string) (*http.Response, []byte) {
	t.Helper()
	resp, err := http.Post(url, "application/json", strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp, b
}

func rpcCall(t *testing.T, url, method, params string) rpcReply {
	t.Helper()
	if params == "" {
		params = "[]"
	}
	// Retry 429s (the degraded provider sheds load); bounded.
	var resp *http.Response
	var b []byte
	for range 20 {
		resp, b = rpcPost(t, url, `{"jsonrpc":"2.0","id":7,"method":"`+method+`","params":`+params+`}`)
		if resp.StatusCode != http.StatusTooManyRequests {
			break
		}
	}
	if resp.StatusCode != 200 {
		t.Fatalf("%s: HTTP %d %s", method, resp.StatusCode, b)
	}
	var r rpcReply
	if err := json.Unmarshal(b, &r); err != nil {
		t.Fatalf("%s: %v in %s", method, err, b)
	}
	if r.JSONRPC != "2.0" || string(r.ID) != "7" {
		t.Fatalf("%s: envelope %s", method, b)
	}
	return r
}

func u64(t *testing.T, r rpcReply) uint64 {
	t.Helper()
	if r.Error != nil {
		t.Fatalf("error %+v", r.Error)
	}
	var v uint64
	if err := json.Unmarshal(r.Result, &v); err != nil {
		t.Fatalf("result %s: %v", r.Result, err)
	}
	return v
}

func TestSolanaRPCMethodsAndErrors(t *testing.T) {
	s, fk := startTest(t, 31, 1, Options{})
	// Healthy before Triton degrades: both answer ok and agree on the slot.
	for _, name := range ProviderNames {
		if r := rpcCall(t, s.RPC[name], "getHealth", ""); r.Error != nil || string(r.Result) != `"ok"` {
			t.Errorf("%s getHealth: %+v %s", name, r.Error, r.Result)
		}
	}
	tr := u64(t, rpcCall(t, s.TritonURL, "getSlot", `[{"commitment":"confirmed"}]`))
	qn := u64(t, rpcCall(t, s.QuickNodeURL, "getSlot", `[{"commitment":"confirmed"}]`))
	if d := int64(qn) - int64(tr); d < -3 || d > 3 {
		t.Errorf("healthy providers differ by %d slots", d)
	}
	// Commitments: processed >= confirmed >= finalized (+~32).
	proc := u64(t, rpcCall(t, s.QuickNodeURL, "getSlot", `[{"commitment":"processed"}]`))
	fin := u64(t, rpcCall(t, s.QuickNodeURL, "getSlot", ""))
	if !(proc >= qn && qn > fin && proc-fin == 32) {
		t.Errorf("commitments: processed %d confirmed %d finalized %d", proc, qn, fin)
	}
	if bh := u64(t, rpcCall(t, s.QuickNodeURL, "getBlockHeight", `[{"commitment":"confirmed"}]`)); bh >= qn {
		t.Errorf("block height %d >= slot %d", bh, qn)
	}
	// The tip advances ~2.5 slots per simulated second.
	fk.Advance(10 * time.Second)
	if d := u64(t, rpcCall(t, s.QuickNodeURL, "getSlot", `[{"commitment":"processed"}]`)) - proc; d < 23 || d > 27 {
		t.Errorf("tip advanced %d slots in 10 s", d)
	}

	r := rpcCall(t, s.QuickNodeURL, "getRecentPrioritizationFees", `[["JUPyiwrYJFskUPiHa7hkeR8VUtAeFoSYbKedZNsDvCN"]]`)
	var fees []struct {
		Slot              uint64  `json:"slot"`
		PrioritizationFee *uint64 `json:"prioritizationFee"`
	}
	if err := json.Unmarshal(r.Result, &fees); err != nil || len(fees) != 150 {
		t.Fatalf("fees: %v %d", err, len(fees))
	}
	for i := 1; i < len(fees); i++ {
		if fees[i].Slot != fees[i-1].Slot+1 || fees[i].PrioritizationFee == nil {
			t.Fatalf("fees not consecutive: %+v", fees[i-1:i+1])
		}
	}

	for _, c := range []struct {
		body string
		code int
	}{
		{`{"jsonrpc":"2.0","id":7,"method":"getBalances","params":[]}`, -32601},
		{`{"jsonrpc":"2.0","id":7,"method":"getSlot","params":[{"commitment":"bogus"}]}`, -32602},
		{`{"jsonrpc":"2.0","id":7,"method":"getSlot","params":{"x":1}}`, -32602},
		{`{"jsonrpc":"2.0","id":7,"method":"getSlot","params":[{"minContextSlot":999999999999}]}`, -32016},
		{`{"jsonrpc":"2.0","id":7`, -32700},
		{`{"jsonrpc":"1.0","id":7,"method":"getSlot"}`, -32600},
		{`[]`, -32600},
	} {
		resp, b := rpcPost(t, s.QuickNodeURL, c.body)
		var r rpcReply
		if err := json.Unmarshal(b, &r); err != nil || resp.StatusCode != 200 || r.Error == nil || r.Error.Code != c.code {
			t.Errorf("%s: HTTP %d %s (want code %d)", c.body, resp.StatusCode, b, c.code)
		}
	}
	resp, err := http.Post(s.QuickNodeURL, "text/plain", strings.NewReader(`{"jsonrpc":"2.0","id":1,"method":"getSlot"}`))
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusUnsupportedMediaType {
		t.Errorf("text/plain: %d", resp.StatusCode)
	}
	resp, err = http.Get(s.QuickNodeURL)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 405 {
		t.Errorf("GET /: %d", resp.StatusCode)
	}

	// Batch: answers matched by id (order is not guaranteed); a
	// notification gets none.
	resp, b := rpcPost(t, s.QuickNodeURL, `[
		{"jsonrpc":"2.0","id":1,"method":"getSlot","params":[{"commitment":"confirmed"}]},
		{"jsonrpc":"2.0","id":"two","method":"getBlockHeight"},
		{"jsonrpc":"2.0","method":"getHealth"},
		{"jsonrpc":"2.0","id":3,"method":"nope"},
		{"jsonrpc":"2.0","id":4,"method":"getHealth"}]`)
	var batch []rpcReply
	if err := json.Unmarshal(b, &batch); err != nil || resp.StatusCode != 200 {
		t.Fatalf("batch: %v %s", err, b)
	}
	var ids []string
	byID := map[string]rpcReply{}
	for _, r := range batch {
		ids = append(ids, string(r.ID))
		byID[string(r.ID)] = r
	}
	sort.Strings(ids)
	if strings.Join(ids, " ") != `"two" 1 3 4` {
		t.Fatalf("batch ids: %v", ids)
	}
	if byID["3"].Error == nil || byID["3"].Error.Code != -32601 || string(byID["4"].Result) != `"ok"` {
		t.Errorf("batch elements: %s", b)
	}
}

func TestTritonDegradationVisibleOnlyBySlots(t *testing.T) {
	s, fk := startTest(t, 31, 5, Options{})
	// Minute 5: Triton lags ~60 slots, under the 128-slot health distance:
	// getHealth still says ok, only comparing slots shows it.
	if r := rpcCall(t, s.TritonURL, "getHealth", ""); r.Error != nil || string(r.Result) != `"ok"` {
		t.Fatalf("Triton getHealth at minute 5: %+v", r.Error)
	}
	tr := u64(t, rpcCall(t, s.TritonURL, "getSlot", `[{"commitment":"confirmed"}]`))
	qn := u64(t, rpcCall(t, s.QuickNodeURL, "getSlot", `[{"commitment":"confirmed"}]`))
	if qn < tr+40 {
		t.Errorf("Triton should trail QuickNode: %d vs %d", tr, qn)
	}
	// Minute 6.6: past the health distance, getHealth reports -32005.
	fk.Advance(96 * time.Second)
	r := rpcCall(t, s.TritonURL, "getHealth", "")
	if r.Error == nil || r.Error.Code != -32005 || !strings.HasPrefix(r.Error.Message, "Node is behind by ") {
		t.Fatalf("Triton getHealth at minute 6.6: %+v", r)
	}
	var data struct {
		N *uint64 `json:"numSlotsBehind"`
	}
	if err := json.Unmarshal(r.Error.Data, &data); err != nil || data.N == nil || *data.N <= 128 {
		t.Errorf("numSlotsBehind: %s", r.Error.Data)
	}
	if r := rpcCall(t, s.QuickNodeURL, "getHealth", ""); r.Error != nil {
		t.Errorf("QuickNode unhealthy: %+v", r.Error)
	}
	// Moving traffic off Triton lets it catch up within ~30 s.
	if _, err := s.World.SetSplit(Split{20, 80}); err != nil {
		t.Fatal(err)
	}
	fk.Advance(30 * time.Second)
	tr = u64(t, rpcCall(t, s.TritonURL, "getSlot", `[{"commitment":"confirmed"}]`))
	qn = u64(t, rpcCall(t, s.QuickNodeURL, "getSlot", `[{"commitment":"confirmed"}]`))
	if d := int64(qn) - int64(tr); d > 5 {
		t.Errorf("Triton still %d slots behind 30 s after the split", d)
	}
}

func TestTriton429sAndLatency(t *testing.T) {
	s, fk := startTest(t, 31, 4.25, Options{})
	count := func(url string) (n429 int) {
		for range 80 {
			resp, b := rpcPost(t, url, `{"jsonrpc":"2.0","id":1,"method":"getSlot"}`)
			if resp.StatusCode == http.StatusTooManyRequests {
				n429++
				var r rpcReply
				if resp.Header.Get("Retry-After") != "1" || json.Unmarshal(b, &r) != nil || r.Error == nil || r.Error.Code != 429 || string(r.ID) != "1" {
					t.Fatalf("429 shape: %v %s", resp.Header, b)
				}
			} else if resp.StatusCode != 200 {
				t.Fatalf("HTTP %d", resp.StatusCode)
			}
		}
		return n429
	}
	tr, qn := count(s.TritonURL), count(s.QuickNodeURL)
	if tr < 8 || tr > 40 || qn != 0 {
		t.Errorf("429s out of 80 at peak: triton %d, quicknode %d", tr, qn)
	}
	if _, err := s.World.SetSplit(Split{20, 80}); err != nil {
		t.Fatal(err)
	}
	fk.Advance(30 * time.Second)
	if tr, qn := count(s.TritonURL), count(s.QuickNodeURL); tr != 0 || qn != 0 {
		t.Errorf("429s after 20/80: triton %d, quicknode %d", tr, qn)
	}
}

func TestRPCLatencyIsSleptAndCancellable(t *testing.T) {
	s, _ := startTest(t, 31, 4.25, Options{LatencyScale: 1, MaxLatency: 600 * time.Millisecond})
	p := s.World.Sample(at(4.25)).RPC
	if p[provTriton].P50 < 0.3 || p[provQuickNode].P50 > 0.1 {
		t.Fatalf("model latencies: %v %v", p[provTriton].P50, p[provQuickNode].P50)
	}
	elapsed := func(url string) time.Duration {
		var best time.Duration = time.Hour
		for range 3 {
			start := time.Now()
			resp, _ := rpcPost(t, url, `{"jsonrpc":"2.0","id":1,"method":"getHealth"}`)
			d := time.Since(start)
			if resp.StatusCode == 200 && d < best {
				best = d
			}
		}
		return best
	}
	if tr, qn := elapsed(s.TritonURL), elapsed(s.QuickNodeURL); tr < 100*time.Millisecond || tr > 2*time.Second || qn > tr {
		t.Errorf("fastest of 3: triton %v, quicknode %v", tr, qn)
	}
	// A client that gives up does not leave the handler sleeping.
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Millisecond)
	defer cancel()
	req, _ := http.NewRequestWithContext(ctx, http.MethodPost, s.TritonURL, bytes.NewReader([]byte(`{"jsonrpc":"2.0","id":1,"method":"getSlot"}`)))
	req.Header.Set("Content-Type", "application/json")
	if resp, err := http.DefaultClient.Do(req); err == nil {
		resp.Body.Close()
		if resp.StatusCode != http.StatusTooManyRequests {
			t.Error("request should have timed out")
		}
	}
}

// TestEVMProviders: Infura throttles the project beyond its allowed rate
// in its documented shape (HTTP 429, EIP-1474 -32005, the rate and a
// backoff hint in data, no Retry-After); the own Nethermind node answers
// eth_syncing, synced, with an object whose currentBlock equals
// highestBlock; blocks come every 12 s.
func TestEVMProviders(t *testing.T) {
	s, fk := startTest(t, 31, 4.5, Options{})
	var n429 int
	for range 80 {
		resp, b := rpcPost(t, s.InfuraURL, `{"jsonrpc":"2.0","id":1,"method":"eth_blockNumber","params":[]}`)
		switch resp.StatusCode {
		case http.StatusTooManyRequests:
			n429++
			var r rpcReply
			var data struct {
				Allowed float64  `json:"allowed_rps"`
				Current float64  `json:"current_rps"`
				Backoff *float64 `json:"backoff_seconds"`
			}
			if resp.Header.Get("Retry-After") != "" || json.Unmarshal(b, &r) != nil || r.Error == nil || r.Error.Code != -32005 ||
				r.Error.Message != "project ID request rate exceeded" || json.Unmarshal(r.Error.Data, &data) != nil ||
				data.Backoff == nil || *data.Backoff != 10 || data.Current <= data.Allowed {
				t.Fatalf("throttle shape: %v %s", resp.Header, b)
			}
		case http.StatusOK:
		default:
			t.Fatalf("HTTP %d %s", resp.StatusCode, b)
		}
	}
	if n429 < 20 || n429 > 60 {
		t.Errorf("Infura throttled %d of 80 calls at the peak", n429)
	}
	block := func(url string) uint64 {
		r := rpcCall(t, url, "eth_blockNumber", "")
		var q string
		if r.Error != nil || json.Unmarshal(r.Result, &q) != nil || !strings.HasPrefix(q, "0x") {
			t.Fatalf("eth_blockNumber: %+v %s", r.Error, r.Result)
		}
		n, err := strconv.ParseUint(q[2:], 16, 64)
		if err != nil {
			t.Fatal(err)
		}
		return n
	}
	b0 := block(s.InfuraURL)
	if nb := block(s.NodeURL); b0-nb > 1 {
		t.Errorf("node at %d, Infura at %d", nb, b0)
	}
	fk.Advance(2 * time.Minute)
	if d := block(s.InfuraURL) - b0; d != 10 {
		t.Errorf("%d blocks in 2 minutes", d)
	}
	r := rpcCall(t, s.NodeURL, "eth_syncing", "")
	var prog map[string]string
	if r.Error != nil || json.Unmarshal(r.Result, &prog) != nil || prog["currentBlock"] == "" || prog["currentBlock"] != prog["highestBlock"] {
		t.Fatalf("node eth_syncing: %+v %s", r.Error, r.Result)
	}
	if r := rpcCall(t, s.InfuraURL, "eth_syncing", ""); string(r.Result) != "false" {
		t.Fatalf("Infura eth_syncing: %s", r.Result)
	}
	if r := rpcCall(t, s.NodeURL, "eth_chainId", ""); string(r.Result) != `"0x1"` {
		t.Fatalf("eth_chainId: %s", r.Result)
	}
	if r := rpcCall(t, s.NodeURL, "getSlot", ""); r.Error == nil || r.Error.Code != -32601 {
		t.Fatalf("a Solana method on an EVM node: %+v", r)
	}
	// Before the launch traffic, Infura has room.
	s2, _ := startTest(t, 31, -5, Options{})
	for range 20 {
		if resp, b := rpcPost(t, s2.InfuraURL, `{"jsonrpc":"2.0","id":1,"method":"eth_blockNumber"}`); resp.StatusCode != 200 {
			t.Fatalf("throttled before the launch: %s", b)
		}
	}
}
