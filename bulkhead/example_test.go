package bulkhead_test

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"time"

	"golang.org/x/time/rate"

	"github.com/bulwark-go/bulwark"
	"github.com/bulwark-go/bulwark/bulkhead"
)

func ExampleBulkhead_Do() {
	bh, err := bulkhead.New(bulkhead.Config{MaxConcurrent: 2})
	if err != nil {
		panic(err)
	}
	err = bh.Do(context.Background(), func(ctx context.Context) error {
		fmt.Println("running with a slot; in flight:", bh.Stats().InFlight)
		return nil
	})
	fmt.Println("err:", err, "in flight after:", bh.Stats().InFlight)
	// Output:
	// running with a slot; in flight: 1
	// err: <nil> in flight after: 0
}

func ExampleBulkhead_Acquire() {
	bh, _ := bulkhead.New(bulkhead.Config{MaxConcurrent: 1})
	ctx := context.Background()
	p, err := bh.Acquire(ctx)
	if err != nil {
		panic(err)
	}
	// The only slot is taken and MaxWaiting is 0: the next caller is shed.
	_, err = bh.Acquire(ctx)
	fmt.Println(errors.Is(err, bulkhead.ErrFull), errors.Is(err, bulkhead.ErrRejected), errors.Is(err, bulwark.ErrNotAttempted))
	p.Done(nil)
	p.Done(nil) // idempotent: the slot is given back once
	fmt.Println("available:", bh.Stats().Available)
	// Output:
	// true true true
	// available: 1
}

func ExampleBulkhead_TryAcquire() {
	bh, _ := bulkhead.New(bulkhead.Config{MaxConcurrent: 1})
	p, ok := bh.TryAcquire()
	fmt.Println("first:", ok)
	_, ok = bh.TryAcquire()
	fmt.Println("second:", ok)
	p.Done(nil)
	// Output:
	// first: true
	// second: false
}

func ExampleBulkhead_SetLimit() {
	bh, _ := bulkhead.New(bulkhead.Config{MaxConcurrent: 2})
	a, _ := bh.TryAcquire()
	b, _ := bh.TryAcquire()
	// Shrink to one slot while two calls run: they finish normally, and a
	// new call gets in only once fewer than one are in flight.
	if err := bh.SetLimit(1); err != nil {
		panic(err)
	}
	_, ok := bh.TryAcquire()
	fmt.Println(bh.Stats().InFlight, "in flight, limit", bh.Limit(), "admits:", ok)
	a.Done(nil)
	b.Done(nil)
	c, ok := bh.TryAcquire()
	fmt.Println("after both finished, admits:", ok)
	c.Done(nil)
	fmt.Println(bh.SetLimit(0))
	// Output:
	// 2 in flight, limit 1 admits: false
	// after both finished, admits: true
	// bulkhead: SetLimit(0) outside [1, 4194303]
}

// A rate limit in front of the slots, in the short form (Rate, Burst) or
// with any RateLimiter such as a *rate.Limiter. A refused call says when the
// next token comes.
func ExampleConfig_rateLimiter() {
	bh, err := bulkhead.New(bulkhead.Config{
		MaxConcurrent: 8,
		RateLimiter:   rate.NewLimiter(rate.Every(time.Hour), 1),
	})
	if err != nil {
		panic(err)
	}
	ctx := context.Background()
	p, _ := bh.Acquire(ctx) // the one token of the burst
	p.Done(nil)
	_, err = bh.Acquire(ctx)
	at, ok := bulwark.RetryAt(err)
	fmt.Println(errors.Is(err, bulkhead.ErrRateLimited), ok, time.Until(at).Round(time.Minute))
	// Output: true true 1h0m0s
}

func ExampleCall() {
	bh, _ := bulkhead.New(bulkhead.Config{MaxConcurrent: 4})
	n, err := bulkhead.Call(context.Background(), bh, func(ctx context.Context) (int, error) {
		return 42, nil
	})
	fmt.Println(n, err)
	// Output: 42 <nil>
}

func ExampleNewHandler() {
	bh, _ := bulkhead.New(bulkhead.Config{MaxConcurrent: 1})
	h, err := bulkhead.NewHandler(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		io.WriteString(w, "hello\n")
	}), bh)
	if err != nil {
		panic(err)
	}
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/", nil))
	fmt.Print(rec.Code, " ", rec.Body.String())

	p, _ := bh.TryAcquire() // someone else holds the only slot
	rec = httptest.NewRecorder()
	h.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/", nil))
	fmt.Print(rec.Code, " Retry-After: ", rec.Header().Get("Retry-After"), "\n")
	p.Done(nil)
	// Output:
	// 200 hello
	// 503 Retry-After: 1
}

func ExampleNewAdaptive() {
	lim, err := bulkhead.NewAdaptive(bulkhead.AdaptiveConfig{
		Algorithm:    bulkhead.Gradient2,
		InitialLimit: 10,
		MaxLimit:     100,
	})
	if err != nil {
		panic(err)
	}
	p, err := lim.Acquire(context.Background())
	if err != nil {
		return // shed: over the current limit
	}
	// ... call the service ...
	p.Done(nil) // or p.Dropped() when the service signalled overload
	fmt.Println("limit:", lim.Limit(), "in flight:", lim.Stats().InFlight)
	// Output: limit: 10 in flight: 0
}

func ExampleNewTransport() {
	backend := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		io.WriteString(w, "pong")
	}))
	defer backend.Close()

	bh, _ := bulkhead.New(bulkhead.Config{MaxConcurrent: 1})
	tr, err := bulkhead.NewTransport(backend.Client().Transport, bh)
	if err != nil {
		panic(err)
	}
	client := &http.Client{Transport: tr}

	resp, err := client.Get(backend.URL)
	if err != nil {
		panic(err)
	}
	// The response holds the only slot until its body ends.
	_, err = client.Get(backend.URL)
	fmt.Println("second request while the first body is open:", errors.Is(err, bulkhead.ErrFull))
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	fmt.Println(string(body), "available:", bh.Stats().Available)
	// Output:
	// second request while the first body is open: true
	// pong available: 1
}

func ExampleEvent() {
	bh, _ := bulkhead.New(bulkhead.Config{
		Name:          "workers",
		MaxConcurrent: 1,
		Observer: func(e bulkhead.Event) {
			switch e.Kind {
			case bulkhead.EventRejected:
				fmt.Printf("%s: rejected (%s)\n", e.Name, e.Reason)
			case bulkhead.EventLimitChanged:
				fmt.Printf("%s: limit %d → %d\n", e.Name, e.OldLimit, e.NewLimit)
			}
		},
	})
	p, _ := bh.TryAcquire()
	_, ok := bh.TryAcquire() // the one slot is taken
	fmt.Println("admitted:", ok)
	_ = bh.SetLimit(4)
	p.Done(nil)
	// Output:
	// workers: rejected (full)
	// admitted: false
	// workers: limit 1 → 4
}
