package main

import (
	"bytes"
	"encoding/json"
	"strings"
	"testing"
)

// TestRun serves and fetches /debug/vars and checks the printed report. It
// passes however often it runs in one process (-count=3): expvar names are
// global, and a second run replaces the funcs of the first.
func TestRun(t *testing.T) {
	var out bytes.Buffer
	if err := run(&out); err != nil {
		t.Fatalf("run = %v, want nil", err)
	}
	for _, want := range []string{`"breaker_inventory"`, `"bulkhead"`, `"cache"`, `"picker"`} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("report lacks %s:\n%s", want, out.String())
		}
	}
}

func TestCheckRejectsWrongCounts(t *testing.T) {
	good := map[string]any{
		"breaker_inventory": map[string]any{"Successes": 7, "Failures": 3},
		"bulkhead":          map[string]any{"Admitted": 10},
		"cache":             map[string]any{"Hits": 6, "Misses": 4},
		"picker":            map[string]any{"Nodes": []any{map[string]any{"Picks": 12}}},
	}
	raw, err := json.Marshal(good)
	if err != nil {
		t.Fatal(err)
	}
	if err := check(raw); err != nil {
		t.Fatalf("check(good) = %v, want nil", err)
	}
	good["cache"] = map[string]any{"Hits": 5, "Misses": 5}
	raw, _ = json.Marshal(good)
	if err := check(raw); err == nil || !strings.Contains(err.Error(), "cache") {
		t.Fatalf("check(wrong cache counts) = %v, want an error naming the cache", err)
	}
}
