package balance_test

import (
	"encoding/json"
	"errors"
	"expvar"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"time"

	"github.com/bulwark-go/bulwark"
	"github.com/bulwark-go/bulwark/balance"
)

// With two nodes P2C always compares both: a node with a request in flight
// loses to an idle one.
func ExampleNewP2C() {
	p, err := balance.NewP2C([]string{"10.0.0.1:80", "10.0.0.2:80"}, balance.Config{})
	if err != nil {
		panic(err)
	}
	first, _ := p.Pick()
	second, _ := p.Pick() // the other node: first is still in flight
	fmt.Println(first.Node != second.Node)
	first.Done(nil)
	second.Done(nil)
	// Output: true
}

// The two-step form: Pick, send, Done with the outcome. Done records the
// latency that PeakEWMA's choices follow.
func ExampleNewPeakEWMA() {
	p, err := balance.NewPeakEWMA([]string{"10.0.0.1:80", "10.0.0.2:80", "10.0.0.3:80"},
		balance.Config{EjectAfter: 3, EjectFor: 10 * time.Second})
	if err != nil {
		panic(err)
	}
	call := func(node string) error { return nil } // your RPC here

	for range 5 {
		permit, err := p.Pick()
		if err != nil {
			panic(err) // balance.ErrNoNodes
		}
		err = call(permit.Node)
		permit.Done(err) // releases the slot, records latency and outcome
	}
	var picks int64
	for _, n := range p.Stats().Nodes {
		picks += n.Picks
	}
	fmt.Println("picks:", picks)
	// Output: picks: 5
}

// PickKey sends a key to the same node while loads are balanced.
func ExampleNewConsistent() {
	c, err := balance.NewConsistent([]string{"cache-a:11211", "cache-b:11211", "cache-c:11211"},
		balance.Config{LoadFactor: 1.25})
	if err != nil {
		panic(err)
	}
	owner := func(key string) string {
		permit, err := c.PickKey(key)
		if err != nil {
			panic(err)
		}
		defer permit.Done(nil)
		return permit.Node
	}
	first := owner("user:42")
	fmt.Println(owner("user:42") == first)
	// Output: true
}

// NewTransport balances an http.Client over "host:port" nodes; the URL's
// host ("backend" here) is replaced by the picked node.
func ExampleNewTransport() {
	var nodes []string
	for _, name := range []string{"one", "two"} {
		srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			io.WriteString(w, name)
		}))
		defer srv.Close()
		nodes = append(nodes, strings.TrimPrefix(srv.URL, "http://"))
	}
	p, err := balance.NewRoundRobin(nodes, balance.Config{})
	if err != nil {
		panic(err)
	}
	rt, err := balance.NewTransport(nil, p)
	if err != nil {
		panic(err)
	}
	client := &http.Client{Transport: rt}
	for range 3 {
		resp, err := client.Get("http://backend/hello")
		if err != nil {
			panic(err)
		}
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close() // ends the Permit, if EOF did not already
		fmt.Println(string(body))
	}
	// Output:
	// one
	// two
	// one
}

// Stats are cheap snapshots; publishing them through expvar makes them
// visible at /debug/vars.
func ExamplePeakEWMA_Stats() {
	p, err := balance.NewPeakEWMA([]string{"10.0.0.1:80"}, balance.Config{})
	if err != nil {
		panic(err)
	}
	expvar.Publish("balance.backends", expvar.Func(func() any { return p.Stats() }))

	permit, _ := p.Pick()
	permit.Done(errors.New("connection reset"))
	var st balance.Stats[string]
	_ = json.Unmarshal([]byte(expvar.Get("balance.backends").String()), &st)
	n := st.Nodes[0]
	fmt.Println(n.Node, "picks", n.Picks, "failures", n.Failures, "in flight", n.InFlight)
	// Output: 10.0.0.1:80 picks 1 failures 1 in flight 0
}

// Smooth weighted round robin interleaves a heavy node with the others
// instead of sending it a burst.
func ExampleNewWeightedRoundRobin() {
	p, err := balance.NewWeightedRoundRobin([]balance.Weighted[string]{
		{Node: "a", Weight: 5}, {Node: "b", Weight: 1}, {Node: "c", Weight: 1},
	}, balance.Config{})
	if err != nil {
		panic(err)
	}
	for range 7 {
		permit, _ := p.Pick()
		fmt.Print(permit.Node, " ")
		permit.Done(nil)
	}
	fmt.Println()
	// Output: a a b a c a a
}

// Update swaps the node set; nodes that stay keep their counters.
func ExampleRoundRobin_Update() {
	p, err := balance.NewRoundRobin([]string{"a", "b"}, balance.Config{})
	if err != nil {
		panic(err)
	}
	for range 4 {
		permit, _ := p.Pick()
		permit.Done(nil)
	}
	if err := p.Update([]string{"b", "c"}); err != nil {
		panic(err)
	}
	for _, n := range p.Stats().Nodes {
		fmt.Println(n.Node, n.Picks)
	}
	// Output:
	// b 2
	// c 0
}

// Round robin takes the nodes in the order given.
func ExampleNewRoundRobin() {
	p, err := balance.NewRoundRobin([]string{"a:80", "b:80", "c:80"}, balance.Config{})
	if err != nil {
		panic(err)
	}
	for range 4 {
		permit, err := p.Pick()
		if err != nil {
			panic(err)
		}
		fmt.Print(permit.Node, " ")
		permit.Done(nil) // your request's error here
	}
	fmt.Println()
	// Output: a:80 b:80 c:80 a:80
}

// LeastLoaded sends the next request to the node with the fewest requests
// in flight: here the one whose request has just finished.
func ExampleNewLeastLoaded() {
	p, err := balance.NewLeastLoaded([]string{"a:80", "b:80", "c:80"}, balance.Config{})
	if err != nil {
		panic(err)
	}
	held := map[string]balance.Permit[string]{}
	for range 3 {
		permit, _ := p.Pick() // one request per node, none finished yet
		held[permit.Node] = permit
	}
	b := held["b:80"]
	b.Done(nil) // b's request finishes
	next, _ := p.Pick()
	fmt.Println(next.Node)
	next.Done(nil)
	for _, permit := range held {
		permit.Done(nil)
	}
	// Output: b:80
}

// NewURLTransport takes nodes as base URLs: each request gets the node's
// scheme and host.
func ExampleNewURLTransport() {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		fmt.Fprintf(w, "%s %s", r.Method, r.URL.Path)
	}))
	defer srv.Close()
	node, err := url.Parse(srv.URL)
	if err != nil {
		panic(err)
	}
	p, err := balance.NewRoundRobin([]*url.URL{node}, balance.Config{})
	if err != nil {
		panic(err)
	}
	rt, err := balance.NewURLTransport(nil, p)
	if err != nil {
		panic(err)
	}
	client := &http.Client{Transport: rt}
	resp, err := client.Get("http://orders/v1/orders/42")
	if err != nil {
		panic(err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	fmt.Println(string(body))
	// Output: GET /v1/orders/42
}

// openBreaker stands for a guard below the picker that refuses calls
// locally until a known moment, as breaker.OpenError does.
type openBreaker struct{ until time.Time }

func (e openBreaker) Error() string              { return "breaker open" }
func (e openBreaker) Is(target error) bool       { return target == bulwark.ErrNotAttempted }
func (e openBreaker) RetryAt() (until time.Time) { return e.until }

// A local rejection given to Done makes the node unavailable until the
// guard admits again: Pick skips it, and it is not counted as a failure.
// When every node is unavailable, Pick says until when.
func ExamplePermit_Done_localRejection() {
	p, err := balance.NewRoundRobin([]string{"a:80", "b:80"}, balance.Config{})
	if err != nil {
		panic(err)
	}
	reopen := time.Now().Add(time.Minute)
	permit, _ := p.Pick() // a:80, whose breaker is open
	permit.Done(openBreaker{until: reopen})
	var picked []string
	for range 3 {
		permit, _ := p.Pick()
		picked = append(picked, permit.Node)
		permit.Done(nil)
	}
	fmt.Println(strings.Join(picked, " "))
	fmt.Println("a:80 failures:", p.Stats().Nodes[0].Failures)

	p.MarkUnavailable("b:80", reopen.Add(time.Second), errors.New("b:80 draining"))
	_, err = p.Pick()
	at, _ := bulwark.RetryAt(err)
	fmt.Println(errors.Is(err, balance.ErrNoNodes), errors.Is(err, bulwark.ErrNotAttempted), at.Equal(reopen))
	// Output:
	// b:80 b:80 b:80
	// a:80 failures: 0
	// true true true
}

// An Observer sees nodes ejected by outlier detection (and returned, and
// made unavailable by a layer below); only changes report, not traffic.
func ExampleEvent() {
	p, err := balance.NewRoundRobin([]string{"a", "b", "c"}, balance.Config{
		Name:       "api",
		EjectAfter: 2,
		Observer: func(e balance.Event) {
			if e.Kind == balance.EventEjected {
				fmt.Printf("%s: %v ejected after %d failures (ejection %d)\n", e.Name, e.Node, e.Failures, e.Ejections)
			}
		},
	})
	if err != nil {
		panic(err)
	}
	for range 6 {
		permit, _ := p.Pick()
		if permit.Node == "a" {
			permit.Done(errors.New("connection refused"))
		} else {
			permit.Done(nil)
		}
	}
	for node, ns := range p.AllStats() {
		fmt.Println(node, "picks:", ns.Picks, "ejected:", ns.Ejected)
	}
	// Output:
	// api: a ejected after 2 failures (ejection 1)
	// a picks: 2 ejected: true
	// b picks: 2 ejected: false
	// c picks: 2 ejected: false
}
