//go:build unix

package ratelimit_test

import (
	"context"
	"testing"
	"time"

	"github.com/bulwark-go/bulwark/redis/internal/redistest"
	"github.com/bulwark-go/bulwark/redis/ratelimit"
	"github.com/bulwark-go/bulwark/redis/script"
)

// The server (one of the test's own) is stopped with SIGSTOP: fail-open
// admits and fail-closed refuses, each within the timeout, and both report
// it; after SIGCONT the limiter is exact again.
func TestServerPaused(t *testing.T) {
	srv := redistest.Start(t)
	const timeout = 100 * time.Millisecond
	ctx := context.Background()
	for _, policy := range []ratelimit.Policy{ratelimit.FailOpen, ratelimit.FailClosed} {
		t.Run(policy.String(), func(t *testing.T) {
			evs := make(chan ratelimit.Event, 64)
			l := mustNew(t, script.Rueidis(redistest.Client(t, srv.Addr)), ratelimit.Config{
				Prefix: redistest.Prefix(t), Rate: 3, Period: time.Hour, Burst: 3, Timeout: timeout, Unavailable: policy,
				OnEvent: func(e ratelimit.Event) { evs <- e },
			})
			b, err := l.Bucket("b")
			if err != nil {
				t.Fatal(err)
			}
			if res, err := l.Allow(ctx, "k"); err != nil || res.Allowed != 1 || res.Local {
				t.Fatalf("before the pause: %+v, %v", res, err)
			}
			srv.Pause()
			resumed := false
			defer func() {
				if !resumed {
					srv.Resume()
				}
			}()
			wantAllowed := 1
			if policy == ratelimit.FailClosed {
				wantAllowed = 0
			}
			for i := range 20 {
				t0 := time.Now()
				res, err := l.Allow(ctx, "k")
				took := time.Since(t0)
				if err != nil || res.Allowed != wantAllowed || !res.Local {
					t.Fatalf("call %d during the pause: %+v, %v; want Allowed %d decided locally", i, res, err, wantAllowed)
				}
				// The timeout, plus scheduling slack under -race.
				if took > timeout+300*time.Millisecond {
					t.Fatalf("call %d during the pause took %v, want at most about the %v timeout", i, took, timeout)
				}
				if got := b.Allow(); got != (wantAllowed == 1) {
					t.Fatalf("Bucket.Allow during the pause = %v, want %v", got, wantAllowed == 1)
				}
			}
			select {
			case e := <-evs:
				if e.Kind != ratelimit.EventUnavailable || e.Err == nil || e.Policy != policy {
					t.Fatalf("event %+v, want EventUnavailable with its cause and policy %v", e, policy)
				}
			default:
				t.Fatal("no EventUnavailable reported during the pause")
			}
			if s := l.Stats(); s.Unavailable < 40 {
				t.Fatalf("stats %+v: want the 40 calls decided by the policy", s)
			}
			srv.Resume()
			resumed = true
			// Exact again: the first answer from Redis reports the recovery;
			// then a fresh key admits its burst of 3 and refuses the 4th.
			deadline := time.Now().Add(20 * time.Second)
			for {
				res, err := l.AllowN(ctx, "probe", 0)
				if err != nil {
					t.Fatal(err)
				}
				if !res.Local {
					break
				}
				if time.Now().After(deadline) {
					t.Fatal("still deciding locally 20s after the server resumed")
				}
				time.Sleep(10 * time.Millisecond)
			}
			if e := <-evs; e.Kind != ratelimit.EventRecovered {
				t.Fatalf("event after the resume %+v, want EventRecovered", e)
			}
			for i := range 4 {
				res, err := l.Allow(ctx, "fresh")
				if err != nil || res.Local || res.Allowed != map[bool]int{true: 1, false: 0}[i < 3] {
					t.Fatalf("after the resume, call %d: %+v, %v; want the exact burst of 3", i, res, err)
				}
			}
		})
	}
}
