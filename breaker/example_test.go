package breaker_test

import (
	"context"
	"errors"
	"expvar"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"time"

	"github.com/bulwark-go/bulwark"
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

	g, err := breaker.NewGroup(breaker.Config{WindowSize: 3, MinCalls: 3}, breaker.GroupConfig{})
	if err != nil {
		panic(err)
	}
	rt, err := breaker.NewTransport(http.DefaultTransport, g)
	if err != nil {
		panic(err)
	}
	client := &http.Client{Transport: rt}
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

// A throttle in front of a backend that refuses everything: the share of
// calls it rejects locally grows with the refusals, yet never reaches 1, so
// the backend keeps seeing a trickle of requests that tell when it is back.
func ExampleNewThrottle() {
	th, err := breaker.NewThrottle(breaker.ThrottleConfig{K: 2, Window: 2 * time.Minute})
	if err != nil {
		panic(err)
	}
	overloaded := func(context.Context) error { return errors.New("503") }
	for _, calls := range []int{2, 8, 90} {
		for range calls {
			_ = th.Do(context.Background(), overloaded) // rejected locally or refused
		}
		s := th.Stats()
		fmt.Printf("%d requests, %d accepted: reject probability %.2f\n", s.Requests, s.Accepts, s.RejectProbability)
	}
	// Output:
	// 2 requests, 0 accepted: reject probability 0.67
	// 10 requests, 0 accepted: reject probability 0.91
	// 100 requests, 0 accepted: reject probability 0.99
}

// Tripping after failures in a row, gobreaker's default rule: the window's
// failure rate plays no part.
func ExampleConfig_consecutiveFailures() {
	b, err := breaker.New(breaker.Config{Name: "payments", ConsecutiveFailures: 3})
	if err != nil {
		panic(err)
	}
	outcomes := []error{errors.New("timeout"), errors.New("timeout"), nil, // a success ends the run
		errors.New("timeout"), errors.New("timeout"), errors.New("timeout")}
	for _, outcome := range outcomes {
		_ = b.Do(context.Background(), func(context.Context) error { return outcome })
		fmt.Println(b.State(), b.Stats().ConsecutiveFailures)
	}
	// Output:
	// closed 1
	// closed 2
	// closed 0
	// closed 1
	// closed 2
	// open 0
}

// A trip rule of one's own over the window's counts: here, at least five
// failures among the last 20 calls, however many calls that is.
func ExampleConfig_shouldTrip() {
	b, err := breaker.New(breaker.Config{
		WindowSize: 20,
		ShouldTrip: func(c breaker.Counts) bool { return c.Failures >= 5 },
	})
	if err != nil {
		panic(err)
	}
	for i := range 12 {
		failed := i%2 == 1 // every other call fails
		_ = b.Do(context.Background(), func(context.Context) error {
			if failed {
				return errors.New("refused")
			}
			return nil
		})
		if b.State() == breaker.Open {
			fmt.Println("open after call", i+1, "with", b.Stats().Failures, "failures")
			break
		}
	}
	// Output: open after call 10 with 5 failures
}

// Enumerating a group's breakers, as an exporter of their Stats does.
func ExampleGroup_All() {
	g, err := breaker.NewGroup(breaker.Config{ConsecutiveFailures: 1}, breaker.GroupConfig{})
	if err != nil {
		panic(err)
	}
	_ = g.Get("b.example:443").Do(context.Background(), func(context.Context) error { return errors.New("reset") })
	_ = g.Get("a.example:443").Do(context.Background(), func(context.Context) error { return nil })
	for host, b := range g.All() {
		s := b.Stats()
		fmt.Println(host, s.State, s.Successes, s.Failures)
	}
	// Output:
	// a.example:443 closed 1 0
	// b.example:443 open 0 1
}

// A rejection tells the layers above that the call never reached the
// dependency, and until when the breaker will refuse: a retry loop need not
// count it as an attempt, and a balancer can pick another backend until then.
func ExampleOpenError_RetryAt() {
	b, err := breaker.New(breaker.Config{Name: "search", OpenFor: 30 * time.Second})
	if err != nil {
		panic(err)
	}
	b.Trip()
	err = b.Do(context.Background(), func(context.Context) error { return nil })
	err = fmt.Errorf("query: %w", err) // wrapping keeps both answers reachable
	at, ok := bulwark.RetryAt(err)
	fmt.Println(errors.Is(err, bulwark.ErrNotAttempted), ok, time.Until(at).Round(time.Second))
	// Output: true true 30s
}

// Publishing Stats through expvar (served at /debug/vars). State marshals
// as its name ("closed", "open", "half-open").
func ExampleBreaker_Stats() {
	b, _ := breaker.New(breaker.Config{Name: "payments"})
	expvar.Publish("breaker.payments", expvar.Func(func() any {
		s := b.Stats()
		return map[string]any{"state": s.State, "trips": s.Trips, "failures": s.Failures, "rejected": s.Rejected}
	}))
	p, _ := b.Allow()
	p.Done(nil)
	fmt.Println(expvar.Get("breaker.payments").String())
	// Output: {"failures":0,"rejected":0,"state":"closed","trips":0}
}

func ExampleEvent() {
	b, _ := breaker.New(breaker.Config{
		Name:                "db",
		ConsecutiveFailures: 2,
		OpenFor:             time.Minute,
		Observer: func(e breaker.Event) {
			switch e.Kind {
			case breaker.EventStateChange:
				fmt.Printf("%s: %s → %s\n", e.Name, e.From, e.To)
			case breaker.EventRejected:
				fmt.Printf("%s: rejected (%s)\n", e.Name, e.Reason)
			default:
				fmt.Printf("%s: %s\n", e.Name, e.Kind)
			}
		},
	})
	fail := func(context.Context) error { return errors.New("connection refused") }
	for range 3 {
		_ = b.Do(context.Background(), fail)
	}
	// Output:
	// db: failure
	// db: failure
	// db: closed → open
	// db: rejected (open)
}
