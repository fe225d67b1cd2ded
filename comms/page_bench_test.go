package comms

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/warroom/warroom/incident"
	spsim "github.com/warroom/warroom/sim/statuspage"
)

// BenchmarkPageServe serves the public status page of an incident with 20
// published updates, as a crowd of customers refreshing it would: every
// request of a path after the first while nothing changed.
func BenchmarkPageServe(b *testing.B) {
	r := newRig(b, spsim.Options{})
	for i := range 20 {
		r.clk.Advance(10 * time.Minute)
		st := incident.StatusInvestigating
		if i > 0 {
			st = incident.StatusIdentified
		}
		r.do(incident.SubmitUpdate{By: "rosa", Draft: incident.Draft{Title: "Slow claims", Status: st, Notify: true,
			Body: fmt.Sprintf("Update %d: claims are slow; your tokens are safe and your place is kept.\nDo not retry.", i)}})
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	p, err := NewPage(ctx, r.eng)
	if err != nil {
		b.Fatal(err)
	}
	for _, path := range []string{"/", "/index.json", "/history.atom"} {
		b.Run(path, func(b *testing.B) {
			req := httptest.NewRequest(http.MethodGet, path, nil)
			b.ReportAllocs()
			for b.Loop() {
				w := httptest.NewRecorder()
				p.ServeHTTP(w, req)
				if w.Code != 200 {
					b.Fatal(w.Code)
				}
			}
		})
	}
}
