package chaos_test

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"time"

	"github.com/bulwark-go/bulwark/chaos"
)

// A client whose requests to one path fail with 503 and Retry-After.
func ExampleNewTransport() {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		fmt.Fprint(w, "ok")
	}))
	defer srv.Close()

	flaky, err := chaos.New(chaos.Config{
		Fault:  chaos.Status(http.StatusServiceUnavailable, time.Second),
		Target: chaos.Path("/orders"),
	})
	if err != nil {
		panic(err)
	}
	rt, err := chaos.NewTransport(http.DefaultTransport, flaky)
	if err != nil {
		panic(err)
	}
	client := &http.Client{Transport: rt}

	for _, path := range []string{"/orders", "/health"} {
		resp, err := client.Get(srv.URL + path)
		if err != nil {
			panic(err)
		}
		resp.Body.Close()
		fmt.Println(path, resp.StatusCode, resp.Header.Get("Retry-After"))
	}
	// Output:
	// /orders 503 1
	// /health 200
}

// A backend that cuts its responses short: the client reads the first
// bytes, then io.ErrUnexpectedEOF, as when a connection drops mid-body.
func ExampleNewHandler() {
	plain := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		fmt.Fprint(w, "hello, world")
	})
	cut, err := chaos.New(chaos.Config{Fault: chaos.Truncate(5)})
	if err != nil {
		panic(err)
	}
	h, err := chaos.NewHandler(plain, cut)
	if err != nil {
		panic(err)
	}
	srv := httptest.NewServer(h)
	defer srv.Close()

	resp, err := http.Get(srv.URL)
	if err != nil {
		panic(err)
	}
	body, err := io.ReadAll(resp.Body)
	resp.Body.Close()
	fmt.Printf("%q %v\n", body, err)
	// Output:
	// "hello" unexpected EOF
}

// A seeded injector strikes the same calls on every run, so a test can
// assert what its code does on exactly those calls.
func ExampleInjector_Do() {
	errDown := errors.New("dependency down")
	in, err := chaos.New(chaos.Config{Fault: chaos.Error(errDown), Rate: 0.3, Seed: 1})
	if err != nil {
		panic(err)
	}
	for range 20 {
		err := in.Do(context.Background(), func(context.Context) error { return nil })
		if errors.Is(err, errDown) {
			fmt.Print("x")
		} else {
			fmt.Print(".")
		}
	}
	st := in.Stats()
	fmt.Printf("\n%d of %d struck\n", st.Injected, st.Eligible)
	// Output:
	// ...xx..x.xx..xx....x
	// 8 of 20 struck
}

// The switch: an injector compiled into a service, off until a game day
// turns it on.
func ExampleInjector_Enable() {
	errChaos := errors.New("game day")
	in, err := chaos.New(chaos.Config{Fault: chaos.Error(errChaos), Disabled: true})
	if err != nil {
		panic(err)
	}
	call := func() error { return in.Do(context.Background(), func(context.Context) error { return nil }) }

	fmt.Println(call())
	in.Enable()
	fmt.Println(call())
	in.Disable()
	fmt.Println(call())
	// Output:
	// <nil>
	// chaos: injected: game day
	// <nil>
}

// Call wraps a function that returns a value; here one call in ten loses
// its result after the work was done.
func ExampleCall() {
	lost, err := chaos.New(chaos.Config{Fault: chaos.Truncate(0), Rate: 0.1, Seed: 4})
	if err != nil {
		panic(err)
	}
	saved, failed := 0, 0
	for range 100 {
		_, err := chaos.Call(context.Background(), lost, func(context.Context) (string, error) {
			saved++ // the side effect happens either way
			return "receipt", nil
		})
		if err != nil {
			failed++
		}
	}
	fmt.Println(saved, "saved,", failed, "callers saw an error")
	// Output:
	// 100 saved, 6 callers saw an error
}
