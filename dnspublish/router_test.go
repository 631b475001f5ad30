package dnspublish

import (
	"context"
	"errors"
	"strings"
	"testing"
)

// fakePub is a Publisher that only has a name and zones: routing never
// calls Add or Remove.
type fakePub struct {
	name  string
	zones []string
}

func (f *fakePub) Name() string    { return f.name }
func (f *fakePub) Zones() []string { return f.zones }
func (f *fakePub) Add(context.Context, string, []Record) (Result, error) {
	return Result{}, errors.New("not used")
}
func (f *fakePub) Remove(context.Context, string, []Record) (Result, error) {
	return Result{}, errors.New("not used")
}

func TestRouteLongestSuffix(t *testing.T) {
	parent := &fakePub{"parent", []string{"example.com"}}
	child := &fakePub{"child", []string{"Sub.Example.COM.", "example.org."}}
	root := &fakePub{"root-ish", []string{"com"}}
	r, err := NewRouter(parent, child, root)
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct{ name, pub, zone string }{
		{"_acme-challenge.example.com", "parent", "example.com."},
		{"example.com.", "parent", "example.com."},
		{"_acme-challenge.host.sub.example.com.", "child", "sub.example.com."},
		{"_ACME-CHALLENGE.SUB.EXAMPLE.COM", "child", "sub.example.com."},
		{"sub.example.com", "child", "sub.example.com."},
		{"xsub.example.com", "parent", "example.com."}, // label boundary, not string suffix
		{"_dnsauth.example.org", "child", "example.org."},
		{"other.com", "root-ish", "com."},
	} {
		p, zone, err := r.Route(c.name)
		if err != nil {
			t.Errorf("Route(%q): %v", c.name, err)
			continue
		}
		if p.Name() != c.pub || zone != c.zone {
			t.Errorf("Route(%q) = %s %s, want %s %s", c.name, p.Name(), zone, c.pub, c.zone)
		}
	}
	plan := r.Plan()
	if len(plan) != 4 || plan[0] != [2]string{"sub.example.com.", "child"} || plan[3] != [2]string{"com.", "root-ish"} {
		t.Fatalf("Plan() = %v", plan)
	}
	pubs := r.Publishers()
	if len(pubs) != 3 {
		t.Fatalf("Publishers() = %d, want each once", len(pubs))
	}
}

func TestRouteOutsideEveryZone(t *testing.T) {
	r, err := NewRouter(&fakePub{"a", []string{"example.com", "sub.example.net"}})
	if err != nil {
		t.Fatal(err)
	}
	for _, name := range []string{"example.net", "_acme-challenge.example.org", "com", "notexample.com"} {
		_, _, err := r.Route(name)
		if !errors.Is(err, ErrNoZone) {
			t.Fatalf("Route(%q): %v, want ErrNoZone", name, err)
		}
		if !strings.Contains(err.Error(), "zones: ") || !strings.Contains(err.Error(), "example.com") {
			t.Fatalf("error does not list the zones: %v", err)
		}
	}
	empty, err := NewRouter()
	if err != nil {
		t.Fatal(err)
	}
	if _, _, err := empty.Route("example.com"); !errors.Is(err, ErrNoZone) || !strings.Contains(err.Error(), "none configured") {
		t.Fatalf("empty router: %v", err)
	}
}

func TestRouterDuplicateZone(t *testing.T) {
	_, err := NewRouter(&fakePub{"bind", []string{"example.com"}}, &fakePub{"knot", []string{"Example.COM."}})
	if err == nil || !strings.Contains(err.Error(), `zone example.com. is served by both "bind" and "knot"`) {
		t.Fatalf("duplicate zone: %v", err)
	}
}

func TestLongest(t *testing.T) {
	zones := map[string]bool{"example.com.": true, `a\.b.example.com.`: true}
	look := func(z string) (bool, bool) { return true, zones[z] }
	for name, want := range map[string]string{
		"x.y.example.com.":    "example.com.",
		`x.a\.b.example.com.`: `a\.b.example.com.`,
		"b.example.com.":      "example.com.",
		"example.com.":        "example.com.",
		"example.org.":        "",
	} {
		got, _, ok := Longest(name, look)
		if (want == "") == ok || (ok && got != want) {
			t.Errorf("Longest(%q) = %q %v, want %q", name, got, ok, want)
		}
	}
	zones["."] = true
	if got, _, ok := Longest("example.org.", look); !ok || got != "." {
		t.Errorf("Longest with a root zone = %q %v", got, ok)
	}
}
