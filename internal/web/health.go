package web

import (
	"context"
	"fmt"
	"net/http"
	"strings"
	"time"

	"github.com/dcvd/dcvd/internal/app"
)

// mountHealth serves GET /healthz (the process answers: 200 "ok") and
// GET /readyz: 200 "ready" when the store answers and no DNS backend's last
// write failed, else 503 with one line per problem.
func mountHealth(mux *http.ServeMux, a *app.App) {
	mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, r *http.Request) {
		fmt.Fprintln(w, "ok")
	})
	mux.HandleFunc("GET /readyz", func(w http.ResponseWriter, r *http.Request) {
		ctx, cancel := context.WithTimeout(r.Context(), 5*time.Second)
		defer cancel()
		var problems []string
		if _, err := a.Store.Counts(ctx); err != nil {
			problems = append(problems, "store: "+err.Error())
		} else {
			for _, b := range backendHealth(ctx, a) {
				if b.Err != "" {
					problems = append(problems, b.Err)
				} else if b.Failing() {
					problems = append(problems, fmt.Sprintf("dns backend %s: last write failed at %s: %s", b.Name, b.Last.Time.Format(time.RFC3339), b.Last.Detail))
				}
			}
		}
		if len(problems) > 0 {
			http.Error(w, strings.Join(problems, "\n"), http.StatusServiceUnavailable)
			return
		}
		fmt.Fprintln(w, "ready")
	})
}
