package sim

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"math"
	"math/rand/v2"
	"net/http"
	"strconv"
	"strings"
	"sync/atomic"
	"time"
)

// JSON-RPC error codes: JSON-RPC 2.0's, Agave's (Solana) and EIP-1474's.
const (
	rpcParseError     = -32700
	rpcInvalidRequest = -32600
	rpcMethodNotFound = -32601
	rpcInvalidParams  = -32602
	rpcNodeUnhealthy  = -32005 // Solana: the node is behind
	rpcLimitExceeded  = -32005 // EVM (EIP-1474): limit exceeded
	rpcMinContextSlot = -32016
)

const (
	slotsInEpoch   = 432000
	mainnetGenesis = "5eykt4UsFv8P8NJdTREpY1vzqKqZKvdpKuc147dw2N9d"
	feeSlots       = 150
)

type rpcServer struct {
	w     *World
	idx   int  // index into Snapshot.RPC, or Snapshot.EVM when evm
	evm   bool // an Ethereum provider
	scale float64
	cap   time.Duration
	done  <-chan struct{}
	seq   atomic.Uint64
}

func newRPCHandler(w *World, idx int, scale float64, maxLat time.Duration, done <-chan struct{}) http.Handler {
	return &rpcServer{w: w, idx: idx, scale: scale, cap: maxLat, done: done}
}

func newEVMHandler(w *World, idx int, scale float64, maxLat time.Duration, done <-chan struct{}) http.Handler {
	return &rpcServer{w: w, idx: idx, evm: true, scale: scale, cap: maxLat, done: done}
}

// throttle answers a call the provider rate-limits, in that provider's
// documented shape:
//
//	triton     HTTP 429, Retry-After, JSON-RPC code 429 (the public RPC,
//	           solana-program-library#2784, solana#22797)
//	quicknode  HTTP 429, no Retry-After (QuickNode's error reference)
//	infura     HTTP 429, no Retry-After, EIP-1474 -32005 "project ID request
//	           rate exceeded" with current_rps, allowed_rps and
//	           backoff_seconds in data (Infura's rate-limit docs, as
//	           recorded in ethers.js#640)
func (h *rpcServer) throttle(rw http.ResponseWriter, id json.RawMessage, s *Snapshot) {
	e := &rpcErrorObj{Code: 429}
	switch {
	case h.evm:
		p := s.EVM[h.idx]
		e = &rpcErrorObj{Code: rpcLimitExceeded, Message: "project ID request rate exceeded", Data: map[string]any{
			"see":             "https://infura.io/docs/ethereum/jsonrpc/ratelimits",
			"current_rps":     math.Round(p.LoadRPS*1000) / 1000,
			"allowed_rps":     p.AllowedRPS,
			"backoff_seconds": h.w.scn.InfuraBackoff.Seconds(),
		}}
	case h.idx == provTriton:
		rw.Header().Set("Retry-After", "1")
		e.Message = "Too many requests for a specific RPC call, contact your app developer or support@rpcpool.com."
	default:
		e.Message = "The requests per second (RPS) of your requests are higher than your plan allows."
	}
	rw.WriteHeader(http.StatusTooManyRequests)
	_ = json.NewEncoder(rw).Encode(rpcResponse{JSONRPC: "2.0", ID: id, Error: e})
}

type rpcErrorObj struct {
	Code    int    `json:"code"`
	Message string `json:"message"`
	Data    any    `json:"data,omitempty"`
}

type rpcResponse struct {
	JSONRPC string          `json:"jsonrpc"`
	Result  any             `json:"result,omitempty"`
	Error   *rpcErrorObj    `json:"error,omitempty"`
	ID      json.RawMessage `json:"id"`
}

var nullID = json.RawMessage("null")

func (h *rpcServer) ServeHTTP(rw http.ResponseWriter, r *http.Request) {
	if r.Method == http.MethodGet && r.URL.Path == "/health" {
		s := h.w.Sample(h.w.Now())
		rw.Header().Set("Content-Type", "text/plain")
		if s.RPC[h.idx].Healthy {
			_, _ = io.WriteString(rw, "ok")
		} else {
			_, _ = io.WriteString(rw, "behind")
		}
		return
	}
	if r.Method != http.MethodPost {
		rw.Header().Set("Allow", "POST")
		http.Error(rw, "Method Not Allowed", http.StatusMethodNotAllowed)
		return
	}
	if ct := strings.ToLower(r.Header.Get("Content-Type")); !strings.HasPrefix(ct, "application/json") {
		http.Error(rw, "Supplied content type is not allowed. Content-Type: application/json is required", http.StatusUnsupportedMediaType)
		return
	}
	body, err := io.ReadAll(http.MaxBytesReader(rw, r.Body, 1<<20))
	if err != nil {
		http.Error(rw, "request body too large", http.StatusRequestEntityTooLarge)
		return
	}
	now := h.w.Now()
	s := h.w.Sample(now)
	rate429, p50, p95 := s.RPC[h.idx].Rate429, s.RPC[h.idx].P50, s.RPC[h.idx].P95
	key := uint64(h.idx + 1)
	if h.evm {
		rate429, p50, p95 = s.EVM[h.idx].Rate429, s.EVM[h.idx].P50, s.EVM[h.idx].P95
		key += nProv
	}
	seq := h.seq.Add(1)
	var pcg rand.PCG
	pcg.Seed(h.w.Seed(), key<<56^seq)
	rng := rand.New(&pcg)

	rw.Header().Set("Content-Type", "application/json; charset=utf-8")
	if rng.Float64() < rate429 {
		h.throttle(rw, firstID(body), &s)
		return
	}
	// Latency: log-normal around the provider's p50/p95, really slept.
	mu, sigma := logNormalParams(p50, p95)
	lat := time.Duration(math.Exp(mu+sigma*rng.NormFloat64()) * h.scale * float64(time.Second))
	if lat > h.cap {
		lat = h.cap
	}
	if lat > 0 {
		t := time.NewTimer(lat)
		select {
		case <-t.C:
		case <-r.Context().Done():
			t.Stop()
			return
		case <-h.done:
			t.Stop()
			http.Error(rw, "server shutting down", http.StatusServiceUnavailable)
			return
		}
	}

	trimmed := bytes.TrimSpace(body)
	if len(trimmed) > 0 && trimmed[0] == '[' {
		var batch []json.RawMessage
		if err := json.Unmarshal(trimmed, &batch); err != nil {
			writeJSON(rw, rpcResponse{JSONRPC: "2.0", ID: nullID, Error: &rpcErrorObj{Code: rpcParseError, Message: "Parse error"}})
			return
		}
		if len(batch) == 0 {
			writeJSON(rw, rpcResponse{JSONRPC: "2.0", ID: nullID, Error: &rpcErrorObj{Code: rpcInvalidRequest, Message: "Invalid Request"}})
			return
		}
		var out []rpcResponse
		for _, raw := range batch {
			if resp, ok := h.call(raw, &s); ok {
				out = append(out, resp)
			}
		}
		if len(out) == 0 {
			return
		}
		// Batch answers come back in any order.
		rng.Shuffle(len(out), func(i, j int) { out[i], out[j] = out[j], out[i] })
		writeJSON(rw, out)
		return
	}
	if !json.Valid(trimmed) {
		writeJSON(rw, rpcResponse{JSONRPC: "2.0", ID: nullID, Error: &rpcErrorObj{Code: rpcParseError, Message: "Parse error"}})
		return
	}
	if resp, ok := h.call(trimmed, &s); ok {
		writeJSON(rw, resp)
	}
}

func writeJSON(rw http.ResponseWriter, v any) {
	_ = json.NewEncoder(rw).Encode(v)
}

// firstID returns the id of a single request or of a batch's first element.
func firstID(body []byte) json.RawMessage {
	var one struct {
		ID json.RawMessage `json:"id"`
	}
	if json.Unmarshal(body, &one) == nil && len(one.ID) > 0 {
		return one.ID
	}
	var many []struct {
		ID json.RawMessage `json:"id"`
	}
	if json.Unmarshal(body, &many) == nil && len(many) > 0 && len(many[0].ID) > 0 {
		return many[0].ID
	}
	return nullID
}

type rpcRequest struct {
	JSONRPC string          `json:"jsonrpc"`
	Method  *string         `json:"method"`
	Params  json.RawMessage `json:"params"`
	ID      json.RawMessage `json:"id"`
}

// call answers one request; ok is false for a notification (no id).
func (h *rpcServer) call(raw json.RawMessage, s *Snapshot) (rpcResponse, bool) {
	var req rpcRequest
	if err := json.Unmarshal(raw, &req); err != nil || req.JSONRPC != "2.0" || req.Method == nil {
		id := nullID
		if err == nil && len(req.ID) > 0 && validID(req.ID) {
			id = req.ID
		}
		return rpcResponse{JSONRPC: "2.0", ID: id, Error: &rpcErrorObj{Code: rpcInvalidRequest, Message: "Invalid Request"}}, true
	}
	if len(req.ID) == 0 {
		return rpcResponse{}, false // notification
	}
	if !validID(req.ID) {
		return rpcResponse{JSONRPC: "2.0", ID: nullID, Error: &rpcErrorObj{Code: rpcInvalidRequest, Message: "Invalid Request"}}, true
	}
	res, e := h.method(*req.Method, req.Params, s)
	resp := rpcResponse{JSONRPC: "2.0", ID: req.ID}
	if e != nil {
		resp.Error = e
	} else {
		resp.Result = res
	}
	return resp, true
}

func validID(id json.RawMessage) bool {
	switch id[0] {
	case '"', 'n':
		return true
	}
	_, err := strconv.ParseFloat(string(id), 64)
	return err == nil
}

func invalidParams(msg string) *rpcErrorObj {
	return &rpcErrorObj{Code: rpcInvalidParams, Message: "Invalid params: " + msg + "."}
}

// commitmentConfig parses the optional [{"commitment":..,"minContextSlot":..}].
func commitmentConfig(params json.RawMessage) (string, *uint64, *rpcErrorObj) {
	commitment := "finalized"
	if len(params) == 0 || string(params) == "null" {
		return commitment, nil, nil
	}
	var arr []json.RawMessage
	if err := json.Unmarshal(params, &arr); err != nil {
		return "", nil, invalidParams("invalid type: expected a sequence")
	}
	if len(arr) == 0 {
		return commitment, nil, nil
	}
	if len(arr) > 1 {
		return "", nil, invalidParams(fmt.Sprintf("invalid length %d, expected at most 1 element", len(arr)))
	}
	var cfg struct {
		Commitment     *string `json:"commitment"`
		MinContextSlot *uint64 `json:"minContextSlot"`
	}
	if string(arr[0]) != "null" {
		if err := json.Unmarshal(arr[0], &cfg); err != nil {
			return "", nil, invalidParams("invalid type: expected struct RpcContextConfig")
		}
	}
	if cfg.Commitment != nil {
		switch *cfg.Commitment {
		case "processed", "confirmed", "finalized":
			commitment = *cfg.Commitment
		case "recent", "single", "singleGossip":
			commitment = "processed"
		case "root", "max":
			commitment = "finalized"
		default:
			return "", nil, invalidParams(fmt.Sprintf("unknown variant `%s`, expected one of `processed`, `confirmed`, `finalized`", *cfg.Commitment))
		}
	}
	return commitment, cfg.MinContextSlot, nil
}

func (h *rpcServer) blockHeight(slot uint64) uint64 {
	base := h.w.scn.BaseSlot
	d := slot - min(slot, base)
	return 224_000_000 + d - d/25 // ~4% of slots skipped
}

func (h *rpcServer) method(name string, params json.RawMessage, s *Snapshot) (any, *rpcErrorObj) {
	if h.evm {
		return h.evmMethod(name, params, s)
	}
	p := s.RPC[h.idx]
	switch name {
	case "getHealth":
		if p.Healthy {
			return "ok", nil
		}
		return nil, &rpcErrorObj{Code: rpcNodeUnhealthy, Message: fmt.Sprintf("Node is behind by %d slots", p.BehindTip),
			Data: map[string]uint64{"numSlotsBehind": p.BehindTip}}
	case "getSlot", "getBlockHeight", "getEpochInfo":
		cm, minCtx, e := commitmentConfig(params)
		if e != nil {
			return nil, e
		}
		slot := commitmentSlot(p.Slot, cm)
		if minCtx != nil && *minCtx > slot {
			return nil, &rpcErrorObj{Code: rpcMinContextSlot, Message: "Minimum context slot has not been reached",
				Data: map[string]uint64{"contextSlot": slot}}
		}
		switch name {
		case "getSlot":
			return slot, nil
		case "getBlockHeight":
			return h.blockHeight(slot), nil
		}
		return map[string]uint64{
			"absoluteSlot": slot, "blockHeight": h.blockHeight(slot), "epoch": slot / slotsInEpoch,
			"slotIndex": slot % slotsInEpoch, "slotsInEpoch": slotsInEpoch, "transactionCount": 260_000_000_000 + slot*1800,
		}, nil
	case "getRecentPrioritizationFees":
		if len(params) > 0 && string(params) != "null" {
			var arr [][]string
			if err := json.Unmarshal(params, &arr); err != nil || len(arr) > 1 {
				return nil, invalidParams("expected an optional array of base-58 account addresses")
			}
			if len(arr) == 1 && len(arr[0]) > 128 {
				return nil, invalidParams("Too many inputs provided; max 128")
			}
		}
		return h.fees(p.Slot), nil
	case "getVersion":
		return map[string]any{"solana-core": "1.17.20", "feature-set": uint32(3580551090)}, nil
	case "getGenesisHash":
		return mainnetGenesis, nil
	}
	return nil, &rpcErrorObj{Code: rpcMethodNotFound, Message: "Method not found"}
}

type prioFee struct {
	Slot              uint64 `json:"slot"`
	PrioritizationFee uint64 `json:"prioritizationFee"`
}

// fees lists the last 150 slots' prioritization fees up to slot.
func (h *rpcServer) fees(slot uint64) []prioFee {
	sc := &h.w.scn
	seed := h.w.Seed()
	out := make([]prioFee, 0, feeSlots)
	for sl := slot - min(slot, feeSlots-1); sl <= slot; sl++ {
		x := float64(sl-min(sl, sc.BaseSlot))/sc.SlotsPerSecond - sc.PreRoll.Seconds() // seconds from T-0
		market := sc.marketFee(x/60) * (1 + 0.15*noise(seed, nzFee, x))
		n := unitNoise(seed, nzSlotFee, int64(sl))
		fee := 0.0
		if n > -0.6 { // ~20% of slots carry no priority fee
			fee = market * math.Exp(0.5*unitNoise(seed, nzSlotFee+1, int64(sl)))
		}
		out = append(out, prioFee{Slot: sl, PrioritizationFee: uint64(fee)})
	}
	return out
}

// evmMethod answers the Ethereum methods warroom and wallets probe with.
// Quantities are hex without leading zeros. eth_syncing: Infura says
// false; the Nethermind node, synced, answers an object whose
// currentBlock equals highestBlock, as recorded in nethermind#6153.
func (h *rpcServer) evmMethod(name string, params json.RawMessage, s *Snapshot) (any, *rpcErrorObj) {
	p := s.EVM[h.idx]
	hex := func(n uint64) string { return fmt.Sprintf("0x%x", n) }
	if len(params) > 0 && string(params) != "null" && string(params) != "[]" {
		switch name {
		case "eth_blockNumber", "eth_syncing", "eth_chainId", "net_version", "web3_clientVersion":
			return nil, invalidParams("too many arguments, want at most 0")
		}
	}
	switch name {
	case "eth_blockNumber":
		return hex(p.Block), nil
	case "eth_syncing":
		if h.idx == evmNode {
			return map[string]string{"startingBlock": "0x0", "currentBlock": hex(p.Block), "highestBlock": hex(p.Block)}, nil
		}
		return false, nil
	case "eth_chainId":
		return "0x1", nil
	case "net_version":
		return "1", nil
	case "web3_clientVersion":
		if h.idx == evmNode {
			return "Nethermind/v1.21.0+bb9b72c0/linux-x64/dotnet7.0.11", nil
		}
		return "Geth/v1.13.14-stable/linux-amd64/go1.21.7", nil
	}
	return nil, &rpcErrorObj{Code: rpcMethodNotFound, Message: fmt.Sprintf("the method %s does not exist/is not available", name)}
}
