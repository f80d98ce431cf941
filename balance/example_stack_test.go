package balance_test

import (
	"fmt"
	"io"
	"net/http"
	"strings"
	"sync"
	"time"

	"github.com/bulwark-go/bulwark/balance"
	"github.com/bulwark-go/bulwark/breaker"
	"github.com/bulwark-go/bulwark/bulkhead"
	"github.com/bulwark-go/bulwark/retry"
)

// network stands in for http.DefaultTransport: node a:80 answers 200, node
// b:80 answers 503, and it counts the requests each node receives.
type network struct {
	mu   sync.Mutex
	seen map[string]int
}

func (n *network) RoundTrip(req *http.Request) (*http.Response, error) {
	n.mu.Lock()
	n.seen[req.URL.Host]++
	n.mu.Unlock()
	status := http.StatusOK
	if req.URL.Host == "b:80" {
		status = http.StatusServiceUnavailable
	}
	return &http.Response{StatusCode: status, Body: io.NopCloser(strings.NewReader("")), Request: req}, nil
}

// The whole client stack, outside in: retry → bulkhead → balance → breaker.
// Retry is outermost so every attempt is balanced anew; the bulkhead bounds
// the client; the balancer picks a node; the breakers sit below the
// balancer, where the request's host is the picked node, so there is one
// breaker per node (above it they would all key on "service", one breaker
// for the whole fleet). Node b:80 fails once, its breaker opens, and from
// then on its open breaker's rejection makes the balancer send b's share to
// a:80 without touching the network and without spending a retry.
func Example_stack() {
	net := &network{seen: map[string]int{}}

	breakers, _ := breaker.NewGroup(breaker.Config{ConsecutiveFailures: 1, OpenFor: time.Minute}, breaker.GroupConfig{})
	var rt http.RoundTripper
	rt, _ = breaker.NewTransport(net, breakers) // innermost: one breaker per node

	picker, _ := balance.NewRoundRobin([]string{"a:80", "b:80"}, balance.Config{})
	rt, _ = balance.NewTransport(rt, picker)

	limit, _ := bulkhead.New(bulkhead.Config{MaxConcurrent: 16})
	rt, _ = bulkhead.NewTransport(rt, limit)

	retrier, _ := retry.New(retry.Config{MaxAttempts: 3, Backoff: retry.Constant(time.Millisecond)})
	rt, _ = retry.NewTransport(rt, retrier) // outermost: each attempt picks anew

	client := &http.Client{Transport: rt}
	ok := 0
	for range 10 {
		resp, err := client.Get("http://service/")
		if err != nil {
			fmt.Println("error:", err)
			continue
		}
		if resp.StatusCode == http.StatusOK {
			ok++
		}
		resp.Body.Close()
	}
	b := breakers.Get("b:80")
	fmt.Printf("%d of 10 succeeded; b:80 received %d request, its breaker is %v\n", ok, net.seen["b:80"], b.State())
	// Output:
	// 10 of 10 succeeded; b:80 received 1 request, its breaker is open
}
