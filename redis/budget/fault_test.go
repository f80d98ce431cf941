//go:build unix

package budget_test

import (
	"testing"
	"time"

	"github.com/bulwark-go/bulwark/redis/budget"
	"github.com/bulwark-go/bulwark/redis/internal/redistest"
	"github.com/bulwark-go/bulwark/redis/script"
	"github.com/bulwark-go/bulwark/retry"
)

// The server (one of the test's own) is stopped: AllowRetry answers within
// the timeout from the local budget, reports it, and goes back to the fleet
// once the server answers again.
func TestServerPaused(t *testing.T) {
	srv := redistest.Start(t)
	const timeout = 100 * time.Millisecond
	evs := make(chan budget.Event, 16)
	local, err := retry.NewTokenBudget(retry.TokenBudgetConfig{MaxTokens: 4})
	if err != nil {
		t.Fatal(err)
	}
	b := mustNew(t, script.Rueidis(redistest.Client(t, srv.Addr)), budget.Config{
		Prefix: redistest.Prefix(t), Name: "dep", MinPerSecond: 100, Batch: 1, Timeout: timeout, Flush: 50 * time.Millisecond,
		Local: local, OnEvent: func(e budget.Event) { evs <- e },
	})
	if !b.AllowRetry() {
		t.Fatal("AllowRetry before the pause = false, want the floor's retry")
	}
	srv.Pause()
	defer srv.Resume()
	// The local TokenBudget (4 tokens, retries while above 2, a failure
	// costs one) allows a retry after one failure, not after two.
	t0 := time.Now()
	got := []bool{}
	for range 3 {
		b.Failure()
		got = append(got, b.AllowRetry())
	}
	if took := time.Since(t0); took > 3*timeout+300*time.Millisecond {
		t.Fatalf("three AllowRetry during the pause took %v, want each within about the %v timeout", took, timeout)
	}
	if want := []bool{true, false, false}; !equal(got, want) {
		t.Fatalf("AllowRetry during the pause = %v, want the local budget's %v", got, want)
	}
	if e := <-evs; e.Kind != budget.EventUnavailable || e.Err == nil {
		t.Fatalf("event %+v, want EventUnavailable with its cause", e)
	}
	if s := b.Stats(); s.Local != 3 {
		t.Fatalf("stats %+v: want 3 local decisions", s)
	}
	srv.Resume()
	select {
	case e := <-evs:
		if e.Kind != budget.EventRecovered {
			t.Fatalf("event %+v, want EventRecovered", e)
		}
	case <-time.After(20 * time.Second):
		t.Fatal("no EventRecovered within 20s of the resume")
	}
	before := b.Stats().Local
	if !b.AllowRetry() || b.Stats().Local != before {
		t.Fatal("after the resume, AllowRetry should be the fleet's again and allow (floor 100/s)")
	}
}

func equal(a, b []bool) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}
