package breaker_test

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"time"

	"github.com/bulwark-go/bulwark/breaker"
)

func ExampleBreaker_Do() {
	b, err := breaker.New(breaker.Config{Name: "db", WindowSize: 10, MinCalls: 4, OpenFor: time.Minute})
	if err != nil {
		panic(err)
	}
	query := func(context.Context) error { return errors.New("connection refused") }
	for i := range 6 {
		err := b.Do(context.Background(), query)
		fmt.Printf("call %d: open=%v err=%v\n", i, errors.Is(err, breaker.ErrOpen), err != nil)
	}
	fmt.Println(b.State(), b.Stats().Trips)
	// Output:
	// call 0: open=false err=true
	// call 1: open=false err=true
	// call 2: open=false err=true
	// call 3: open=false err=true
	// call 4: open=true err=true
	// call 5: open=true err=true
	// open 1
}

func ExampleBreaker_Allow() {
	b, err := breaker.New(breaker.Config{Name: "queue"})
	if err != nil {
		panic(err)
	}
	// The two-step form, for code that cannot be wrapped in a closure.
	p, err := b.Allow()
	if err != nil {
		fmt.Println("rejected:", err)
		return
	}
	sendErr := error(nil) // ... send a message ...
	p.Done(sendErr)
	fmt.Println(b.Stats().Successes)
	// Output: 1
}

func ExampleCall() {
	b, _ := breaker.New(breaker.Config{})
	n, err := breaker.Call(context.Background(), b, func(context.Context) (int, error) { return 42, nil })
	fmt.Println(n, err)
	// Output: 42 <nil>
}

func ExampleGroup() {
	g, err := breaker.NewGroup(breaker.Config{WindowSize: 2, MinCalls: 2}, breaker.GroupConfig{MaxKeys: 100})
	if err != nil {
		panic(err)
	}
	fail := func(context.Context) error { return errors.New("503") }
	for range 2 {
		_ = g.Get("tenant-a").Do(context.Background(), fail)
	}
	fmt.Println("tenant-a:", g.Get("tenant-a").State())
	fmt.Println("tenant-b:", g.Get("tenant-b").State())
	// Output:
	// tenant-a: open
	// tenant-b: closed
}

func ExampleNewTransport() {
	var hits int
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		hits++
		w.WriteHeader(http.StatusBadGateway)
	}))
	defer srv.Close()

	g, _ := breaker.NewGroup(breaker.Config{WindowSize: 3, MinCalls: 3}, breaker.GroupConfig{})
	client := &http.Client{Transport: breaker.NewTransport(http.DefaultTransport, g)}
	for range 5 {
		resp, err := client.Get(srv.URL)
		if err != nil {
			fmt.Println("short-circuited:", errors.Is(err, breaker.ErrOpen))
			continue
		}
		io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		fmt.Println("status:", resp.StatusCode)
	}
	fmt.Println("server hits:", hits)
	// Output:
	// status: 502
	// status: 502
	// status: 502
	// short-circuited: true
	// short-circuited: true
	// server hits: 3
}

func ExampleNewThrottle() {
	th, err := breaker.NewThrottle(breaker.ThrottleConfig{K: 2, Window: 2 * time.Minute})
	if err != nil {
		panic(err)
	}
	err = th.Do(context.Background(), func(context.Context) error { return nil })
	fmt.Println(err, th.Stats().RejectProbability)
	// Output: <nil> 0
}
