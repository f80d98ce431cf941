package bulkhead_test

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"

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
	if err := bh.Acquire(ctx); err != nil {
		panic(err)
	}
	// The only slot is taken and MaxWaiting is 0: the next caller is shed.
	err := bh.Acquire(ctx)
	fmt.Println(errors.Is(err, bulkhead.ErrRejected), errors.Is(err, bulkhead.ErrFull))
	bh.Release()
	fmt.Println(bh.TryAcquire())
	bh.Release()
	// Output:
	// true true
	// true
}

func ExampleCall() {
	bh, _ := bulkhead.New(bulkhead.Config{MaxConcurrent: 4})
	n, err := bulkhead.Call(context.Background(), bh, func(ctx context.Context) (int, error) {
		return 42, nil
	})
	fmt.Println(n, err)
	// Output: 42 <nil>
}

func ExampleHandler() {
	bh, _ := bulkhead.New(bulkhead.Config{MaxConcurrent: 1})
	h := bulkhead.Handler(bh, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		io.WriteString(w, "hello\n")
	}))
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/", nil))
	fmt.Print(rec.Code, " ", rec.Body.String())

	bh.TryAcquire() // someone else holds the only slot
	rec = httptest.NewRecorder()
	h.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/", nil))
	fmt.Print(rec.Code, " Retry-After: ", rec.Header().Get("Retry-After"), "\n")
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
	fmt.Println("limit:", lim.Limit())
	// Output: limit: 10
}

func ExampleNewTransport() {
	bh, _ := bulkhead.New(bulkhead.Config{MaxConcurrent: 8})
	client := &http.Client{Transport: bulkhead.NewTransport(nil, bh)}
	_ = client // at most 8 requests of this client in flight; the 9th fails fast
	fmt.Println("ok")
	// Output: ok
}
