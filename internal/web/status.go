package web

import (
	"bytes"
	"context"
	"embed"
	"fmt"
	"html/template"
	"net/http"
	"os"
	"slices"
	"sort"
	"strings"
	"time"

	"github.com/dcvd/dcvd/internal/apiclient"
	"github.com/dcvd/dcvd/internal/app"
	"github.com/dcvd/dcvd/store"
)

//go:embed status.html
var templates embed.FS

var statusTmpl = template.Must(template.New("status.html").Funcs(template.FuncMap{
	"ago":      ago,
	"until":    until,
	"dur":      dur,
	"stamp":    func(t time.Time) string { return t.Local().Format("2006-01-02 15:04:05 MST") },
	"trimdot":  func(s string) string { return strings.TrimSuffix(s, ".") },
	"join":     strings.Join,
	"stateCSS": stateCSS,
}).ParseFS(templates, "status.html"))

// Limits of what one page shows.
const (
	pageRows      = 5000 // challenges read
	pageAttention = 50   // stuck or failed challenges shown
	pageLive      = 200  // in-pipeline challenges listed
	pageEvents    = 25   // audit entries
	recentFailed  = 7 * 24 * time.Hour
)

// statusPage is what status.html renders. Nothing in it is a secret: the
// config's credentials are never read into it.
type statusPage struct {
	Host, Version string
	Now           time.Time
	Refresh       int // seconds
	Err           string

	InPipeline, Stuck, Failed, DoneDay int
	Accounts                           []accountView
	Attention                          []attentionView
	Live                               []store.Challenge
	LiveMore                           int
	Backends                           []backendState
	Events                             []store.AuditEntry
	// Inventory is the domain inventory with expiries; it stays nil until
	// standing validations are kept by the store (the standing-validation
	// issue), and the page says so.
	Inventory []inventoryRow
}

type inventoryRow struct {
	Account, Domain, Method string
	Expires                 time.Time
}

type accountView struct {
	Name, Type string
	Total      int
	States     []stateCount
}

type stateCount struct {
	State store.State
	N     int
}

type attentionView struct {
	store.Challenge
	Why    string // "retrying", "failed", "expired", "cleanup pending"
	Verify *store.AuditEntry
}

// mountStatus serves the status page at GET /{$} behind [daemon.web]'s
// basic auth.
func mountStatus(mux *http.ServeMux, a *app.App) error {
	user, pass, err := webCredentials(a.Config.Daemon.Web)
	if err != nil {
		return err
	}
	host, _ := os.Hostname()
	refresh := int(a.Config.Daemon.Web.Refresh.D().Seconds())
	h := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		ctx, cancel := context.WithTimeout(r.Context(), 10*time.Second)
		defer cancel()
		p := collect(ctx, a)
		p.Host, p.Version, p.Refresh = host, apiclient.Version(), refresh
		var buf bytes.Buffer
		if err := statusTmpl.Execute(&buf, p); err != nil {
			a.Logger.Error("status page", "err", err)
			http.Error(w, "rendering the status page failed", http.StatusInternalServerError)
			return
		}
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		w.Header().Set("Cache-Control", "no-store")
		w.Header().Set("Content-Security-Policy", "default-src 'none'; style-src 'unsafe-inline'; img-src data:")
		w.Header().Set("X-Content-Type-Options", "nosniff")
		w.Write(buf.Bytes())
	})
	mux.Handle("GET /{$}", basicAuth("dcvd status", user, pass, h))
	return nil
}

// collect reads everything the page shows.
func collect(ctx context.Context, a *app.App) statusPage {
	p := statusPage{Now: time.Now()}
	rows, err := a.Store.List(ctx, store.Filter{Limit: pageRows})
	if err != nil {
		p.Err = "reading the store: " + err.Error()
		return p
	}
	accounts := map[string]*accountView{}
	var order []string
	for _, ca := range a.Config.CAs {
		accounts[ca.Name] = &accountView{Name: ca.Name, Type: ca.Type}
		order = append(order, ca.Name)
	}
	counts := map[string]map[store.State]int{}
	for _, c := range rows {
		if _, ok := accounts[c.Account]; !ok {
			accounts[c.Account] = &accountView{Name: c.Account, Type: "not configured"}
			switch c.Account {
			case "hook":
				accounts[c.Account].Type = "ACME client hooks"
			case AcmeDNSAccount:
				accounts[c.Account].Type = "acme-dns API"
			}
			order = append(order, c.Account)
		}
		if counts[c.Account] == nil {
			counts[c.Account] = map[store.State]int{}
		}
		counts[c.Account][c.State]++
		accounts[c.Account].Total++
		switch {
		case !c.State.Terminal():
			p.InPipeline++
			if len(p.Live) < pageLive {
				p.Live = append(p.Live, c)
			} else {
				p.LiveMore++
			}
		case c.State == store.Validated || c.State == store.Cleaned:
			if p.Now.Sub(c.Updated) < 24*time.Hour {
				p.DoneDay++
			}
		}
		if why := attention(c, p.Now); why != "" {
			if why == "failed" || why == "expired" {
				p.Failed++
			} else {
				p.Stuck++
			}
			if len(p.Attention) < pageAttention {
				p.Attention = append(p.Attention, attentionView{Challenge: c, Why: why})
			}
		}
	}
	for _, name := range order {
		av := accounts[name]
		for _, st := range states {
			if n := counts[name][st]; n > 0 {
				av.States = append(av.States, stateCount{st, n})
			}
		}
		p.Accounts = append(p.Accounts, *av)
	}
	// Stuck first, then failed; oldest problem first within each.
	sort.SliceStable(p.Attention, func(i, j int) bool {
		fi, fj := p.Attention[i].State.Terminal(), p.Attention[j].State.Terminal()
		if fi != fj {
			return !fi
		}
		return p.Attention[i].Created.Before(p.Attention[j].Created)
	})
	for i := range p.Attention {
		ev, err := a.Store.Audit(ctx, store.AuditFilter{Challenge: p.Attention[i].ID, Kinds: []string{store.AuditVerify}, Limit: 1})
		if err == nil && len(ev) == 1 {
			p.Attention[i].Verify = &ev[0]
		}
	}
	slices.SortStableFunc(p.Live, func(x, y store.Challenge) int { return x.Created.Compare(y.Created) })
	p.Backends = backendHealth(ctx, a)
	if ev, err := a.Store.Audit(ctx, store.AuditFilter{Limit: pageEvents}); err == nil {
		p.Events = ev
	} else {
		p.Err = "reading the audit trail: " + err.Error()
	}
	return p
}

// attention says why a row needs a human's eye, or "".
func attention(c store.Challenge, now time.Time) string {
	switch {
	case c.State == store.Failed || c.State == store.Expired:
		if now.Sub(c.Updated) > recentFailed && !c.DNS.Owned() {
			return ""
		}
		if c.DNS.Owned() {
			return "cleanup pending"
		}
		return string(c.State)
	case c.State == store.Validated && c.DNS.Owned() && c.Attempts > 0:
		return "cleanup pending"
	case !c.State.Terminal() && c.Attempts > 0 && c.State != store.Submitted:
		return "retrying"
	}
	return ""
}

// states lists the pipeline states in pipeline order.
var states = []store.State{store.Discovered, store.Published, store.Visible, store.Triggering, store.Submitted, store.Validated, store.Cleaned, store.Failed, store.Expired}

func stateCSS(s store.State) string { return "st-" + string(s) }

func ago(t time.Time) string {
	if t.IsZero() {
		return "never"
	}
	return dur(time.Since(t)) + " ago"
}

func until(t time.Time) string {
	if t.IsZero() {
		return ""
	}
	d := time.Until(t)
	if d <= 0 {
		return "due now"
	}
	return "in " + dur(d)
}

// dur prints a duration for humans: 45s, 12m, 3h20m, 2d4h; RTTs in ms.
func dur(d time.Duration) string {
	switch {
	case d < 0:
		d = -d
	}
	switch {
	case d < time.Millisecond:
		return fmt.Sprintf("%dµs", d.Microseconds())
	case d < time.Second:
		return fmt.Sprintf("%.1fms", float64(d.Microseconds())/1000)
	case d < time.Minute:
		return fmt.Sprintf("%ds", int(d.Seconds()))
	case d < time.Hour:
		return fmt.Sprintf("%dm", int(d.Minutes()))
	case d < 48*time.Hour:
		return fmt.Sprintf("%dh%02dm", int(d.Hours()), int(d.Minutes())%60)
	}
	return fmt.Sprintf("%dd%dh", int(d.Hours())/24, int(d.Hours())%24)
}
