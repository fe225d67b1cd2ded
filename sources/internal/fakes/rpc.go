package fakes

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"sync"
	"sync/atomic"
)

// RPC is a fake Solana or EVM JSON-RPC provider: POST only, single
// objects and batches (answered shuffled), notifications unanswered,
// standard error codes. Its head is set by the test (SetHead) and it can
// lag, report itself unhealthy, or fail through a hook.
type RPC struct {
	mu      sync.Mutex
	evm     bool
	head    uint64
	health  string // "ok", "behind", "unknown"; for EVM "syncing" makes eth_syncing an object
	behind  int64
	network string
	hook    func(w http.ResponseWriter, r *http.Request, method string) bool
	calls   map[string]int

	Requests atomic.Int64
}

// NewSolana returns a healthy Solana fake at slot head.
func NewSolana(head uint64) *RPC {
	return &RPC{head: head, health: "ok", network: "5eykt4UsFv8P8NJdTREpY1vzqKqZKvdpKuc147dw2N9d", calls: map[string]int{}}
}

// NewEVM returns a healthy EVM fake at block head on chain id 1.
func NewEVM(head uint64) *RPC {
	return &RPC{evm: true, head: head, health: "ok", network: "0x1", calls: map[string]int{}}
}

// SetHead sets the processed slot (Solana) or block number (EVM).
func (f *RPC) SetHead(h uint64) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.head = h
}

// SetHealth sets getHealth's answer: "ok"; "behind" with n slots (n < 0:
// numSlotsBehind null); for EVM "syncing" with n blocks to go, and
// "synced-object": synced, said as Nethermind says it, an object whose
// currentBlock equals highestBlock (nethermind#6153).
func (f *RPC) SetHealth(h string, n int64) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.health, f.behind = h, n
}

// SetNetwork sets the genesis hash (Solana) or chain id (EVM, hex).
func (f *RPC) SetNetwork(n string) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.network = n
}

// SetHook installs a fault; returning true means the hook answered.
// method is the single request's method ("" for a batch or bad JSON).
func (f *RPC) SetHook(h func(w http.ResponseWriter, r *http.Request, method string) bool) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.hook = h
}

// RequestID returns the id of a single JSON-RPC request (for hooks).
func RequestID(r *http.Request) string {
	b, _ := io.ReadAll(r.Body)
	r.Body = io.NopCloser(bytes.NewReader(b))
	var q rpcReq
	if json.Unmarshal(b, &q) != nil || len(q.ID) == 0 {
		return "null"
	}
	return string(q.ID)
}

// Calls returns how many times method was called.
func (f *RPC) Calls(method string) int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.calls[method]
}

type rpcReq struct {
	JSONRPC string          `json:"jsonrpc"`
	ID      json.RawMessage `json:"id"`
	Method  string          `json:"method"`
	Params  json.RawMessage `json:"params"`
}

type rpcErr struct {
	Code    int    `json:"code"`
	Message string `json:"message"`
	Data    any    `json:"data,omitempty"`
}

type rpcResp struct {
	JSONRPC string          `json:"jsonrpc"`
	ID      json.RawMessage `json:"id"`
	Result  any             `json:"result,omitempty"`
	Error   *rpcErr         `json:"error,omitempty"`
}

func (f *RPC) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	f.Requests.Add(1)
	body, _ := io.ReadAll(io.LimitReader(r.Body, 1<<20))
	var single rpcReq
	method := ""
	if json.Unmarshal(body, &single) == nil {
		method = single.Method
	}
	f.mu.Lock()
	hook := f.hook
	f.mu.Unlock()
	r.Body = io.NopCloser(bytes.NewReader(body)) // the hook may read it again
	if hook != nil && hook(w, r, method) {
		return
	}
	if r.Method != http.MethodPost {
		http.Error(w, "Method Not Allowed", http.StatusMethodNotAllowed)
		return
	}
	w.Header().Set("Content-Type", "application/json")
	if len(body) > 0 && body[0] == '[' {
		var reqs []rpcReq
		if err := json.Unmarshal(body, &reqs); err != nil {
			json.NewEncoder(w).Encode(rpcResp{JSONRPC: "2.0", ID: json.RawMessage("null"), Error: &rpcErr{Code: -32700, Message: "Parse error"}})
			return
		}
		if len(reqs) == 0 {
			json.NewEncoder(w).Encode(rpcResp{JSONRPC: "2.0", ID: json.RawMessage("null"), Error: &rpcErr{Code: -32600, Message: "Invalid Request"}})
			return
		}
		var out []rpcResp
		for _, q := range reqs {
			if len(q.ID) == 0 {
				continue
			}
			out = append(out, f.answer(q))
		}
		rand.Shuffle(len(out), func(i, j int) { out[i], out[j] = out[j], out[i] })
		json.NewEncoder(w).Encode(out)
		return
	}
	if err := json.Unmarshal(body, &single); err != nil {
		json.NewEncoder(w).Encode(rpcResp{JSONRPC: "2.0", ID: json.RawMessage("null"), Error: &rpcErr{Code: -32700, Message: "Parse error"}})
		return
	}
	if len(single.ID) == 0 {
		w.WriteHeader(http.StatusNoContent)
		return
	}
	json.NewEncoder(w).Encode(f.answer(single))
}

func (f *RPC) answer(q rpcReq) rpcResp {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.calls[q.Method]++
	resp := rpcResp{JSONRPC: "2.0", ID: q.ID}
	hex := func(n uint64) string { return fmt.Sprintf("0x%x", n) }
	switch {
	case !f.evm && q.Method == "getSlot":
		var params []map[string]any
		_ = json.Unmarshal(q.Params, &params)
		commitment := "finalized"
		if len(params) > 0 {
			if c, ok := params[0]["commitment"].(string); ok {
				commitment = c
			}
		}
		off := uint64(0)
		switch commitment {
		case "processed":
		case "confirmed":
			off = 2
		case "finalized":
			off = 32
		default:
			resp.Error = &rpcErr{Code: -32602, Message: "Invalid params: unknown commitment"}
			return resp
		}
		resp.Result = f.head - min(f.head, off)
	case !f.evm && q.Method == "getHealth":
		switch f.health {
		case "ok":
			resp.Result = "ok"
		case "behind":
			if f.behind < 0 {
				resp.Error = &rpcErr{Code: -32005, Message: "Node is unhealthy", Data: map[string]any{"numSlotsBehind": nil}}
			} else {
				resp.Error = &rpcErr{Code: -32005, Message: fmt.Sprintf("Node is behind by %d slots", f.behind), Data: map[string]any{"numSlotsBehind": f.behind}}
			}
		default:
			resp.Error = &rpcErr{Code: -32005, Message: "Node is unhealthy", Data: map[string]any{"numSlotsBehind": nil}}
		}
	case !f.evm && q.Method == "getGenesisHash":
		resp.Result = f.network
	case f.evm && q.Method == "eth_blockNumber":
		resp.Result = hex(f.head)
	case f.evm && q.Method == "eth_syncing":
		switch f.health {
		case "syncing":
			resp.Result = map[string]string{"startingBlock": "0x0", "currentBlock": hex(f.head), "highestBlock": hex(f.head + uint64(max(0, f.behind)))}
		case "synced-object":
			resp.Result = map[string]string{"startingBlock": "0x0", "currentBlock": hex(f.head), "highestBlock": hex(f.head)}
		default:
			resp.Result = false
		}
	case f.evm && q.Method == "eth_chainId":
		resp.Result = f.network
	default:
		resp.Error = &rpcErr{Code: -32601, Message: "Method not found"}
	}
	return resp
}
