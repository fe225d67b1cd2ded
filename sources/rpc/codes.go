package rpc

import (
	"encoding/json"
	"errors"
	"math"
	"time"

	"github.com/warroom/warroom/config"
	"github.com/warroom/warroom/sources"
)

// meaning is what a JSON-RPC error code says about the provider.
type meaning int

const (
	failed     meaning = iota // an error answer: the call failed, try again soon
	limited                   // a rate limit: back off (and count it as a 429)
	behind                    // Solana getHealth: the node is behind (an answer, not an error)
	badRequest                // the request itself is wrong: a person must fix it
)

// codes maps each chain's documented JSON-RPC error codes to what they
// mean. The same number means different things on different chains:
//
//	both    429     rate limit in the error object, with HTTP 200 or 429
//	                (Solana public RPC, solana-program-library#2784)
//	both    -32600, -32601, -32602  JSON-RPC 2.0: invalid request, method
//	                not found, invalid params
//	evm     -32005  EIP-1474 "Limit exceeded": Infura answers HTTP 429 with
//	                {"code":-32005,"message":"project ID request rate exceeded",
//	                "data":{"backoff_seconds":30,…}} (ethers.js#640; nested
//	                in data.rate in INFURA/infura#201); Goldsky and MegaETH
//	                normalise rate limits to it
//	evm     -32007  QuickNode's request limit (espresso-network#4838)
//	evm     -32029  TheRPC's rate limit, with HTTP 200 (reown blockchain-api#1102)
//	solana  -32005  Agave's NodeUnhealthy: "Node is behind by N slots",
//	                data.numSlotsBehind, null when unknown (solana.com
//	                getHealth; the payload is marked unstable)
//
// Other codes are failed calls: on Solana -32007 and -32009 are skipped
// slots, -32016 a minimum context slot not reached, not rate limits.
var codes = map[config.Chain]map[int]meaning{
	config.ChainEVM: {
		429: limited, -32005: limited, -32007: limited, -32029: limited,
		-32600: badRequest, -32601: badRequest, -32602: badRequest,
	},
	config.ChainSolana: {
		429: limited, -32005: behind,
		-32600: badRequest, -32601: badRequest, -32602: badRequest,
	},
}

// rpcError finds the JSON-RPC error object of a failed call: the answer
// itself (HTTP 200) or the body of a non-2xx answer.
func rpcError(err error) *RPCError {
	var rerr *RPCError
	if errors.As(err, &rerr) {
		return rerr
	}
	return nil
}

// classify turns a call error into a *sources.Error for the scheduler,
// reading the chain's codes: a rate-limit code is RateLimited (with
// HTTP 200 too), waiting the longer of Retry-After and the back-off the
// provider suggests in the error's data.
func classify(chain config.Chain, err error) *sources.Error {
	rerr := rpcError(err)
	var se *sources.Error
	if !errors.As(err, &se) {
		if rerr == nil {
			return sources.Classify(err)
		}
		se = &sources.Error{Class: sources.Transient, Msg: rerr.Error(), Err: err}
	}
	if rerr == nil {
		return se
	}
	switch codes[chain][rerr.Code] {
	case limited:
		se.Class = sources.RateLimited
		se.RetryAfter = max(se.RetryAfter, backoffHint(rerr.Data))
	case badRequest:
		if se.Status == 0 {
			se.Class = sources.Permanent
		}
	}
	return se
}

// meaningOf is what a call's error says, on chain.
func meaningOf(chain config.Chain, err error) meaning {
	if rerr := rpcError(err); rerr != nil {
		if m, ok := codes[chain][rerr.Code]; ok {
			return m
		}
	}
	var se *sources.Error
	if errors.As(err, &se) && se.Class == sources.RateLimited {
		return limited
	}
	return failed
}

// backoffHint reads the wait a provider suggests in a rate-limit error's
// data: Infura's backoff_seconds, flat or under "rate". 0 (which Infura
// also sends, INFURA/infura#201) means no hint.
func backoffHint(data json.RawMessage) time.Duration {
	if len(data) == 0 {
		return 0
	}
	var d struct {
		Backoff *float64 `json:"backoff_seconds"`
		Rate    struct {
			Backoff *float64 `json:"backoff_seconds"`
		} `json:"rate"`
	}
	if json.Unmarshal(data, &d) != nil {
		return 0
	}
	s := 0.0
	for _, v := range []*float64{d.Backoff, d.Rate.Backoff} {
		if v != nil && *v > s && !math.IsInf(*v, 0) {
			s = *v
		}
	}
	const most = 3600 // an hour: a hint past that is not a rate limit's
	return time.Duration(math.Ceil(min(s, most))) * time.Second
}
