//go:build unix

package breakershare_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/bulwark-go/bulwark/breaker"
	"github.com/bulwark-go/bulwark/redis/breakershare"
	"github.com/bulwark-go/bulwark/redis/internal/redistest"
)

// The server (one of the test's own) is stopped: calls never wait on it —
// Closed and Open calls make no Redis call at all, a HalfOpen probe waits
// at most the timeout for the lease and then probes locally — and the
// instance reports it.
func TestServerPaused(t *testing.T) {
	srv := redistest.Start(t)
	const timeout = 100 * time.Millisecond
	ins := newFleet(t, []string{srv.Addr}, 1, breakershare.Config{Timeout: timeout, Heartbeat: 50 * time.Millisecond,
		Breaker: breaker.Config{ConsecutiveFailures: 2, OpenFor: 50 * time.Millisecond}})
	a := ins[0]
	srv.Pause()
	defer srv.Resume()
	ctx := context.Background()
	t0 := time.Now()
	for range 100 {
		if err := a.Do(ctx, func(context.Context) error { return nil }); err != nil {
			t.Fatalf("Closed Do during the pause = %v", err)
		}
	}
	if took := time.Since(t0); took > timeout {
		t.Fatalf("100 Closed calls took %v during the pause: they must not touch Redis", took)
	}
	for range 2 {
		_ = a.Do(ctx, func(context.Context) error { return errDown })
	}
	if err := a.Do(ctx, func(context.Context) error { return nil }); !errors.Is(err, breaker.ErrOpen) {
		t.Fatalf("Do after 2 failures = %v, want ErrOpen", err)
	}
	waitFor(t, "HalfOpen", func() bool { return a.State() == breaker.HalfOpen })
	t1 := time.Now()
	if err := a.Do(ctx, func(context.Context) error { return nil }); err != nil {
		t.Fatalf("HalfOpen probe during the pause = %v, want a local probe", err)
	}
	if took := time.Since(t1); took > timeout+300*time.Millisecond {
		t.Fatalf("the probe took %v, want at most about the %v timeout", took, timeout)
	}
	if a.State() != breaker.Closed {
		t.Fatalf("%v after a successful local probe, want Closed", a.State())
	}
	sawDown := false
	for len(a.events) > 0 {
		if e := <-a.events; e.Kind == breakershare.EventUnavailable && e.Err != nil {
			sawDown = true
		}
	}
	if !sawDown {
		t.Fatal("no EventUnavailable during the pause")
	}
	srv.Resume()
	waitFor(t, "EventRecovered", func() bool {
		for len(a.events) > 0 {
			if e := <-a.events; e.Kind == breakershare.EventRecovered {
				return true
			}
		}
		return false
	})
}
