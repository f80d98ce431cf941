package balance_test

import (
	"encoding/json"
	"errors"
	"expvar"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"time"

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
		lease, err := p.Pick()
		if err != nil {
			panic(err) // balance.ErrNoNodes
		}
		err = call(lease.Node)
		lease.Done(err) // releases the slot, records latency and outcome
	}
	var picks uint64
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
		lease, err := c.PickKey(key)
		if err != nil {
			panic(err)
		}
		defer lease.Done(nil)
		return lease.Node
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
	client := &http.Client{Transport: balance.NewTransport(nil, p)}
	for range 3 {
		resp, err := client.Get("http://backend/hello")
		if err != nil {
			panic(err)
		}
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close() // ends the Lease
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

	lease, _ := p.Pick()
	lease.Done(errors.New("connection reset"))
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
		lease, _ := p.Pick()
		fmt.Print(lease.Node, " ")
		lease.Done(nil)
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
		lease, _ := p.Pick()
		lease.Done(nil)
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
