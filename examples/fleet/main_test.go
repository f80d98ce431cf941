package main

import (
	"bytes"
	"strings"
	"testing"
	"time"
)

func TestPercentile(t *testing.T) {
	ms := func(n int) time.Duration { return time.Duration(n) * time.Millisecond }
	sorted := make([]time.Duration, 100)
	for i := range sorted {
		sorted[i] = ms(i + 1)
	}
	tests := []struct {
		name string
		q    float64
		want time.Duration
	}{
		{"p50", 0.50, ms(50)},
		{"p90", 0.90, ms(90)},
		{"p99", 0.99, ms(99)},
		{"p100", 1, ms(100)},
		{"p0 is the minimum", 0, ms(1)},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := percentile(sorted, tt.q); got != tt.want {
				t.Errorf("percentile(1..100ms, %v) = %v, want %v", tt.q, got, tt.want)
			}
		})
	}
	if got := percentile(nil, 0.5); got != 0 {
		t.Errorf("percentile(nil) = %v, want 0", got)
	}
}

func TestVerdict(t *testing.T) {
	plain := summary{requests: 100, succeeded: 75, p99: 300 * time.Millisecond}
	tests := []struct {
		name    string
		bulwark summary
		wantErr string
	}{
		{"wins on both", summary{requests: 100, succeeded: 100, p99: 50 * time.Millisecond}, ""},
		{"same success rate", summary{requests: 100, succeeded: 75, p99: 50 * time.Millisecond}, "success rate"},
		{"slower p99", summary{requests: 100, succeeded: 100, p99: 300 * time.Millisecond}, "p99"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := verdict(plain, tt.bulwark)
			if tt.wantErr == "" {
				if err != nil {
					t.Fatalf("verdict = %v, want nil", err)
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
				t.Fatalf("verdict = %v, want an error about %q", err, tt.wantErr)
			}
		})
	}
}

// TestFleet runs the demo's core on a smaller workload. Its assertions do not
// depend on timing: the plain client's failures are fixed by the round robin
// (every fifth request goes to the dead node) and by the flaky node's seeded
// fault draws, while the bulwark stack's retries, breakers and ejection must
// turn nearly all of them into successes, however fast or slow the machine.
func TestFleet(t *testing.T) {
	f, err := startFleet(1)
	if err != nil {
		t.Fatal(err)
	}
	defer f.close()
	const requests, workers = 500, 8
	plainClient, closePlain := newPlainClient(f, workers)
	defer closePlain()
	plain := summarize(runWorkload(t.Context(), plainClient, requests, workers, 5*time.Second))
	plainHits := f.takeHits()

	s, err := newStack(f.addrs(), workers, f.counting)
	if err != nil {
		t.Fatal(err)
	}
	defer s.close()
	got := summarize(runWorkload(t.Context(), s.client, requests, workers, 5*time.Second))
	hits := f.takeHits()

	if plain.successRate() > 0.80 {
		t.Errorf("plain success rate %.3f, want at most 0.80 (a fifth of requests go to the dead node)", plain.successRate())
	}
	if got.successRate() < 0.99 {
		t.Errorf("bulwark success rate %.3f, want at least 0.99", got.successRate())
	}
	if plainHits["dead"] != requests/5 {
		t.Errorf("plain sent %d requests to the dead node, want %d", plainHits["dead"], requests/5)
	}
	if hits["dead"] >= plainHits["dead"]/4 {
		t.Errorf("bulwark sent %d requests to the dead node, want under a quarter of plain's %d", hits["dead"], plainHits["dead"])
	}
	if s.retries() == 0 {
		t.Error("bulwark spent no retries, want some (the dead node fails before it is ejected)")
	}
}

func TestRunRejectsBadFlags(t *testing.T) {
	var out bytes.Buffer
	if err := run(&out, 0, 4, 1); err == nil {
		t.Fatal("run with -requests 0 = nil error, want an error")
	}
}
