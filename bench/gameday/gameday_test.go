package gameday

import (
	"context"
	"os"
	"runtime"
	"strings"
	"testing"
	"time"
)

// The short game day: reduced versions of two client scenarios and of the
// server game day, run in a few seconds, asserting only properties that no
// amount of machine load can break — request accounting, the bounds that
// the clients' settings guarantee, and wins by margins far larger than any
// noise. Latency figures come from the full game day (./cmd).

const (
	shortScale = 0.2 // 3 s per client run
	shortRate  = 150
)

// The few assertions these tests need, in got/want terms.

func check(t *testing.T, ok bool, format string, args ...any) {
	t.Helper()
	if !ok {
		t.Errorf(format, args...)
	}
}

func must(t *testing.T, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}

func errorContains(t *testing.T, err error, want string) {
	t.Helper()
	if err == nil || !strings.Contains(err.Error(), want) {
		t.Errorf("error %v, want one containing %s", err, want)
	}
}

func runShort(t *testing.T, name string) ([]Result, Scenario) {
	t.Helper()
	sc, err := ScenarioNamed(name, shortScale)
	must(t, err)
	rs, err := RunScenario(context.Background(), sc, Options{Rate: shortRate, Parallel: true})
	must(t, err)
	if len(rs) != len(Clients) {
		t.Fatalf("%d results, want %d", len(rs), len(Clients))
	}
	for _, r := range rs {
		checkAccounting(t, r, sc)
	}
	return rs, sc
}

// checkAccounting asserts that one run's numbers add up.
func checkAccounting(t *testing.T, r Result, sc Scenario) {
	t.Helper()
	want := int(sc.Duration.Seconds() * shortRate)
	check(t, r.Requests == want, "%s: %d requests made, want %d", r.Client, r.Requests, want)
	failed := 0
	for _, n := range r.Errors {
		failed += n
	}
	check(t, r.Succeeded+failed == r.Requests, "%s: %d successes + %d failures, want %d", r.Client, r.Succeeded, failed, r.Requests)
	var sent, served int64
	for _, n := range r.Nodes {
		sent += n.Sent
		served += n.Served
	}
	check(t, sent == r.Sent, "%s: %d sent over the nodes, want %d", r.Client, sent, r.Sent)
	check(t, served == r.Served, "%s: %d served over the nodes, want %d", r.Client, served, r.Served)
	amp := float64(r.Sent) / float64(r.Requests)
	check(t, r.Amplification == amp, "%s: amplification %v, want %v", r.Client, r.Amplification, amp)
	seen := 0
	for _, p := range r.Series {
		seen += p.Requests
	}
	check(t, seen == r.Requests, "%s: %d requests over the time series, want %d", r.Client, seen, r.Requests)
	if r.Client == Plain {
		// One attempt per request, nothing else.
		check(t, r.Sent == int64(r.Requests), "plain: sent %d, want %d", r.Sent, r.Requests)
	} else {
		check(t, r.Sent <= int64(maxAttempts*r.Requests), "%s: sent %d, want at most %d attempts per request (%d)",
			r.Client, r.Sent, maxAttempts, maxAttempts*r.Requests)
	}
	check(t, int64(r.Succeeded) <= r.Served, "%s: %d successes but %d requests served", r.Client, r.Succeeded, r.Served)
}

func TestShortDeadNode(t *testing.T) {
	t.Parallel()
	rs, sc := runShort(t, "dead-node")
	plain, bulwark := rs[0], rs[1]
	if plain.Client != Plain || bulwark.Client != Bulwark {
		t.Fatalf("clients %s, %s; want %s, %s", plain.Client, bulwark.Client, Plain, Bulwark)
	}

	// The plain round robin sends a fifth of the fault window's requests to
	// the dead node and loses them: at least half of that must show.
	lost := plain.Requests - plain.Succeeded
	expected := plain.FaultRequests / len(sc.Nodes)
	check(t, lost >= expected/2, "plain lost %d requests, want at least %d", lost, expected/2)
	refused := plain.Errors["connection refused"]
	check(t, refused >= expected/2, "plain: %d refused connections, want at least %d", refused, expected/2)

	// bulwark retries them elsewhere and stops picking the dead node: it
	// must win back at least half of what plain lost.
	margin := float64(expected) / 2 / float64(plain.Requests)
	check(t, bulwark.SuccessRate >= plain.SuccessRate+margin,
		"bulwark success %.4f, plain %.4f: want a margin of %.4f", bulwark.SuccessRate, plain.SuccessRate, margin)
	for _, n := range plain.Nodes[:4] { // never killed: every request it read was sent to it
		check(t, n.Served <= n.Sent, "plain: %s served %d, sent %d", n.Name, n.Served, n.Sent)
	}
}

func TestShortHalfFailing(t *testing.T) {
	t.Parallel()
	rs, _ := runShort(t, "half-failing")
	for _, r := range rs {
		for _, n := range r.Nodes {
			check(t, n.Served <= n.Sent, "%s: %s served %d, sent %d", r.Client, n.Name, n.Served, n.Sent)
		}
	}
	plain, bulwark := rs[0], rs[1]
	check(t, plain.Errors["status 503"] > 0, "plain: no 503 in %v", plain.Errors)

	// bulwark's retry budget (100 tokens, 0.1 per success, retries only
	// above half the bucket) bounds the retries that reach the backends to
	// 50 + 0.1·successes, whatever the timing: no retry storm.
	bound := int64(bulwark.Requests) + 51 + int64(0.1*float64(bulwark.Succeeded)+1)
	check(t, bulwark.Sent <= bound, "bulwark: sent %d, want at most %d", bulwark.Sent, bound)

	// Every backend still answers half of its calls. Breakers that opened
	// on that would reject nearly every request of the fault window (a few
	// percent succeed); bulwark's trip only on a backend that is down or
	// slow, so about half succeed, as with no protection. 35% leaves room
	// for the noise of the 503 draws at the short scale (about 3 points).
	check(t, plain.FaultSuccessRate >= 0.35, "plain success in fault %.4f, want about 0.5", plain.FaultSuccessRate)
	check(t, bulwark.FaultSuccessRate >= 0.35,
		"bulwark success in fault %.4f (plain %.4f), want about 0.5: breakers opened on a fleet that answers half its calls",
		bulwark.FaultSuccessRate, plain.FaultSuccessRate)
}

func TestShortServer(t *testing.T) {
	t.Parallel()
	opts := ServerOptions{
		Loads: []float64{0.5, 3}, Phase: 500 * time.Millisecond, Recovery: 500 * time.Millisecond,
		Calibrate: 300 * time.Millisecond, Guards: []string{"none", "gradient2"},
	}
	ctx := context.Background()
	capacity := MeasureCapacity(ctx, opts)
	if capacity <= 0 {
		t.Fatalf("capacity %v, want > 0", capacity)
	}
	none, err := RunServer(ctx, "none", capacity, opts)
	must(t, err)
	g2, err := RunServer(ctx, "gradient2", capacity, opts)
	must(t, err)
	for _, run := range []ServerRun{none, g2} {
		if len(run.Phases) != 3 {
			t.Fatalf("%s: %d phases, want 3", run.Guard, len(run.Phases))
		}
		for _, p := range run.Phases {
			check(t, p.ShedRate+p.Timeouts <= 1, "%s %s: shed %v + timed out %v > 1", run.Guard, p.Name, p.ShedRate, p.Timeouts)
			check(t, p.Goodput <= p.Offered, "%s %s: goodput %v > offered %v", run.Guard, p.Name, p.Goodput, p.Offered)
		}
	}
	for _, p := range none.Phases {
		check(t, p.ShedRate == 0, "none shed %v at %s, want 0", p.ShedRate, p.Name)
	}
	// At 300% the unprotected queue passes the 100 ms target within about
	// 50 ms of the phase; a limiter keeps serving near capacity.
	g, n := g2.Phases[1], none.Phases[1]
	check(t, g.Goodput > 2*n.Goodput, "goodput at 300%%: gradient2 %.0f/s, none %.0f/s; want more than twice", g.Goodput, n.Goodput)
	check(t, g.ShedRate > 0, "gradient2 shed nothing at 300%%")
}

func TestUnknownNames(t *testing.T) {
	_, err := ScenarioNamed("no-such", 1)
	errorContains(t, err, `"no-such"`)
	_, err = RunServer(context.Background(), "no-such", 100, ServerOptions{})
	errorContains(t, err, `"no-such"`)
	_, err = RunScenario(context.Background(), Scenarios(0.01)[0], Options{Clients: []Client{"no-such"}})
	errorContains(t, err, `"no-such"`)
}

func TestScenariosWellFormed(t *testing.T) {
	for _, sc := range Scenarios(1) {
		t.Run(sc.Name, func(t *testing.T) {
			check(t, sc.About != "", "no About")
			check(t, len(sc.Nodes) == 5, "%d nodes, want 5", len(sc.Nodes))
			check(t, 0 <= sc.FaultStart && sc.FaultStart <= sc.FaultEnd && sc.FaultEnd <= sc.Duration,
				"fault window [%v, %v] of %v", sc.FaultStart, sc.FaultEnd, sc.Duration)
			for _, e := range sc.Events {
				check(t, e.At <= sc.Duration, "event %q at %v after the end %v", e.What, e.At, sc.Duration)
			}
			if !sc.Steady() {
				check(t, sc.Duration > sc.FaultEnd, "a transient scenario leaves time to recover")
			}
		})
	}
}

func TestMain(m *testing.M) {
	before := runtime.NumGoroutine()
	code := m.Run()
	if code == 0 {
		if n := settledGoroutines(before); n > before {
			buf := make([]byte, 1<<16)
			println("gameday: goroutines leaked:", n-before, "\n", string(buf[:runtime.Stack(buf, true)]))
			code = 1
		}
	}
	os.Exit(code)
}

// settledGoroutines waits (at most 5 s) for goroutines that are finishing —
// closed connections' readers — to go, and returns how many are left.
func settledGoroutines(want int) int {
	n := runtime.NumGoroutine()
	for range 50 {
		if n <= want {
			break
		}
		time.Sleep(100 * time.Millisecond)
		n = runtime.NumGoroutine()
	}
	return n
}
