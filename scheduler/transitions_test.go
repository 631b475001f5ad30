package scheduler

import (
	"os"
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/dcvd/dcvd/store"
)

// TestTransitionsMatchDiagram keeps doc.go's diagram and the driver's table
// (transitions.go) saying the same thing: every arrow of the main line is a
// table row (state, step, next state), every table row that continues the
// main line is an arrow, and the failure line's removal is the table's
// step for failed and expired rows.
func TestTransitionsMatchDiagram(t *testing.T) {
	src, err := os.ReadFile("doc.go")
	if err != nil {
		t.Fatal(err)
	}
	var diagram []string
	for _, line := range strings.Split(string(src), "\n") {
		if strings.HasPrefix(line, "//\t") && strings.Contains(line, "──") {
			diagram = append(diagram, strings.TrimPrefix(line, "//\t"))
		}
	}
	if len(diagram) < 2 {
		t.Fatalf("no diagram in doc.go (found %q)", diagram)
	}
	// Main line: "a ──step──▶ b ──step──▶ c ..."; other lines may draw
	// more arrows of the same shape (the submit intent).
	arrow := regexp.MustCompile(`(\w+) ──(\w+)──▶ (\w+)`)
	main := diagram[0]
	type edge struct{ from, step, to string }
	var drawn []edge
	for i, line := range diagram {
		for rest := line; ; {
			m := arrow.FindStringSubmatchIndex(rest)
			if m == nil {
				break
			}
			drawn = append(drawn, edge{rest[m[2]:m[3]], rest[m[4]:m[5]], rest[m[6]:m[7]]})
			rest = rest[m[6]:] // the target starts the next arrow
		}
		if i == 0 && len(drawn) == 0 {
			t.Fatalf("no arrows in %q", main)
		}
	}
	onMain := map[string]bool{}
	for _, d := range drawn {
		onMain[d.from] = true
		tr, ok := transitionFrom(store.State(d.from))
		if !ok {
			t.Errorf("diagram: %s ──%s──▶ %s, but the table has no row for %s", d.from, d.step, d.to, d.from)
			continue
		}
		if string(tr.Step) != d.step || !slices.Contains(tr.To, store.State(d.to)) {
			t.Errorf("diagram: %s ──%s──▶ %s; table: %s ──%s──▶ %v", d.from, d.step, d.to, tr.From, tr.Step, tr.To)
		}
	}
	for _, tr := range transitions {
		if tr.Retry == 0 {
			t.Errorf("table row %s has no retry policy", tr.From)
		}
		if onMain[string(tr.From)] || tr.From == store.Failed || tr.From == store.Expired {
			continue
		}
		t.Errorf("table row %s ──%s──▶ %v is not in the diagram", tr.From, tr.Step, tr.To)
	}
	// The failure line: "failed / expired ... ──remove──▶ (DNS removed)".
	fails := strings.Join(diagram[1:], "\n")
	for _, s := range []store.State{store.Failed, store.Expired} {
		tr, ok := transitionFrom(s)
		if !strings.Contains(fails, string(s)) || !ok || tr.Step != stepRemove || !strings.Contains(fails, "──"+string(tr.Step)+"──▶") {
			t.Errorf("%s: diagram failure line %q, table row %+v (want remove)", s, fails, tr)
		}
	}
	// Every state that needs work has a table row or is the end of one.
	for _, s := range []store.State{store.Discovered, store.Published, store.Visible, store.Triggering, store.Submitted, store.Validated, store.Failed, store.Expired} {
		if _, ok := transitionFrom(s); !ok {
			t.Errorf("state %s has no row in the table", s)
		}
	}
}

// TestRetryPolicies: the table decides which steps give up and which
// backoff a pending poll uses.
func TestRetryPolicies(t *testing.T) {
	e := &Engine{cfg: Config{RetryMin: 1000, RetryMax: 1000, PollMin: 7, PollMax: 7}}
	for _, s := range []store.State{store.Discovered, store.Published, store.Visible, store.Triggering} {
		if !givesUp(s) {
			t.Errorf("%s: does not give up after MaxAttempts", s)
		}
	}
	for _, s := range []store.State{store.Submitted, store.Validated, store.Failed, store.Expired} {
		if givesUp(s) {
			t.Errorf("%s: gives up", s)
		}
	}
	if d := e.retryDelay(store.Submitted, 1, true); d > 7 || d < 3 {
		t.Errorf("pending poll delay %d, want the poll backoff (3..7)", d)
	}
	if d := e.retryDelay(store.Submitted, 1, false); d < 500 {
		t.Errorf("poll error delay %d, want the retry backoff (500..1000)", d)
	}
	if d := e.retryDelay(store.Published, 1, true); d < 500 {
		t.Errorf("verify delay %d, want the retry backoff", d)
	}
}
