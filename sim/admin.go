package sim

import (
	"bytes"
	"crypto/subtle"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"strings"
)

type adminServer struct {
	w     *World
	token string
}

// route is one admin resource: a GET that captures the current value and
// an optional apply (PUT and POST both accepted).
type route struct {
	etag  string                             // version key for ETag/If-Match; empty for none
	get   func(r *http.Request) (any, error) // capture
	apply func(r *http.Request, body []byte) (any, error)
	post  bool // apply is an action (POST only), not an idempotent PUT
}

func newAdminHandler(w *World, token string) http.Handler {
	a := &adminServer{w: w, token: token}
	mux := http.NewServeMux()
	handle := func(pattern string, rt route) { mux.Handle(pattern, a.serve(rt)) }

	handle("/admin/health", route{get: func(*http.Request) (any, error) { return map[string]bool{"ok": true}, nil }})
	handle("/admin/state", route{get: func(*http.Request) (any, error) { return w.State(), nil }})
	handle("/admin/catalog", route{get: func(*http.Request) (any, error) {
		return map[string]any{"prometheus": PromCatalog(), "datadog": DatadogCatalog(), "timeline": w.scn.Timeline()}, nil
	}})
	handle("/admin/reset", route{post: true, apply: func(*http.Request, []byte) (any, error) {
		w.Reset()
		return w.State(), nil
	}})
	handle("/admin/rpc/split", route{etag: "split",
		get: func(*http.Request) (any, error) { return w.Split(), nil },
		apply: func(_ *http.Request, b []byte) (any, error) {
			var in struct {
				Triton    *int `json:"triton"`
				QuickNode *int `json:"quicknode"`
			}
			if err := decodeStrict(b, &in); err != nil {
				return nil, err
			}
			if in.Triton == nil || in.QuickNode == nil {
				return nil, inputErr(`both "triton" and "quicknode" weights are required`)
			}
			return w.SetSplit(Split{Triton: *in.Triton, QuickNode: *in.QuickNode})
		}})
	handle("/admin/lambda/{fn}/concurrency", route{etag: "lambda/{fn}",
		get: func(r *http.Request) (any, error) { return w.LambdaConcurrency(r.PathValue("fn")) },
		apply: func(r *http.Request, b []byte) (any, error) {
			if _, err := w.LambdaConcurrency(r.PathValue("fn")); err != nil {
				return nil, err
			}
			var in struct {
				Reserved *int `json:"reserved_concurrency"`
			}
			if err := decodeStrict(b, &in); err != nil {
				return nil, err
			}
			if in.Reserved == nil {
				return nil, inputErr(`"reserved_concurrency" is required`)
			}
			return w.SetReservedConcurrency(r.PathValue("fn"), *in.Reserved)
		}})
	handle("/admin/db/sessions", route{etag: "db", get: func(*http.Request) (any, error) { return w.DBSessions(), nil }})
	handle("/admin/db/sessions/terminate-idle", route{etag: "db", post: true,
		get: func(*http.Request) (any, error) { return w.DBSessions(), nil },
		apply: func(_ *http.Request, b []byte) (any, error) {
			if len(bytes.TrimSpace(b)) > 0 {
				var in struct {
					State string `json:"state"`
				}
				if err := decodeStrict(b, &in); err != nil {
					return nil, err
				}
				if in.State != "" && in.State != "idle" {
					return nil, inputErr(`only "idle" sessions can be terminated here`)
				}
			}
			return w.TerminateIdleSessions(), nil
		}})
	handle("/admin/db/password/rotate", route{etag: "db", post: true,
		get:   func(*http.Request) (any, error) { return w.DBSessions(), nil },
		apply: func(*http.Request, []byte) (any, error) { return w.RotateDBPassword(), nil }})
	handle("/admin/waf/mode", route{etag: "waf",
		get: func(*http.Request) (any, error) { return w.WAFMode(), nil },
		apply: func(_ *http.Request, b []byte) (any, error) {
			var in struct {
				Mode *string `json:"mode"`
			}
			if err := decodeStrict(b, &in); err != nil {
				return nil, err
			}
			if in.Mode == nil {
				return nil, inputErr(`"mode" is required (one of %s)`, strings.Join(wafModes, ", "))
			}
			return w.SetWAFMode(*in.Mode)
		}})
	handle("/admin/fees/priority", route{etag: "fee",
		get: func(*http.Request) (any, error) { return w.PriorityFee(), nil },
		apply: func(_ *http.Request, b []byte) (any, error) {
			var in struct {
				MicroLamports *int64 `json:"micro_lamports"`
			}
			if err := decodeStrict(b, &in); err != nil {
				return nil, err
			}
			if in.MicroLamports == nil {
				return nil, inputErr(`"micro_lamports" is required (%s)`, feeUnit)
			}
			return w.SetPriorityFee(*in.MicroLamports)
		}})
	handle("/admin/nat/ips", route{etag: "nat",
		get: func(*http.Request) (any, error) { return w.NAT(), nil },
		apply: func(_ *http.Request, b []byte) (any, error) {
			var in struct {
				IPs *int `json:"ips"`
			}
			if err := decodeStrict(b, &in); err != nil {
				return nil, err
			}
			if in.IPs == nil {
				return nil, inputErr(`"ips" is required`)
			}
			return w.SetNATIPs(*in.IPs)
		}})
	handle("/admin/clients/retries", route{etag: "clients",
		get: func(*http.Request) (any, error) { return w.ClientRetries(), nil },
		apply: func(_ *http.Request, b []byte) (any, error) {
			var in struct {
				Enabled *bool `json:"enabled"`
			}
			if err := decodeStrict(b, &in); err != nil {
				return nil, err
			}
			if in.Enabled == nil {
				return nil, inputErr(`"enabled" is required`)
			}
			return w.SetClientRetries(*in.Enabled)
		}})
	mux.HandleFunc("/", func(rw http.ResponseWriter, r *http.Request) {
		adminError(rw, http.StatusNotFound, "no such admin resource: "+r.URL.Path)
	})
	return mux
}

func decodeStrict(b []byte, v any) error {
	if len(bytes.TrimSpace(b)) == 0 {
		return inputErr("request body must be a JSON object")
	}
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		var ute *json.UnmarshalTypeError
		if errors.As(err, &ute) {
			return inputErr("field %q must be %s", ute.Field, jsonKind(ute.Type.String()))
		}
		return inputErr("invalid JSON body: %s", strings.TrimPrefix(err.Error(), "json: "))
	}
	if dec.More() {
		return inputErr("request body must hold exactly one JSON object")
	}
	return nil
}

func jsonKind(goType string) string {
	switch {
	case strings.Contains(goType, "int"):
		return "an integer"
	case strings.Contains(goType, "string"):
		return "a string"
	}
	return goType
}

func adminError(rw http.ResponseWriter, status int, msg string) {
	adminJSON(rw, status, map[string]string{"error": msg})
}

func adminJSON(rw http.ResponseWriter, status int, v any) {
	rw.Header().Set("Content-Type", "application/json")
	rw.Header().Set("Cache-Control", "no-store")
	rw.WriteHeader(status)
	enc := json.NewEncoder(rw)
	enc.SetIndent("", "  ")
	_ = enc.Encode(v)
}

func (a *adminServer) etag(rt route, r *http.Request) string {
	if rt.etag == "" {
		return ""
	}
	key := strings.ReplaceAll(rt.etag, "{fn}", r.PathValue("fn"))
	return `"` + strings.ReplaceAll(key, "/", "-") + "-v" + strconv.Itoa(a.w.version(key)) + `"`
}

func (a *adminServer) serve(rt route) http.Handler {
	return http.HandlerFunc(func(rw http.ResponseWriter, r *http.Request) {
		if a.token != "" {
			got := strings.TrimPrefix(r.Header.Get("Authorization"), "Bearer ")
			if subtle.ConstantTimeCompare([]byte(got), []byte(a.token)) != 1 {
				rw.Header().Set("WWW-Authenticate", `Bearer realm="warroom-sim"`)
				adminError(rw, http.StatusUnauthorized, "missing or wrong bearer token")
				return
			}
		}
		var allow []string
		if rt.get != nil {
			allow = append(allow, "GET", "HEAD")
		}
		if rt.apply != nil {
			if rt.post {
				allow = append(allow, "POST")
			} else {
				allow = append(allow, "PUT", "POST")
			}
		}
		write := func(v any, err error) {
			if err != nil {
				var ie *InputError
				switch {
				case errors.As(err, &ie):
					adminError(rw, http.StatusBadRequest, ie.Msg)
				case errors.Is(err, ErrUnknownFunction):
					adminError(rw, http.StatusNotFound, fmt.Sprintf("unknown function %q (known: %s)", r.PathValue("fn"), strings.Join(ServiceNames[:], ", ")))
				default:
					adminError(rw, http.StatusInternalServerError, err.Error())
				}
				return
			}
			if tag := a.etag(rt, r); tag != "" {
				rw.Header().Set("ETag", tag)
			}
			adminJSON(rw, http.StatusOK, v)
		}
		switch {
		case (r.Method == http.MethodGet || r.Method == http.MethodHead) && rt.get != nil:
			write(rt.get(r))
		case (r.Method == http.MethodPut && !rt.post || r.Method == http.MethodPost) && rt.apply != nil:
			body, err := io.ReadAll(http.MaxBytesReader(rw, r.Body, 64<<10))
			if err != nil {
				adminError(rw, http.StatusRequestEntityTooLarge, "request body too large")
				return
			}
			if im := r.Header.Get("If-Match"); im != "" && im != "*" && rt.etag != "" {
				if cur := a.etag(rt, r); !etagListHas(im, cur) {
					v, _ := rt.get(r)
					rw.Header().Set("ETag", cur)
					adminJSON(rw, http.StatusPreconditionFailed, map[string]any{
						"error": "precondition failed: the resource changed since it was read (If-Match " + im + ", now " + cur + ")", "current": v})
					return
				}
			}
			write(rt.apply(r, body))
		default:
			rw.Header().Set("Allow", strings.Join(allow, ", "))
			adminError(rw, http.StatusMethodNotAllowed, fmt.Sprintf("method %s not allowed on %s (allowed: %s)", r.Method, r.URL.Path, strings.Join(allow, ", ")))
		}
	})
}

func etagListHas(header, tag string) bool {
	for _, t := range strings.Split(header, ",") {
		t = strings.TrimSpace(t)
		if t == tag || strings.TrimPrefix(t, "W/") == tag {
			return true
		}
	}
	return false
}
