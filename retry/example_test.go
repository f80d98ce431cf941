package retry_test

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"time"

	"github.com/bulwark-go/bulwark/retry"
)

func ExampleRetrier_Do() {
	r, err := retry.New(retry.Config{
		MaxAttempts: 4,
		Backoff:     retry.Exponential{Base: time.Millisecond, Max: 10 * time.Millisecond},
		Observer: func(e retry.Event) {
			if e.Kind == retry.EventRetry {
				fmt.Printf("attempt %d failed: %v\n", e.Attempt, e.Err)
			}
		},
	})
	if err != nil {
		panic(err)
	}
	calls := 0
	err = r.Do(context.Background(), func(ctx context.Context) error {
		calls++
		if calls < 3 {
			return errors.New("connection refused")
		}
		return nil
	})
	fmt.Println("err:", err, "stats:", r.Stats().Retries, "retries")
	// Output:
	// attempt 1 failed: connection refused
	// attempt 2 failed: connection refused
	// err: <nil> stats: 2 retries
}

func ExampleRetrier_Do_exhausted() {
	r, _ := retry.New(retry.Config{MaxAttempts: 2, Backoff: retry.Constant(time.Millisecond)})
	errDown := errors.New("service down")
	err := r.Do(context.Background(), func(ctx context.Context) error { return errDown })
	fmt.Println(errors.Is(err, retry.ErrExhausted), errors.Is(err, errDown))
	// Output: true true
}

func ExamplePermanent() {
	r, _ := retry.New(retry.Config{})
	errBadRequest := errors.New("400 bad request")
	calls := 0
	err := r.Do(context.Background(), func(ctx context.Context) error {
		calls++
		return retry.Permanent(errBadRequest)
	})
	fmt.Println(calls, err == errBadRequest)
	// Output: 1 true
}

func ExampleCall() {
	r, _ := retry.New(retry.Config{Backoff: retry.Constant(time.Millisecond)})
	calls := 0
	user, err := retry.Call(context.Background(), r, func(ctx context.Context) (string, error) {
		calls++
		if calls == 1 {
			return "", errors.New("timeout")
		}
		return "gopher", nil
	})
	fmt.Println(user, err, calls)
	// Output: gopher <nil> 2
}

func ExampleNewTokenBudget() {
	// One budget per dependency, shared by every Retrier that calls it.
	budget, err := retry.NewTokenBudget(retry.TokenBudgetConfig{MaxTokens: 10, TokenRatio: 0.1})
	if err != nil {
		panic(err)
	}
	r, _ := retry.New(retry.Config{MaxAttempts: 3, Budget: budget, Backoff: retry.Constant(0)})
	for range 3 {
		err := r.Do(context.Background(), func(ctx context.Context) error { return errors.New("down") })
		fmt.Printf("exhausted=%v budget=%v tokens=%.0f\n",
			errors.Is(err, retry.ErrExhausted), errors.Is(err, retry.ErrBudget), budget.Tokens())
	}
	// Output:
	// exhausted=true budget=false tokens=7
	// exhausted=false budget=true tokens=5
	// exhausted=false budget=true tokens=4
}

func ExampleHedge() {
	// The first attempt hangs; the hedge started 10 ms later answers, and
	// the first attempt's context is cancelled.
	var n atomic.Int32
	v, err := retry.Hedge(context.Background(), retry.HedgeConfig{Delay: 10 * time.Millisecond, MaxHedges: 1},
		func(ctx context.Context) (string, error) {
			if n.Add(1) == 1 {
				<-ctx.Done()
				return "", ctx.Err()
			}
			return "from the hedge", nil
		})
	fmt.Println(v, err)
	// Output: from the hedge <nil>
}

func ExampleNewTransport() {
	var hits atomic.Int32
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		if hits.Add(1) < 3 {
			w.Header().Set("Retry-After", "1") // capped at the Backoff's Max
			w.WriteHeader(http.StatusServiceUnavailable)
			return
		}
		io.WriteString(w, "ok")
	}))
	defer srv.Close()

	r, _ := retry.New(retry.Config{
		MaxAttempts: 3,
		Backoff:     retry.Exponential{Base: time.Millisecond, Max: 5 * time.Millisecond},
	})
	rt, err := retry.NewTransport(http.DefaultTransport, r)
	if err != nil {
		panic(err)
	}
	client := &http.Client{Transport: rt}
	resp, err := client.Get(srv.URL)
	if err != nil {
		panic(err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	fmt.Println(resp.StatusCode, string(body), "after", hits.Load(), "requests")
	// Output: 200 ok after 3 requests
}

func ExampleAfter() {
	// A server asked for 20 ms ("Retry-After"), more than the 1 ms backoff:
	// the hint wins. A hint of an hour is capped at the Backoff's Max.
	r, _ := retry.New(retry.Config{
		MaxAttempts: 3,
		Backoff:     retry.Exponential{Base: time.Millisecond, Max: 50 * time.Millisecond, Jitter: retry.NoJitter},
		Observer: func(e retry.Event) {
			if e.Kind == retry.EventRetry {
				fmt.Println("waiting", e.Delay)
			}
		},
	})
	hints := []time.Duration{20 * time.Millisecond, time.Hour}
	calls := 0
	err := r.Do(context.Background(), func(ctx context.Context) error {
		if calls++; calls <= len(hints) {
			return retry.After(errors.New("429 too many requests"), hints[calls-1])
		}
		return nil
	})
	fmt.Println("err:", err)
	// Output:
	// waiting 20ms
	// waiting 50ms
	// err: <nil>
}

// roundTripFunc adapts a function to http.RoundTripper, standing in for the
// network in the examples below.
type roundTripFunc func(*http.Request) (*http.Response, error)

func (f roundTripFunc) RoundTrip(req *http.Request) (*http.Response, error) { return f(req) }

func ExampleWithAttemptTimeout() {
	// The first attempt hangs; its own 20 ms deadline ends it, and the retry
	// answers.
	var calls atomic.Int32
	network := roundTripFunc(func(req *http.Request) (*http.Response, error) {
		if calls.Add(1) == 1 {
			<-req.Context().Done()
			return nil, req.Context().Err()
		}
		return &http.Response{StatusCode: 200, Body: io.NopCloser(strings.NewReader("ok")), Request: req}, nil
	})
	r, _ := retry.New(retry.Config{
		Backoff: retry.Constant(time.Millisecond),
		Observer: func(e retry.Event) {
			if e.Kind == retry.EventRetry {
				fmt.Println("attempt", e.Attempt, "timed out:", errors.Is(e.Err, retry.ErrAttemptTimeout))
			}
		},
	})
	rt, err := retry.NewTransport(network, r, retry.WithAttemptTimeout(20*time.Millisecond))
	if err != nil {
		panic(err)
	}
	resp, err := (&http.Client{Transport: rt}).Get("http://backend.example/")
	if err != nil {
		panic(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	fmt.Println(resp.StatusCode, string(body), "after", calls.Load(), "attempts")
	// Output:
	// attempt 1 timed out: true
	// 200 ok after 2 attempts
}

func ExampleNewHedgeTransport() {
	// The first attempt hangs; 10 ms later a hedge is sent and answers. The
	// first attempt is cancelled, and RoundTrip waits for it to return.
	var calls atomic.Int32
	var firstCancelled atomic.Bool
	network := roundTripFunc(func(req *http.Request) (*http.Response, error) {
		n := calls.Add(1)
		if n == 1 {
			<-req.Context().Done()
			firstCancelled.Store(true)
			return nil, req.Context().Err()
		}
		body := fmt.Sprintf("from attempt %d", n)
		return &http.Response{StatusCode: 200, Body: io.NopCloser(strings.NewReader(body)), Request: req}, nil
	})
	rt, err := retry.NewHedgeTransport(network, retry.HedgeConfig{Delay: 10 * time.Millisecond, MaxHedges: 1})
	if err != nil {
		panic(err)
	}
	resp, err := (&http.Client{Transport: rt}).Get("http://backend.example/")
	if err != nil {
		panic(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	fmt.Println(resp.StatusCode, string(body))
	fmt.Println("first attempt cancelled:", firstCancelled.Load())
	// Output:
	// 200 from attempt 2
	// first attempt cancelled: true
}

func ExampleHedgeDiscard() {
	// Each attempt opens a resource. The first attempt is slow: it gets its
	// connection only after the hedge has won, and HedgeDiscard hands that
	// losing connection to discard instead of dropping it.
	type conn struct{ id int }
	var n atomic.Int32
	open := func(ctx context.Context) (*conn, error) {
		id := int(n.Add(1))
		if id == 1 {
			<-ctx.Done() // lost; the dial completes anyway
		}
		return &conn{id: id}, nil
	}
	c, err := retry.HedgeDiscard(context.Background(), retry.HedgeConfig{Delay: 10 * time.Millisecond}, open,
		func(c *conn) {
			if c != nil {
				fmt.Println("closing losing conn", c.id)
			}
		})
	fmt.Println("using conn", c.id, err)
	// Output:
	// closing losing conn 1
	// using conn 2 <nil>
}

func ExampleEvent() {
	r, _ := retry.New(retry.Config{
		Name:    "inventory",
		Backoff: retry.Constant(time.Millisecond),
		Observer: func(e retry.Event) {
			switch e.Kind {
			case retry.EventRetry:
				fmt.Printf("%s: attempt %d failed (%v), retrying in %v\n", e.Name, e.Attempt, e.Err, e.Delay)
			case retry.EventSuccess, retry.EventFailure:
				fmt.Printf("%s: %s after %d attempt(s)\n", e.Name, e.Kind, e.Attempt)
			}
		},
	})
	calls := 0
	_ = r.Do(context.Background(), func(context.Context) error {
		if calls++; calls < 3 {
			return errors.New("503")
		}
		return nil
	})
	// Output:
	// inventory: attempt 1 failed (503), retrying in 1ms
	// inventory: attempt 2 failed (503), retrying in 1ms
	// inventory: success after 3 attempt(s)
}
