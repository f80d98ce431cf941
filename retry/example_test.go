package retry_test

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"sync/atomic"
	"time"

	"github.com/bulwark-go/bulwark/retry"
)

func ExampleRetrier_Do() {
	r, err := retry.New(retry.Config{
		MaxAttempts: 4,
		Backoff:     retry.Exponential{Base: time.Millisecond, Max: 10 * time.Millisecond},
		OnRetry: func(a retry.Attempt) {
			fmt.Printf("attempt %d failed: %v\n", a.Number, a.Err)
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

func ExampleNewBudget() {
	// One Budget per dependency, shared by every Retrier that calls it.
	budget, err := retry.NewBudget(retry.BudgetConfig{MaxTokens: 10, TokenRatio: 0.1})
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
	client := &http.Client{Transport: retry.NewTransport(http.DefaultTransport, r)}
	resp, err := client.Get(srv.URL)
	if err != nil {
		panic(err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	fmt.Println(resp.StatusCode, string(body), "after", hits.Load(), "requests")
	// Output: 200 ok after 3 requests
}
