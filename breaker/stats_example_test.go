package breaker_test

import (
	"expvar"
	"fmt"

	"github.com/bulwark-go/bulwark/breaker"
)

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
