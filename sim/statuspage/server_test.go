package statuspage

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/warroom/warroom/clock"
)

func call(t *testing.T, s *Server, method, path, key, body string) (int, http.Header, map[string]any, []any) {
	t.Helper()
	var rd io.Reader
	if body != "" {
		rd = strings.NewReader(body)
	}
	req, _ := http.NewRequest(method, s.APIURL()+path, rd)
	if key != "" {
		req.Header.Set("Authorization", "OAuth "+key)
	}
	if body != "" {
		req.Header.Set("Content-Type", "application/json")
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	raw, _ := io.ReadAll(resp.Body)
	var obj map[string]any
	var arr []any
	if json.Unmarshal(raw, &obj) != nil {
		json.Unmarshal(raw, &arr)
	}
	return resp.StatusCode, resp.Header, obj, arr
}

func TestDocumentedShapes(t *testing.T) {
	clk := clock.NewFake(time.Date(2026, 1, 31, 18, 0, 0, 0, time.UTC))
	s := New(Options{APIKey: "k", Clock: clk, RatePerWindow: 6, Components: []Component{{ID: "c1", Name: "Claims"}}})
	if err := s.Start(); err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	page := "/pages/" + s.PageID()
	if st, _, body, _ := call(t, s, "GET", page+"/incidents", "", ""); st != 401 || body["message"] != "Could not authenticate" {
		t.Fatalf("no key: %d %v", st, body)
	}
	if st, _, body, _ := call(t, s, "POST", page+"/incidents", "k", `{"incident":{"status":"investigating"}}`); st != 422 || !strings.Contains(body["message"].(string), "Name can't be blank") {
		t.Fatalf("no name: %d %v", st, body)
	}
	st, _, in, _ := call(t, s, "POST", page+"/incidents", "k",
		`{"incident":{"name":"Slow claims","status":"investigating","body":"Looking.","components":{"c1":"partial_outage"},"component_ids":["c1"],"metadata":{"warroom":{"key":"K"}}}}`)
	if st != 201 || in["impact"] != "major" || len(in["id"].(string)) != 12 || in["resolved_at"] != nil {
		t.Fatalf("create: %d %v", st, in)
	}
	ups := in["incident_updates"].([]any)
	u := ups[0].(map[string]any)
	if len(ups) != 1 || u["body"] != "Looking." || u["deliver_notifications"] != true || u["tweet_id"] != nil ||
		u["affected_components"].([]any)[0].(map[string]any)["new_status"] != "partial_outage" {
		t.Fatalf("first update %v", u)
	}
	id := in["id"].(string)
	st, _, in, _ = call(t, s, "PATCH", page+"/incidents/"+id, "k", `{"incident":{"status":"resolved","body":"Fixed.","deliver_notifications":false}}`)
	if st != 200 || in["status"] != "resolved" || in["resolved_at"] == nil {
		t.Fatalf("patch: %d %v", st, in)
	}
	ups = in["incident_updates"].([]any)
	if len(ups) != 2 || ups[0].(map[string]any)["body"] != "Fixed." || ups[0].(map[string]any)["affected_components"] != nil {
		t.Fatalf("updates newest first: %v", ups)
	}
	if st, _, _, list := call(t, s, "GET", page+"/incidents?q=slow&limit=1", "k", ""); st != 200 || len(list) != 1 {
		t.Fatalf("search: %d %v", st, list)
	}
	if st, _, _, list := call(t, s, "GET", page+"/incidents/unresolved", "k", ""); st != 200 || len(list) != 0 {
		t.Fatalf("unresolved: %d %v", st, list)
	}
	if st, _, body, _ := call(t, s, "PATCH", page+"/components/c1", "k", `{"component":{"status":"broken"}}`); st != 422 {
		t.Fatalf("bad component status: %d %v", st, body)
	}
	// Six requests in this minute already: the seventh is refused with
	// 420 and a Retry-After in seconds; one sent before it passed is a
	// violation.
	st, h, body, _ := call(t, s, "GET", page+"/components", "k", "")
	if st != 420 || h.Get("Retry-After") != "60" || body["message"] == nil {
		t.Fatalf("rate limit: %d %v %v", st, h, body)
	}
	call(t, s, "GET", page+"/components", "k", "")
	if len(s.Violations()) != 1 {
		t.Fatalf("violations %v", s.Violations())
	}
	clk.Advance(time.Minute)
	if st, _, _, list := call(t, s, "GET", page+"/components", "k", ""); st != 200 || len(list) != 1 {
		t.Fatalf("after the window: %d", st)
	}
}

// TestComponentsArePaginated: at most 100 a page, per_page and page.
func TestComponentsArePaginated(t *testing.T) {
	var comps []Component
	for i := range 130 {
		comps = append(comps, Component{ID: fmt.Sprintf("c%03d", i), Name: "C"})
	}
	s := New(Options{APIKey: "k", Components: comps})
	if err := s.Start(); err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	page := "/pages/" + s.PageID() + "/components"
	for _, c := range []struct {
		q    string
		n    int
		code int
	}{{"", 100, 200}, {"?page=2", 30, 200}, {"?per_page=1000", 100, 200}, {"?per_page=50&page=3", 30, 200}, {"?page=9", 0, 200}, {"?page=0", 0, 400}} {
		st, _, _, arr := call(t, s, "GET", page+c.q, "k", "")
		if st != c.code || len(arr) != c.n {
			t.Errorf("%s: %d with %d components, want %d with %d", c.q, st, len(arr), c.code, c.n)
		}
	}
}
