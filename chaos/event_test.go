package chaos_test

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"reflect"
	"sync"
	"testing"
	"testing/synctest"
	"time"

	"github.com/bulwark-go/bulwark"
	"github.com/bulwark-go/bulwark/chaos"
)

var _ bulwark.Event = chaos.Event{}

// recorder collects events; safe for concurrent use.
type recorder struct {
	mu     sync.Mutex
	events []chaos.Event
}

func (r *recorder) observe(e chaos.Event) {
	r.mu.Lock()
	r.events = append(r.events, e)
	r.mu.Unlock()
}

func (r *recorder) take() []chaos.Event {
	r.mu.Lock()
	defer r.mu.Unlock()
	out := r.events
	r.events = nil
	return out
}

func equalEvents(t *testing.T, got, want []chaos.Event) {
	t.Helper()
	if len(got) != len(want) {
		t.Fatalf("got %d events, want %d:\n got %+v\nwant %+v", len(got), len(want), got, want)
	}
	for i := range want {
		if !reflect.DeepEqual(got[i], want[i]) {
			t.Fatalf("event %d = %+v, want %+v", i, got[i], want[i])
		}
	}
}

func TestEventNames(t *testing.T) {
	for k, want := range map[chaos.EventKind]string{
		chaos.EventInjected:    "injected",
		chaos.EventSwitched:    "switched",
		chaos.EventRateChanged: "rate_changed",
		chaos.EventKind(0):     "EventKind(0)",
		chaos.EventKind(99):    "EventKind(99)",
	} {
		if got := k.String(); got != want {
			t.Errorf("EventKind(%d).String() = %q, want %q", uint8(k), got, want)
		}
	}
	e := chaos.Event{Kind: chaos.EventInjected, Name: "payments-503"}
	if e.Component() != "chaos" || e.Source() != "payments-503" || e.Type() != "injected" {
		t.Errorf("Component, Source, Type = %q, %q, %q; want chaos, payments-503, injected", e.Component(), e.Source(), e.Type())
	}
}

// TestInjectedEventPerFault checks the fields of each fault's event, and
// that the event comes before the fault acts (At is the bubble's clock when
// the observer ran, Took when the call returned).
func TestInjectedEventPerFault(t *testing.T) {
	tests := []struct {
		name  string
		fault chaos.Fault
		want  chaos.Event
		took  time.Duration
	}{
		{"error", chaos.Error(errBoom), chaos.Event{Fault: "error"}, 0},
		{"status", chaos.Status(503, time.Second), chaos.Event{Fault: "status", Status: 503}, 0},
		{"latency", chaos.Latency(chaos.Fixed(20 * time.Millisecond)), chaos.Event{Fault: "latency", Delay: 20 * time.Millisecond}, 20 * time.Millisecond},
		{"reset", chaos.Reset(), chaos.Event{Fault: "reset"}, 0},
		{"truncate", chaos.Truncate(0), chaos.Event{Fault: "truncate"}, 0},
		{"hang", chaos.Hang(), chaos.Event{Fault: "hang"}, time.Second},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				start := time.Now()
				var at []time.Duration
				rec := &recorder{}
				in := mustNew(t, chaos.Config{Fault: tt.fault, Name: "inj", Seed: 1, Observer: func(e chaos.Event) {
					at = append(at, time.Since(start))
					rec.observe(e)
				}})
				ctx, cancel := context.WithTimeout(t.Context(), time.Second)
				defer cancel()
				_ = in.Do(ctx, func(context.Context) error { return nil })
				if took := time.Since(start); took != tt.took {
					t.Errorf("Do took %v, want %v", took, tt.took)
				}
				want := tt.want
				want.Kind, want.Name = chaos.EventInjected, "inj"
				equalEvents(t, rec.take(), []chaos.Event{want})
				if at[0] != 0 {
					t.Errorf("event delivered at %v, want 0 (before the fault acts)", at[0])
				}
			})
		})
	}
}

// TestTransportEventSequence asserts the exact events of a seeded Latency
// injector followed by a seeded Status injector on a Transport, against
// the reference model of the draws.
func TestTransportEventSequence(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		const latSeed, latRate, stSeed, stRate = 11, 0.5, 5, 0.3
		lo, hi := 10*time.Millisecond, 50*time.Millisecond
		rec := &recorder{}
		lat := mustNew(t, chaos.Config{Fault: chaos.Latency(chaos.Uniform(lo, hi)), Rate: latRate, Seed: latSeed, Name: "slow", Observer: rec.observe})
		st := mustNew(t, chaos.Config{Fault: chaos.Status(503, 0), Rate: stRate, Seed: stSeed, Name: "flaky", Observer: rec.observe})
		rt, err := chaos.NewTransport(okTransport{}, lat, st)
		if err != nil {
			t.Fatal(err)
		}
		latRef, stRef := newReference(latSeed, latRate), newReference(stSeed, stRate)
		var want []chaos.Event
		for i := range 100 {
			method, host := http.MethodGet, "a.test"
			if i%3 == 0 {
				method, host = http.MethodPut, "b.test:8080"
			}
			req := httptest.NewRequest(method, "http://"+host+"/x", nil)
			start := time.Now()
			resp, err := rt.RoundTrip(req)
			if err != nil {
				t.Fatalf("request %d: %v", i, err)
			}
			resp.Body.Close()
			var wait time.Duration
			if u, ok := latRef.next(); ok {
				wait = lo + time.Duration(uniform01(u)*float64(hi-lo))
				want = append(want, chaos.Event{Kind: chaos.EventInjected, Name: "slow", Fault: "latency", Delay: wait, Method: method, Host: host})
			}
			wantStatus := http.StatusOK
			if _, ok := stRef.next(); ok {
				wantStatus = 503
				want = append(want, chaos.Event{Kind: chaos.EventInjected, Name: "flaky", Fault: "status", Status: 503, Method: method, Host: host})
			}
			if resp.StatusCode != wantStatus || time.Since(start) != wait {
				t.Fatalf("request %d: status %d after %v, want %d after %v", i, resp.StatusCode, time.Since(start), wantStatus, wait)
			}
		}
		equalEvents(t, rec.take(), want)
		if s := lat.Stats(); s.Injected != int64(countKind(want, "slow")) || s.ObserverPanics != 0 {
			t.Errorf("latency Stats = %+v, want Injected %d", s, countKind(want, "slow"))
		}
	})
}

func countKind(events []chaos.Event, name string) int {
	n := 0
	for _, e := range events {
		if e.Name == name && e.Kind == chaos.EventInjected {
			n++
		}
	}
	return n
}

// TestHandlerEventSequence: a seeded Truncate then a seeded Error on a
// Handler; the host is the request's Host header.
func TestHandlerEventSequence(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		const cutSeed, cutRate, errSeed, errRate = 7, 0.5, 9, 0.4
		rec := &recorder{}
		cut := mustNew(t, chaos.Config{Fault: chaos.Truncate(3), Rate: cutRate, Seed: cutSeed, Name: "cut", Observer: rec.observe})
		fail := mustNew(t, chaos.Config{Fault: chaos.Error(errBoom), Rate: errRate, Seed: errSeed, Name: "fail", Observer: rec.observe})
		h, err := chaos.NewHandler(http.HandlerFunc(func(http.ResponseWriter, *http.Request) {}), cut, fail)
		if err != nil {
			t.Fatal(err)
		}
		cutRef, errRef := newReference(cutSeed, cutRate), newReference(errSeed, errRate)
		var want []chaos.Event
		for i := range 100 {
			req := httptest.NewRequest(http.MethodPost, "/items", nil)
			req.Host = "backend:8080"
			w := httptest.NewRecorder()
			h.ServeHTTP(w, req)
			if _, ok := cutRef.next(); ok {
				want = append(want, chaos.Event{Kind: chaos.EventInjected, Name: "cut", Fault: "truncate", Method: "POST", Host: "backend:8080"})
			}
			wantCode := http.StatusOK
			if _, ok := errRef.next(); ok {
				wantCode = http.StatusInternalServerError
				want = append(want, chaos.Event{Kind: chaos.EventInjected, Name: "fail", Fault: "error", Method: "POST", Host: "backend:8080"})
			}
			if w.Code != wantCode {
				t.Fatalf("request %d: status %d, want %d", i, w.Code, wantCode)
			}
		}
		equalEvents(t, rec.take(), want)
	})
}

// TestDoAndCallEventSequence: Do and Call share one seeded Injector, and
// so one sequence of draws; their events carry no method or host.
func TestDoAndCallEventSequence(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		const seed, rate = 3, 0.5
		rec := &recorder{}
		in := mustNew(t, chaos.Config{Fault: chaos.Reset(), Rate: rate, Seed: seed, Name: "db", Observer: rec.observe})
		ref := newReference(seed, rate)
		var want []chaos.Event
		for i := range 200 {
			var err error
			if i%2 == 0 {
				err = in.Do(t.Context(), func(context.Context) error { return nil })
			} else {
				_, err = chaos.Call(t.Context(), in, func(context.Context) (int, error) { return 1, nil })
			}
			_, struck := ref.next()
			if struck {
				want = append(want, chaos.Event{Kind: chaos.EventInjected, Name: "db", Fault: "reset"})
			}
			if (err != nil) != struck {
				t.Fatalf("call %d: err = %v, want struck %v", i, err, struck)
			}
		}
		equalEvents(t, rec.take(), want)
	})
}

// TestSwitchAndRateEvents: only a change of the switch or of the rate is
// reported, in order.
func TestSwitchAndRateEvents(t *testing.T) {
	rec := &recorder{}
	in := mustNew(t, chaos.Config{Fault: chaos.Error(errBoom), Name: "sw", Observer: rec.observe})
	in.Enable() // already on: nothing
	in.Disable()
	in.Disable() // already off: nothing
	in.Enable()
	if err := in.SetRate(0.25); err != nil {
		t.Fatal(err)
	}
	if err := in.SetRate(0.25); err != nil { // unchanged: nothing
		t.Fatal(err)
	}
	if err := in.SetRate(2); err == nil { // refused: nothing
		t.Fatal("SetRate(2) accepted")
	}
	if err := in.SetRate(1); err != nil {
		t.Fatal(err)
	}
	equalEvents(t, rec.take(), []chaos.Event{
		{Kind: chaos.EventSwitched, Name: "sw", On: false},
		{Kind: chaos.EventSwitched, Name: "sw", On: true},
		{Kind: chaos.EventRateChanged, Name: "sw", Rate: 0.25},
		{Kind: chaos.EventRateChanged, Name: "sw", Rate: 1},
	})
}

// TestPanickingObserver: every panic is counted and the Injector decides,
// counts and injects exactly as an Injector without an observer.
func TestPanickingObserver(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		const seed, rate = 21, 0.4
		cfg := chaos.Config{Fault: chaos.Latency(chaos.Uniform(time.Millisecond, 9*time.Millisecond)), Rate: rate, Seed: seed}
		plain := mustNew(t, cfg)
		cfg.Observer = func(chaos.Event) { panic("observer bug") }
		panicky := mustNew(t, cfg)
		for i := range 100 {
			var took [2]time.Duration
			for j, in := range []*chaos.Injector{plain, panicky} {
				start := time.Now()
				if err := in.Do(t.Context(), func(context.Context) error { return nil }); err != nil {
					t.Fatalf("call %d: %v", i, err)
				}
				took[j] = time.Since(start)
			}
			if took[0] != took[1] {
				t.Fatalf("call %d: waited %v with a panicking observer, %v without", i, took[1], took[0])
			}
		}
		panicky.Disable()
		p, q := plain.Stats(), panicky.Stats()
		if q.ObserverPanics != q.Injected+1 {
			t.Errorf("ObserverPanics = %d, want %d (every strike and the switch)", q.ObserverPanics, q.Injected+1)
		}
		q.ObserverPanics = 0
		if p != q {
			t.Errorf("Stats with a panicking observer %+v, without %+v", q, p)
		}
		if panicky.Enabled() {
			t.Error("Disable did not take effect under a panicking observer")
		}
	})
}

// TestObserverCallsBack: the observer reads Stats and flips the switch from
// inside its events without deadlock; what it causes follows in order.
func TestObserverCallsBack(t *testing.T) {
	var in *chaos.Injector
	var got []chaos.Event
	var injected []int64
	flipped := false
	in = mustNew(t, chaos.Config{Fault: chaos.Error(errBoom), Name: "cb", Observer: func(e chaos.Event) {
		got = append(got, e)
		switch {
		case e.Kind == chaos.EventInjected:
			injected = append(injected, in.Stats().Injected)
			if len(injected) == 3 {
				in.Disable()
			}
		case e.Kind == chaos.EventSwitched && !e.On && !flipped:
			flipped = true
			in.Enable() // made during the delivery of Disable's event: delivered after it
			in.Disable()
		}
	}})
	for range 4 {
		_ = in.Do(context.Background(), func(context.Context) error { return nil })
	}
	equalEvents(t, got, []chaos.Event{
		{Kind: chaos.EventInjected, Name: "cb", Fault: "error"},
		{Kind: chaos.EventInjected, Name: "cb", Fault: "error"},
		{Kind: chaos.EventInjected, Name: "cb", Fault: "error"},
		{Kind: chaos.EventSwitched, Name: "cb", On: false},
		{Kind: chaos.EventSwitched, Name: "cb", On: true},
		{Kind: chaos.EventSwitched, Name: "cb", On: false},
	})
	if !reflect.DeepEqual(injected, []int64{1, 2, 3}) {
		t.Errorf("Stats().Injected seen by the observer = %v, want [1 2 3]", injected)
	}
	if in.Enabled() || in.Stats().Injected != 3 {
		t.Errorf("Enabled = %v, Injected = %d; want false, 3 (the fourth call went through)", in.Enabled(), in.Stats().Injected)
	}
}

// TestConcurrentEvents: calls and switch flips from many goroutines. Every
// strike is reported once, and the switch events alternate, in the order
// the switch was written, ending where the switch stands.
func TestConcurrentEvents(t *testing.T) {
	var mu sync.Mutex
	injected := 0
	var switches []bool
	in := mustNew(t, chaos.Config{Fault: chaos.Error(errBoom), Rate: 0.5, Seed: 1, Observer: func(e chaos.Event) {
		mu.Lock()
		defer mu.Unlock()
		switch e.Kind {
		case chaos.EventInjected:
			injected++
		case chaos.EventSwitched:
			switches = append(switches, e.On)
		}
	}})
	rt, err := chaos.NewTransport(okTransport{}, in)
	if err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	var struck [4]int
	for g := range 4 {
		wg.Go(func() {
			for range 500 {
				var err error
				if g%2 == 0 {
					err = in.Do(context.Background(), func(context.Context) error { return nil })
				} else {
					var resp *http.Response
					if resp, err = rt.RoundTrip(httptest.NewRequest(http.MethodGet, "http://svc/", nil)); err == nil {
						resp.Body.Close()
					}
				}
				if errors.Is(err, errBoom) {
					struck[g]++
				}
			}
		})
	}
	for range 2 {
		wg.Go(func() {
			for i := range 200 {
				if i%2 == 0 {
					in.Disable()
				} else {
					in.Enable()
				}
			}
		})
	}
	wg.Wait()
	total := struck[0] + struck[1] + struck[2] + struck[3]
	mu.Lock()
	defer mu.Unlock()
	if st := in.Stats(); injected != total || st.Injected != int64(total) {
		t.Errorf("%d injected events, Stats.Injected %d, callers saw %d strikes", injected, st.Injected, total)
	}
	if len(switches) == 0 {
		t.Fatal("no switch events")
	}
	for i, on := range switches {
		if on != (i%2 == 1) { // starts on: the first change is to off
			t.Fatalf("switch event %d is On=%v: events out of order %v", i, on, switches)
		}
	}
	if last := switches[len(switches)-1]; last != in.Enabled() {
		t.Errorf("last switch event On=%v, Enabled %v", last, in.Enabled())
	}
}

// TestStruckCallWithObserverAllocatesNothing: an event is a value.
func TestStruckCallWithObserverAllocatesNothing(t *testing.T) {
	n := 0
	in := mustNew(t, chaos.Config{Fault: chaos.Error(errBoom), Name: "a", Seed: 1, Observer: func(chaos.Event) { n++ }})
	fn := func(context.Context) error { return nil }
	ctx := context.Background()
	if allocs := testing.AllocsPerRun(100, func() { _ = in.Do(ctx, fn) }); allocs != 0 {
		t.Errorf("struck Do with an observer: %v allocations per call, want 0", allocs)
	}
	if n == 0 {
		t.Error("observer not called")
	}
}
