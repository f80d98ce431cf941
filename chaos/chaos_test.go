package chaos_test

import (
	"context"
	"errors"
	"math"
	"math/bits"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/bulwark-go/bulwark/chaos"
)

var errBoom = errors.New("boom")

func mustNew(t testing.TB, cfg chaos.Config) *chaos.Injector {
	t.Helper()
	in, err := chaos.New(cfg)
	if err != nil {
		t.Fatalf("New(%+v): %v", cfg, err)
	}
	return in
}

func TestConfigErrors(t *testing.T) {
	ok := chaos.Error(errBoom)
	tests := []struct {
		name string
		cfg  chaos.Config
		want string
	}{
		{"unset fault", chaos.Config{}, "chaos: Config.Fault unset"},
		{"nil error", chaos.Config{Fault: chaos.Error(nil)}, "chaos: Config.Fault Error(<nil>) has a nil error"},
		{"status code low", chaos.Config{Fault: chaos.Status(42, 0)}, "chaos: Config.Fault Status(42, 0s) has a status code outside [100, 599]"},
		{"status code high", chaos.Config{Fault: chaos.Status(600, 0)}, "Status(600, 0s) has a status code outside"},
		{"negative retry-after", chaos.Config{Fault: chaos.Status(503, -time.Second)}, "Status(503, -1s) has a negative Retry-After"},
		{"fractional retry-after", chaos.Config{Fault: chaos.Status(503, 1500*time.Millisecond)}, "Status(503, 1.5s) has a Retry-After that is not whole seconds"},
		{"unset delay", chaos.Config{Fault: chaos.Latency(chaos.Delay{})}, "Latency(unset) has an unset Delay"},
		{"negative fixed", chaos.Config{Fault: chaos.Latency(chaos.Fixed(-time.Millisecond))}, "Latency(Fixed(-1ms)) has a negative delay"},
		{"uniform reversed", chaos.Config{Fault: chaos.Latency(chaos.Uniform(3*time.Millisecond, time.Millisecond))}, "Latency(Uniform(3ms, 1ms)) needs 0 ≤ min ≤ max"},
		{"uniform negative", chaos.Config{Fault: chaos.Latency(chaos.Uniform(-time.Millisecond, time.Millisecond))}, "needs 0 ≤ min ≤ max"},
		{"exponential zero mean", chaos.Config{Fault: chaos.Latency(chaos.Exponential(0, 0))}, "Latency(Exponential(0s, 0s)) needs a positive mean"},
		{"exponential cap below mean", chaos.Config{Fault: chaos.Latency(chaos.Exponential(10*time.Millisecond, 5*time.Millisecond))}, "needs max 0 (no cap) or at least the mean"},
		{"exponential negative cap", chaos.Config{Fault: chaos.Latency(chaos.Exponential(10*time.Millisecond, -time.Second))}, "needs max 0 (no cap) or at least the mean"},
		{"pareto zero min", chaos.Config{Fault: chaos.Latency(chaos.Pareto(0, 1.5, 0))}, "Latency(Pareto(0s, 1.5, 0s)) needs a positive min"},
		{"pareto zero shape", chaos.Config{Fault: chaos.Latency(chaos.Pareto(time.Millisecond, 0, 0))}, "needs a positive, finite shape"},
		{"pareto NaN shape", chaos.Config{Fault: chaos.Latency(chaos.Pareto(time.Millisecond, math.NaN(), 0))}, "needs a positive, finite shape"},
		{"pareto infinite shape", chaos.Config{Fault: chaos.Latency(chaos.Pareto(time.Millisecond, math.Inf(1), 0))}, "needs a positive, finite shape"},
		{"pareto cap below min", chaos.Config{Fault: chaos.Latency(chaos.Pareto(10*time.Millisecond, 1, 5*time.Millisecond))}, "needs max 0 (no cap) or at least min"},
		{"negative truncate", chaos.Config{Fault: chaos.Truncate(-1)}, "Truncate(-1) keeps a negative number of bytes"},
		{"rate above one", chaos.Config{Fault: ok, Rate: 1.5}, "chaos: Config.Rate 1.5 outside (0,1]"},
		{"negative rate", chaos.Config{Fault: ok, Rate: -0.1}, "chaos: Config.Rate -0.1 outside (0,1]"},
		{"NaN rate", chaos.Config{Fault: ok, Rate: math.NaN()}, "chaos: Config.Rate NaN outside (0,1]"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			in, err := chaos.New(tt.cfg)
			if err == nil {
				t.Fatalf("New = %v, nil error; want an error containing %q", in, tt.want)
			}
			if !errors.Is(err, chaos.ErrInvalidConfig) {
				t.Errorf("New error %q does not match ErrInvalidConfig", err)
			}
			if !strings.Contains(err.Error(), tt.want) {
				t.Errorf("New error = %q, want it to contain %q", err, tt.want)
			}
		})
	}
}

func TestWrapperErrors(t *testing.T) {
	in := mustNew(t, chaos.Config{Fault: chaos.Error(errBoom)})
	plain := http.HandlerFunc(func(http.ResponseWriter, *http.Request) {})
	tests := []struct {
		name string
		err  func() error
		want string
	}{
		{"transport without injectors", func() error { _, err := chaos.NewTransport(nil); return err }, "chaos: NewTransport without an Injector"},
		{"transport nil injector", func() error { _, err := chaos.NewTransport(nil, in, nil); return err }, "chaos: NewTransport injector 1 is nil"},
		{"handler nil next", func() error { _, err := chaos.NewHandler(nil, in); return err }, "chaos: NewHandler with a nil http.Handler"},
		{"handler without injectors", func() error { _, err := chaos.NewHandler(plain); return err }, "chaos: NewHandler without an Injector"},
		{"handler nil injector", func() error { _, err := chaos.NewHandler(plain, nil); return err }, "chaos: NewHandler injector 0 is nil"},
		{"SetRate zero", func() error { return in.SetRate(0) }, "chaos: SetRate 0 outside (0,1]"},
		{"SetRate above one", func() error { return in.SetRate(2) }, "chaos: SetRate 2 outside (0,1]"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := tt.err()
			if err == nil || !errors.Is(err, chaos.ErrInvalidConfig) || err.Error() != tt.want {
				t.Fatalf("error = %v, want %q matching ErrInvalidConfig", err, tt.want)
			}
		})
	}
}

// reference is an independent model of an Injector's draws: wyrand (Wang
// Yi's generator: a Weyl sequence, each step mixed by a 64×64→128 multiply)
// from the seed, a strike when the draw is below rate·2^64, and the delay's
// uniform from the splitmix64 finaliser of the draw.
type reference struct {
	state uint64
	cut   uint64
	all   bool
}

func newReference(seed uint64, rate float64) *reference {
	return &reference{state: seed, cut: uint64(math.Ldexp(rate, 64)), all: rate == 1}
}

func (r *reference) next() (u uint64, strike bool) {
	r.state += 0xa0761d6478bd642f
	hi, lo := bits.Mul64(r.state, r.state^0xe7037ed1a0b428db)
	u = hi ^ lo
	return u, r.all || u < r.cut
}

func splitmix(x uint64) uint64 {
	x ^= x >> 30
	x *= 0xbf58476d1ce4e5b9
	x ^= x >> 27
	x *= 0x94d049bb133111eb
	x ^= x >> 31
	return x
}

// uniform01 is the delay's uniform in [0, 1) for the draw u.
func uniform01(u uint64) float64 { return float64(splitmix(u)>>11) * 0x1p-53 }

// strikes returns which of n sequential Do calls the injector struck.
func strikes(t *testing.T, in *chaos.Injector, n int) []bool {
	t.Helper()
	out := make([]bool, n)
	for i := range out {
		err := in.Do(t.Context(), func(context.Context) error { return nil })
		out[i] = err != nil
		if err != nil && !errors.Is(err, errBoom) {
			t.Fatalf("call %d: Do = %v, want the injected error", i, err)
		}
	}
	return out
}

func pattern(s []bool) string {
	var b strings.Builder
	for _, x := range s {
		if x {
			b.WriteByte('x')
		} else {
			b.WriteByte('.')
		}
	}
	return b.String()
}

// TestSequenceMatchesReference asserts the exact injection sequence for
// several seeds and rates against the reference model.
func TestSequenceMatchesReference(t *testing.T) {
	const n = 2000
	for _, seed := range []uint64{1, 2, 3, 0xdeadbeef} {
		for _, rate := range []float64{0.01, 0.3, 0.5, 0.9, 1} {
			in := mustNew(t, chaos.Config{Fault: chaos.Error(errBoom), Rate: rate, Seed: seed})
			got := strikes(t, in, n)
			ref := newReference(seed, rate)
			want := make([]bool, n)
			struck := 0
			for i := range want {
				_, want[i] = ref.next()
				if want[i] {
					struck++
				}
			}
			if pattern(got) != pattern(want) {
				t.Fatalf("seed %d rate %v: strikes\n got %s\nwant %s", seed, rate, pattern(got)[:80], pattern(want)[:80])
			}
			st := in.Stats()
			if st.Eligible != n || st.Injected != int64(struck) {
				t.Errorf("seed %d rate %v: Stats = %+v, want Eligible %d, Injected %d", seed, rate, st, n, struck)
			}
			// The sequence is a fair coin of the rate: within 4 standard
			// deviations of n·rate.
			if sd := math.Sqrt(n * rate * (1 - rate)); math.Abs(float64(struck)-n*rate) > 4*sd+0.5 {
				t.Errorf("seed %d rate %v: %d strikes in %d, want about %.0f", seed, rate, struck, n, n*rate)
			}
		}
	}
}

func TestSeedsGiveDistinctSequences(t *testing.T) {
	seen := map[string]uint64{}
	for seed := uint64(1); seed <= 20; seed++ {
		in := mustNew(t, chaos.Config{Fault: chaos.Error(errBoom), Rate: 0.5, Seed: seed})
		p := pattern(strikes(t, in, 64))
		if other, dup := seen[p]; dup {
			t.Fatalf("seeds %d and %d gave the same 64 draws %s", other, seed, p)
		}
		seen[p] = seed
	}
	// Seed 0 draws a random seed: two such injectors differ.
	a := pattern(strikes(t, mustNew(t, chaos.Config{Fault: chaos.Error(errBoom), Rate: 0.5}), 64))
	b := pattern(strikes(t, mustNew(t, chaos.Config{Fault: chaos.Error(errBoom), Rate: 0.5}), 64))
	if a == b {
		t.Errorf("two unseeded injectors gave the same 64 draws %s", a)
	}
}

// TestSameSequenceOnEveryWrapper checks that a Transport, a Handler and Do
// draw alike: the same seed strikes the same calls.
func TestSameSequenceOnEveryWrapper(t *testing.T) {
	const n, seed, rate = 300, 7, 0.4
	cfg := chaos.Config{Fault: chaos.Status(http.StatusServiceUnavailable, 0), Rate: rate, Seed: seed}
	want := make([]bool, n)
	ref := newReference(seed, rate)
	for i := range want {
		_, want[i] = ref.next()
	}

	viaDo := make([]bool, n)
	in := mustNew(t, cfg)
	for i := range viaDo {
		viaDo[i] = in.Do(t.Context(), func(context.Context) error { return nil }) != nil
	}

	viaTransport := make([]bool, n)
	rt, err := chaos.NewTransport(okTransport{}, mustNew(t, cfg))
	if err != nil {
		t.Fatal(err)
	}
	for i := range viaTransport {
		resp, err := rt.RoundTrip(httptest.NewRequest(http.MethodGet, "http://svc/", nil))
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		viaTransport[i] = resp.StatusCode == http.StatusServiceUnavailable
	}

	viaHandler := make([]bool, n)
	h, err := chaos.NewHandler(http.HandlerFunc(func(http.ResponseWriter, *http.Request) {}), mustNew(t, cfg))
	if err != nil {
		t.Fatal(err)
	}
	for i := range viaHandler {
		w := httptest.NewRecorder()
		h.ServeHTTP(w, httptest.NewRequest(http.MethodGet, "/", nil))
		viaHandler[i] = w.Code == http.StatusServiceUnavailable
	}

	for name, got := range map[string][]bool{"Do": viaDo, "Transport": viaTransport, "Handler": viaHandler} {
		if pattern(got) != pattern(want) {
			t.Errorf("%s strikes\n got %s\nwant %s", name, pattern(got), pattern(want))
		}
	}
}

// TestSwitch checks that a switched-off Injector draws nothing and leaves
// its sequence where it was: switching on again resumes it.
func TestSwitch(t *testing.T) {
	const seed, rate = 3, 0.5
	in := mustNew(t, chaos.Config{Fault: chaos.Error(errBoom), Rate: rate, Seed: seed, Disabled: true})
	if in.Enabled() {
		t.Fatal("Enabled() = true for Config.Disabled, want false")
	}
	for i, struck := range strikes(t, in, 50) {
		if struck {
			t.Fatalf("call %d struck while switched off", i)
		}
	}
	if st := in.Stats(); st != (chaos.Stats{}) {
		t.Fatalf("Stats after switched-off calls = %+v, want zero", st)
	}
	ref := newReference(seed, rate)
	want := func(n int) string {
		s := make([]bool, n)
		for i := range s {
			_, s[i] = ref.next()
		}
		return pattern(s)
	}
	in.Enable()
	if got, w := pattern(strikes(t, in, 40)), want(40); got != w {
		t.Fatalf("after Enable: %s, want %s", got, w)
	}
	in.Disable()
	if got := pattern(strikes(t, in, 40)); strings.Contains(got, "x") {
		t.Fatalf("after Disable: %s, want no strike", got)
	}
	in.Enable()
	if got, w := pattern(strikes(t, in, 40)), want(40); got != w {
		t.Fatalf("after Enable again: %s, want the sequence resumed %s", got, w)
	}
	if st := in.Stats(); st.Eligible != 80 {
		t.Errorf("Stats.Eligible = %d, want 80 (only switched-on calls draw)", st.Eligible)
	}
}

func TestSetRate(t *testing.T) {
	in := mustNew(t, chaos.Config{Fault: chaos.Error(errBoom), Rate: 1, Seed: 5})
	if got := pattern(strikes(t, in, 20)); got != strings.Repeat("x", 20) {
		t.Fatalf("rate 1: %s, want every call struck", got)
	}
	if err := in.SetRate(0.25); err != nil {
		t.Fatal(err)
	}
	ref := newReference(5, 0.25)
	for range 20 {
		ref.next() // the draws rate 1 spent
	}
	want := make([]bool, 400)
	for i := range want {
		_, want[i] = ref.next()
	}
	if got := strikes(t, in, 400); pattern(got) != pattern(want) {
		t.Fatalf("after SetRate(0.25):\n got %s\nwant %s", pattern(got), pattern(want))
	}
	if err := in.SetRate(1.5); err == nil {
		t.Fatal("SetRate(1.5) = nil, want an error")
	}
}

func TestTargetAndWhen(t *testing.T) {
	type key struct{}
	tenant := func(ctx context.Context) bool { return ctx.Value(key{}) == "canary" }
	req := func(url string, hdr ...string) *http.Request {
		r := httptest.NewRequest(http.MethodGet, url, nil)
		for i := 0; i+1 < len(hdr); i += 2 {
			r.Header.Add(hdr[i], hdr[i+1])
		}
		return r
	}
	server := func(host string) *http.Request {
		r := httptest.NewRequest(http.MethodGet, "/", nil)
		r.URL.Host, r.Host = "", host
		return r
	}
	tests := []struct {
		name   string
		target func(*http.Request) bool
		when   func(context.Context) bool
		req    *http.Request
		want   bool
	}{
		{"host without port matches any port", chaos.Host("a.svc"), nil, req("http://a.svc:8080/x"), true},
		{"host with port matches it", chaos.Host("a.svc:8080"), nil, req("http://a.svc:8080/x"), true},
		{"host with port misses another port", chaos.Host("a.svc:8080"), nil, req("http://a.svc:9090/x"), false},
		{"other host", chaos.Host("a.svc", "b.svc"), nil, req("http://c.svc/x"), false},
		{"second of several hosts", chaos.Host("a.svc", "b.svc"), nil, req("http://b.svc/x"), true},
		{"ipv6 host", chaos.Host("::1"), nil, req("http://[::1]:80/"), true},
		{"server side Host header", chaos.Host("a.svc"), nil, server("a.svc:443"), true},
		{"path prefix", chaos.Path("/api/"), nil, req("http://a/api/items"), true},
		{"path outside prefix", chaos.Path("/api/"), nil, req("http://a/static/x"), false},
		{"header any value", chaos.Header("x-chaos", ""), nil, req("http://a/", "X-Chaos", "1"), true},
		{"header value", chaos.Header("X-Chaos", "on"), nil, req("http://a/", "X-Chaos", "off", "X-Chaos", "on"), true},
		{"header wrong value", chaos.Header("X-Chaos", "on"), nil, req("http://a/", "X-Chaos", "off"), false},
		{"header absent", chaos.Header("X-Chaos", ""), nil, req("http://a/"), false},
		{"when true", nil, tenant, req("http://a/").WithContext(context.WithValue(context.Background(), key{}, "canary")), true},
		{"when false", nil, tenant, req("http://a/"), false},
		{"target and when both needed", chaos.Path("/api/"), tenant, req("http://a/api/"), false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			in := mustNew(t, chaos.Config{Fault: chaos.Status(http.StatusTeapot, 0), Target: tt.target, When: tt.when})
			h, err := chaos.NewHandler(http.HandlerFunc(func(http.ResponseWriter, *http.Request) {}), in)
			if err != nil {
				t.Fatal(err)
			}
			w := httptest.NewRecorder()
			h.ServeHTTP(w, tt.req)
			if got := w.Code == http.StatusTeapot; got != tt.want {
				t.Errorf("struck = %v, want %v", got, tt.want)
			}
			wantEligible := int64(0)
			if tt.want {
				wantEligible = 1
			}
			if st := in.Stats(); st.Eligible != wantEligible {
				t.Errorf("Stats.Eligible = %d, want %d (an ineligible call draws nothing)", st.Eligible, wantEligible)
			}
		})
	}
}

// TestDoIgnoresTarget documents that Do has no request to target.
func TestDoIgnoresTarget(t *testing.T) {
	in := mustNew(t, chaos.Config{Fault: chaos.Error(errBoom), Target: func(*http.Request) bool { return false }})
	if err := in.Do(t.Context(), func(context.Context) error { return nil }); !errors.Is(err, errBoom) {
		t.Fatalf("Do = %v, want the fault (Target is for requests)", err)
	}
}

func TestFaultAccessors(t *testing.T) {
	f := chaos.Latency(chaos.Pareto(time.Millisecond, 1.5, time.Second))
	in := mustNew(t, chaos.Config{Fault: f})
	if got := in.Fault().String(); got != "Latency(Pareto(1ms, 1.5, 1s))" {
		t.Errorf("Fault().String() = %q", got)
	}
	for f, want := range map[*chaos.Fault]string{
		ptr(chaos.Error(errBoom)):                           "Error(boom)",
		ptr(chaos.Status(503, time.Second)):                 "Status(503, 1s)",
		ptr(chaos.Latency(chaos.Fixed(time.Millisecond))):   "Latency(Fixed(1ms))",
		ptr(chaos.Latency(chaos.Uniform(1, 3))):             "Latency(Uniform(1ns, 3ns))",
		ptr(chaos.Latency(chaos.Exponential(time.Hour, 0))): "Latency(Exponential(1h0m0s, 0s))",
		ptr(chaos.Reset()):                                  "Reset()",
		ptr(chaos.Truncate(10)):                             "Truncate(10)",
		ptr(chaos.Hang()):                                   "Hang()",
		ptr(chaos.Fault{}):                                  "unset",
	} {
		if got := f.String(); got != want {
			t.Errorf("String() = %q, want %q", got, want)
		}
	}
}

func ptr[T any](v T) *T { return &v }

// TestConcurrentCallsDrawTheSequence checks that concurrent calls share one
// sequence without losing or repeating a draw: however they interleave, n
// calls draw the first n numbers of the seed's sequence, so the number of
// strikes is exactly the reference's.
func TestConcurrentCallsDrawTheSequence(t *testing.T) {
	const goroutines, each, seed, rate = 8, 500, 9, 0.3
	in := mustNew(t, chaos.Config{Fault: chaos.Error(errBoom), Rate: rate, Seed: seed})
	rt, err := chaos.NewTransport(okTransport{}, in)
	if err != nil {
		t.Fatal(err)
	}
	var struck atomic.Int64
	var wg sync.WaitGroup
	for g := range goroutines {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for range each {
				var err error
				if g%2 == 0 {
					err = in.Do(t.Context(), func(context.Context) error { return nil })
				} else {
					var resp *http.Response
					if resp, err = rt.RoundTrip(httptest.NewRequest(http.MethodGet, "http://svc/", nil)); err == nil {
						resp.Body.Close()
					}
				}
				if err != nil {
					struck.Add(1)
				}
			}
		}()
	}
	wg.Wait()
	ref := newReference(seed, rate)
	want := 0
	for range goroutines * each {
		if _, s := ref.next(); s {
			want++
		}
	}
	st := in.Stats()
	if st.Eligible != goroutines*each || st.Injected != int64(want) || struck.Load() != int64(want) {
		t.Errorf("Stats %+v, callers saw %d strikes; want %d eligible and %d strikes", st, struck.Load(), goroutines*each, want)
	}
}

// TestSwitchedOffAllocatesNothing checks the zero-cost promise: a
// switched-off Injector, and a switched-on one that does not strike, add no
// allocation to the wrapped call.
func TestSwitchedOffAllocatesNothing(t *testing.T) {
	resp := &http.Response{StatusCode: http.StatusOK, Body: http.NoBody}
	next := staticTransport{resp: resp}
	req := httptest.NewRequest(http.MethodGet, "http://svc/", nil)
	plain := http.HandlerFunc(func(http.ResponseWriter, *http.Request) {})
	w := nopWriter{h: http.Header{}}
	fn := func(context.Context) error { return nil }
	ctx := context.Background()
	for _, on := range []bool{false, true} {
		in := mustNew(t, chaos.Config{Fault: chaos.Hang(), Rate: 1e-12, Seed: 1, Disabled: !on})
		rt, err := chaos.NewTransport(next, in)
		if err != nil {
			t.Fatal(err)
		}
		h, err := chaos.NewHandler(plain, in)
		if err != nil {
			t.Fatal(err)
		}
		for name, f := range map[string]func(){
			"Transport": func() { _, _ = rt.RoundTrip(req) },
			"Handler":   func() { h.ServeHTTP(w, req) },
			"Do":        func() { _ = in.Do(ctx, fn) },
		} {
			if n := testing.AllocsPerRun(100, f); n != 0 {
				t.Errorf("%s with the injector on=%v: %v allocations per call, want 0", name, on, n)
			}
		}
	}
}
