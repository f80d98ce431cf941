//go:build unix

package redis_test

import (
	"context"
	"strconv"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/bulwark-go/bulwark/redis"
)

// pause stops the server with SIGSTOP and returns the function that
// resumes it; the test's cleanup resumes it too, whatever happens.
func pause(t *testing.T) (resume func()) {
	t.Helper()
	env(t, "BULWARK_REDIS_ADDR")
	pid, err := strconv.Atoi(env(t, "BULWARK_REDIS_PID"))
	if err != nil {
		t.Fatalf("BULWARK_REDIS_PID: %v", err)
	}
	if err := syscall.Kill(pid, syscall.SIGSTOP); err != nil {
		t.Fatalf("kill -STOP %d: %v", pid, err)
	}
	var once sync.Once
	resume = func() {
		once.Do(func() {
			if err := syscall.Kill(pid, syscall.SIGCONT); err != nil {
				t.Errorf("kill -CONT %d: %v", pid, err)
			}
		})
	}
	t.Cleanup(resume)
	return resume
}

// The server is stopped for 2 s: GetOrLoad answers from the loader within
// the Redis timeout the whole time; after it resumes, no instance serves a
// value that was overwritten while its stream was down.
func TestServerPaused(t *testing.T) {
	addr := env(t, "BULWARK_REDIS_ADDR")
	env(t, "BULWARK_REDIS_PID")
	ctx := context.Background()
	const timeout = 100 * time.Millisecond
	cfg := redis.Config[string]{Timeout: timeout, Heartbeat: 100 * time.Millisecond, L1: l1Hour}
	ins := fleet(t, 2, []string{addr}, cfg)
	a := ins[0]
	if err := a.Set(ctx, "k", "v1"); err != nil {
		t.Fatal(err)
	}
	for _, in := range ins { // both hold v1 in L1
		if v, err := in.GetOrLoad(ctx, "k", nil2); err != nil || v != "v1" {
			t.Fatalf("GetOrLoad = %q, %v; want v1", v, err)
		}
	}
	writer := newClient(t, addr)

	resume := pause(t)
	// A write sent while the server is stopped waits in its socket and runs
	// when it resumes, possibly before the instances' streams reopen: its
	// invalidation can be lost, which is what the flush on reopen is for.
	written := make(chan error, 1)
	go func() {
		wctx, cancel := context.WithTimeout(ctx, 30*time.Second)
		defer cancel()
		written <- writer.Do(wctx, writer.B().Set().Key(a.ValueKey("k")).Value("v2").Build()).Error()
	}()
	start := time.Now()
	calls := 0
	for i := 0; time.Since(start) < 2*time.Second; i++ {
		key := "paused-" + itoa(i)
		t0 := time.Now()
		v, err := ins[i%2].GetOrLoad(ctx, key, func(_ context.Context, k string) (string, error) { return "origin " + k, nil })
		took := time.Since(t0)
		if err != nil || v != "origin "+key {
			t.Fatalf("GetOrLoad(%q) during the pause = %q, %v", key, v, err)
		}
		// One Redis phase before the loader (and none after it, as no
		// lock was taken): Timeout, plus slack for -race on a loaded machine,
		// still well under the 2 s the server is stopped.
		if took > timeout+time.Second {
			t.Fatalf("GetOrLoad(%q) during the pause took %v, want about the %v Redis timeout at most", key, took, timeout)
		}
		calls++
		time.Sleep(10 * time.Millisecond) // spreads the calls over the pause
	}
	for _, in := range ins {
		if s := in.Stats(); s.LocalLoads == 0 || s.RedisErrors == 0 && s.Flushes < 2 {
			t.Errorf("stats during the pause %+v: want local loads and a Redis error or stream flush", s)
		}
	}
	resume()
	if err := <-written; err != nil {
		t.Fatalf("SET during the pause: %v", err)
	}
	for _, in := range ins {
		// Once its stream is back up, the instance has emptied L1.
		waitUp(t, in)
		if v, err := in.GetOrLoad(ctx, "k", nil2); err != nil || v != "v2" {
			t.Fatalf("after the pause GetOrLoad = %q, %v; want v2, not the value overwritten meanwhile", v, err)
		}
	}
	t.Logf("%d calls answered during the 2s pause", calls)
}

// waitUp waits for the instance's latest stream to be up.
func waitUp(t *testing.T, in *instance) {
	t.Helper()
	deadline := time.After(20 * time.Second)
	up := false
	for {
		select {
		case ev := <-in.events:
			switch ev.Kind {
			case redis.EventStreamUp:
				up = true
			case redis.EventStreamDown:
				up = false
			}
			continue
		case <-deadline:
			t.Fatal("the invalidation stream did not come back within 20s")
		default:
		}
		if up {
			return
		}
		time.Sleep(10 * time.Millisecond)
	}
}

func nil2(context.Context, string) (string, error) { return "", errLoaderCalled }
