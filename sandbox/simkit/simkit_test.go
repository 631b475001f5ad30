package simkit

import (
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"
)

// TestWindows: every documented window is usable in full, the next request
// is refused with the time until the oldest slot frees, and a refusal does
// not count against the window.
func TestWindows(t *testing.T) {
	now := time.Unix(1000, 0)
	w := NewWindows([]Limit{{N: 3, Window: time.Second}, {N: 5, Window: time.Minute}}, func() time.Time { return now })
	for i := 0; i < 3; i++ {
		if ok, _ := w.Allow("k"); !ok {
			t.Fatalf("request %d refused", i)
		}
	}
	if ok, retry := w.Allow("k"); ok || retry != time.Second {
		t.Fatalf("4th in 1s: ok %v retry %s, want refused with 1s", ok, retry)
	}
	if ok, _ := w.Allow("other"); !ok {
		t.Fatal("another key shares the window")
	}
	now = now.Add(time.Second)
	for i := 0; i < 2; i++ {
		if ok, _ := w.Allow("k"); !ok {
			t.Fatalf("after 1s, request %d refused", i)
		}
	}
	if ok, retry := w.Allow("k"); ok || retry != 59*time.Second {
		t.Fatalf("6th in 1 min: ok %v retry %s, want refused with 59s", ok, retry)
	}
	if got := w.Rejected("k"); got != 2 {
		t.Errorf("Rejected = %d, want 2", got)
	}
	if got := w.MaxIn("k", time.Minute); got != 5 {
		t.Errorf("MaxIn(1m) = %d, want 5", got)
	}
	if got := w.MaxIn("k", time.Second); got != 3 {
		t.Errorf("MaxIn(1s) = %d, want 3", got)
	}
}

// TestFaults: rules match by method and concrete or route path, count
// down, and each fault answers its status with the CA's body; Truncated
// and Malformed run the call first.
func TestFaults(t *testing.T) {
	var fs Faults
	fs.Inject("PUT", "/order/{id}/check", ServerError, 1)
	fs.Inject("", "*", Truncated, 1)
	if _, ok := fs.Take("GET", "/order/7/check", "GET /order/{id}/check"); !ok {
		t.Fatal("wildcard rule did not match")
	}
	if f, ok := fs.Take("PUT", "/order/7/check", "PUT /order/{id}/check"); !ok || f != ServerError {
		t.Fatalf("route rule: %v %v", f, ok)
	}
	if _, ok := fs.Take("PUT", "/order/7/check", "PUT /order/{id}/check"); ok {
		t.Fatal("rules not counted down")
	}

	ran := 0
	next := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		ran++
		WriteJSON(w, http.StatusOK, map[string]any{"orders": []int{1, 2, 3}, "page": "x"})
	})
	errw := func(w http.ResponseWriter, status int) {
		WriteJSON(w, status, map[string]string{"error": http.StatusText(status)})
	}
	for _, f := range AllFaults {
		rec := httptest.NewRecorder()
		f.Serve(rec, httptest.NewRequest("GET", "/x", nil), next, errw)
		var v any
		decodes := json.Unmarshal(rec.Body.Bytes(), &v) == nil
		switch f {
		case Malformed, Truncated:
			if rec.Code != http.StatusOK || decodes {
				t.Errorf("%s: %d %q, want 200 with a body that does not decode", f, rec.Code, rec.Body)
			}
		case ServerErrorEmpty, BadGateway:
			if rec.Code != f.Status() || decodes {
				t.Errorf("%s: %d %q", f, rec.Code, rec.Body)
			}
		default:
			if rec.Code != f.Status() || !decodes {
				t.Errorf("%s: %d %q, want %d with the CA's body", f, rec.Code, rec.Body, f.Status())
			}
		}
	}
	if ran != 2 {
		t.Errorf("the call ran %d times, want 2 (Malformed, Truncated)", ran)
	}
}

func TestPage(t *testing.T) {
	items := []int{1, 2, 3, 4, 5}
	if got := Page(items, 3, 10); len(got) != 2 || got[0] != 4 {
		t.Errorf("Page(3,10) = %v", got)
	}
	if got := Page(items, 9, 1); got != nil {
		t.Errorf("Page past end = %v", got)
	}
}
