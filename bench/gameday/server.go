package gameday

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"sync"
	"time"

	"github.com/failsafe-go/failsafe-go/adaptivelimiter"
	"github.com/platinummonkey/go-concurrency-limits/core"
	gcllimit "github.com/platinummonkey/go-concurrency-limits/limit"
	gcllimiter "github.com/platinummonkey/go-concurrency-limits/limiter"
	"github.com/platinummonkey/go-concurrency-limits/strategy"

	"github.com/bulwark-go/bulwark/bulkhead"
)

// Guards lists the server-side protections a server game day compares, in
// report order: none, bulwark's fixed bulkhead, bulwark's three adaptive
// algorithms with their defaults, failsafe-go's adaptive limiter with its
// defaults, and go-concurrency-limits' default limiter (Vegas) and its
// Gradient2, both with their defaults.
var Guards = []string{"none", "bulkhead", "aimd", "vegas", "gradient2", "failsafe-go", "gcl-vegas", "gcl-gradient2"}

// ServerOptions sets a server game day. The zero ServerOptions is the full one.
type ServerOptions struct {
	// Workers is the service's parallelism: it runs at most this many calls
	// at once and queues the rest, FIFO, without bound. 0 means 8.
	Workers int
	// ServiceTime is a call's mean service time; each call takes between
	// 0.8 and 1.2 times it (seeded). 0 means 5 ms.
	ServiceTime time.Duration
	// Loads are the phases' arrival rates as multiples of the measured
	// capacity. Nil means 0.5, 1, 1.5, 3.
	Loads []float64
	// Phase is each load phase's length. 0 means 4 s.
	Phase time.Duration
	// Recovery is the length of the last phase, back at the first load.
	// 0 means 6 s.
	Recovery time.Duration
	// Target is the latency target: goodput counts the successes within it.
	// 0 means 100 ms.
	Target time.Duration
	// Timeout is each caller's deadline: a call still waiting (or still
	// queued) then fails. 0 means 1 s.
	Timeout time.Duration
	// Calibrate is how long the capacity is measured for. 0 means 2 s.
	Calibrate time.Duration
	// Guards are the protections to run. Nil means all of Guards.
	Guards []string
	// Seed seeds the service times. 0 means 1.
	Seed uint64
	// Bucket is the time series' bucket width. 0 means 250 ms.
	Bucket time.Duration
}

func (o ServerOptions) withDefaults() ServerOptions {
	def := func(d *time.Duration, v time.Duration) {
		if *d == 0 {
			*d = v
		}
	}
	if o.Workers == 0 {
		o.Workers = 8
	}
	def(&o.ServiceTime, 5*time.Millisecond)
	if o.Loads == nil {
		o.Loads = []float64{0.5, 1, 1.5, 3}
	}
	def(&o.Phase, 4*time.Second)
	def(&o.Recovery, 6*time.Second)
	def(&o.Target, 100*time.Millisecond)
	def(&o.Timeout, time.Second)
	def(&o.Calibrate, 2*time.Second)
	def(&o.Bucket, 250*time.Millisecond)
	if o.Guards == nil {
		o.Guards = Guards
	}
	if o.Seed == 0 {
		o.Seed = 1
	}
	return o
}

// ServerRun is one guard's server game day.
type ServerRun struct {
	Guard    string        `json:"guard"`
	Capacity float64       `json:"capacity_rps"` // measured, requests per second
	Phases   []PhaseResult `json:"phases"`
	// RecoveryMs is the time from the start of the recovery phase until the
	// service is back to normal (see serverNormal); Recovered is false when
	// it was not by the end of the run.
	RecoveryMs float64       `json:"recovery_ms"`
	Recovered  bool          `json:"recovered"`
	Series     []ServerPoint `json:"series"`
}

// PhaseResult is one load phase of a ServerRun.
type PhaseResult struct {
	Name     string  `json:"name"` // "50%", …, "recovery"
	Load     float64 `json:"load"` // × capacity
	Offered  float64 `json:"offered_rps"`
	Goodput  float64 `json:"goodput_rps"` // successes within the target, per second
	P99      float64 `json:"p99_ms"`      // of successes
	ShedRate float64 `json:"shed_rate"`   // rejected by the guard ÷ arrivals
	Timeouts float64 `json:"timeout_rate"`
}

// ServerPoint is one bucket of a server time series.
type ServerPoint struct {
	T        float64 `json:"t_s"`
	Offered  float64 `json:"offered_rps"`
	Goodput  float64 `json:"goodput_rps"`
	P99      float64 `json:"p99_ms"`
	ShedRate float64 `json:"shed_rate"`
}

// service is the protected service: Workers calls run at once, each for its
// service time; the rest wait in a FIFO queue (a channel's senders), leaving
// it if their caller gives up. A call that started runs to the end, as real
// work does; its result is useless if the caller has gone.
type service struct {
	slots chan struct{}
	mean  time.Duration
	seed  uint64
}

func (s *service) time(i int) time.Duration {
	u := float64(splitmix(s.seed^uint64(i))>>11) / (1 << 53)
	return time.Duration(float64(s.mean) * (0.8 + 0.4*u))
}

func (s *service) call(ctx context.Context, i int) error {
	select {
	case s.slots <- struct{}{}:
	case <-ctx.Done():
		return ctx.Err()
	}
	time.Sleep(s.time(i))
	<-s.slots
	return ctx.Err()
}

func splitmix(x uint64) uint64 {
	x += 0x9e3779b97f4a7c15
	x = (x ^ x>>30) * 0xbf58476d1ce4e5b9
	x = (x ^ x>>27) * 0x94d049bb133111eb
	return x ^ x>>31
}

// guard admits a call or sheds it; finish reports how the call ended (nil,
// or the error: context.DeadlineExceeded for a call that timed out).
type guard interface {
	admit(ctx context.Context) (finish func(err error), ok bool)
}

type noGuard struct{}

func (noGuard) admit(context.Context) (func(error), bool) { return func(error) {}, true }

type bulwarkGuard struct{ l bulkhead.Limiter }

func (g bulwarkGuard) admit(ctx context.Context) (func(error), bool) {
	p, err := g.l.Acquire(ctx)
	if err != nil {
		return nil, false
	}
	return p.Done, true
}

type failsafeGuard struct {
	l adaptivelimiter.AdaptiveLimiter[any]
}

func (g failsafeGuard) admit(context.Context) (func(error), bool) {
	p, ok := g.l.TryAcquirePermit()
	if !ok {
		return nil, false
	}
	return func(err error) {
		if err != nil {
			p.Drop()
		} else {
			p.Record()
		}
	}, true
}

type gclGuard struct{ l core.Limiter }

func (g gclGuard) admit(ctx context.Context) (func(error), bool) {
	lis, ok := g.l.Acquire(ctx)
	if !ok {
		return nil, false
	}
	return func(err error) {
		switch {
		case err == nil:
			lis.OnSuccess()
		case errors.Is(err, context.DeadlineExceeded):
			lis.OnDropped()
		default:
			lis.OnIgnore()
		}
	}, true
}

func newGuard(name string, workers int) (guard, error) {
	adaptive := func(a bulkhead.Algorithm) (guard, error) {
		l, err := bulkhead.NewAdaptive(bulkhead.AdaptiveConfig{Algorithm: a})
		return bulwarkGuard{l}, err
	}
	gcl := func(l core.Limit) (guard, error) {
		lim, err := gcllimiter.NewDefaultLimiter(l, 1e9, 1e9, 1e5, 100,
			strategy.NewSimpleStrategy(20), gcllimit.NoopLimitLogger{}, core.EmptyMetricRegistryInstance)
		return gclGuard{lim}, err
	}
	switch name {
	case "none":
		return noGuard{}, nil
	case "bulkhead":
		// The fixed bulkhead of a user who knows the service: as many slots
		// as workers and a queue of as many again.
		b, err := bulkhead.New(bulkhead.Config{MaxConcurrent: workers, MaxWaiting: workers})
		return bulwarkGuard{b}, err
	case "aimd":
		return adaptive(bulkhead.AIMD)
	case "vegas":
		return adaptive(bulkhead.Vegas)
	case "gradient2":
		return adaptive(bulkhead.Gradient2)
	case "failsafe-go":
		return failsafeGuard{adaptivelimiter.NewWithDefaults[any]()}, nil
	case "gcl-vegas":
		// NewDefaultLimiterWithDefaults, spelled out to name the limit.
		return gcl(gcllimit.NewDefaultVegasLimit("gameday", gcllimit.NoopLimitLogger{}, core.EmptyMetricRegistryInstance))
	case "gcl-gradient2":
		return gcl(gcllimit.NewDefaultGradient2Limit("gameday", gcllimit.NoopLimitLogger{}, core.EmptyMetricRegistryInstance))
	}
	return nil, fmt.Errorf("gameday: guard %q unknown; want one of %v", name, Guards)
}

// MeasureCapacity runs the service saturated (twice as many callers as
// workers, back to back) for opts.Calibrate and returns its completions per
// second.
func MeasureCapacity(ctx context.Context, opts ServerOptions) float64 {
	opts = opts.withDefaults()
	svc := &service{slots: make(chan struct{}, opts.Workers), mean: opts.ServiceTime, seed: opts.Seed}
	ctx, cancel := context.WithTimeout(ctx, opts.Calibrate)
	defer cancel()
	var mu sync.Mutex
	done := 0
	var wg sync.WaitGroup
	start := time.Now()
	for c := range 2 * opts.Workers {
		wg.Go(func() {
			for i := c; ctx.Err() == nil; i += 2 * opts.Workers {
				if svc.call(ctx, i) == nil {
					mu.Lock()
					done++
					mu.Unlock()
				}
			}
		})
	}
	wg.Wait()
	return float64(done) / time.Since(start).Seconds()
}

// serverOutcome is one arrival of a server game day.
type serverOutcome struct {
	at      time.Duration
	latency time.Duration
	kind    byte // 'o' success, 's' shed, 't' timed out
}

// RunServer runs one guard through the load phases at the given capacity
// (from MeasureCapacity).
func RunServer(ctx context.Context, guardName string, capacity float64, opts ServerOptions) (ServerRun, error) {
	opts = opts.withDefaults()
	g, err := newGuard(guardName, opts.Workers)
	if err != nil {
		return ServerRun{}, err
	}
	svc := &service{slots: make(chan struct{}, opts.Workers), mean: opts.ServiceTime, seed: opts.Seed}
	type phase struct {
		name       string
		load       float64
		start, end time.Duration
	}
	var phases []phase
	var t time.Duration
	for _, l := range opts.Loads {
		phases = append(phases, phase{fmt.Sprintf("%.0f%%", 100*l), l, t, t + opts.Phase})
		t += opts.Phase
	}
	phases = append(phases, phase{"recovery", opts.Loads[0], t, t + opts.Recovery})
	// The arrival schedule: evenly spaced within each phase.
	var arrivals []time.Duration
	for _, p := range phases {
		rate := p.load * capacity
		for k := 0; ; k++ {
			at := p.start + time.Duration(float64(k)/rate*float64(time.Second))
			if at >= p.end {
				break
			}
			arrivals = append(arrivals, at)
		}
	}
	out := make([]serverOutcome, len(arrivals))
	var wg sync.WaitGroup
	start := time.Now()
	for i := 0; i < len(arrivals) && ctx.Err() == nil; {
		elapsed := time.Since(start)
		for ; i < len(arrivals) && arrivals[i] <= elapsed; i++ {
			j := i
			wg.Go(func() { out[j] = serve(ctx, g, svc, j, arrivals[j], opts.Timeout) })
		}
		time.Sleep(time.Millisecond)
	}
	wg.Wait()
	if err := ctx.Err(); err != nil {
		return ServerRun{}, err
	}

	run := ServerRun{Guard: guardName, Capacity: capacity}
	for _, p := range phases {
		pr := serverWindow(out, p.start, p.end, opts.Target)
		pr.Name, pr.Load = p.name, p.load
		run.Phases = append(run.Phases, pr)
	}
	for t := time.Duration(0); t < phases[len(phases)-1].end; t += opts.Bucket {
		w := serverWindow(out, t, t+opts.Bucket, opts.Target)
		run.Series = append(run.Series, ServerPoint{T: t.Seconds(), Offered: w.Offered, Goodput: w.Goodput, P99: w.P99, ShedRate: w.ShedRate})
	}
	rec := phases[len(phases)-1]
	run.RecoveryMs, run.Recovered = serverRecovery(out, rec.start, rec.end, run.Phases[0], opts)
	return run, nil
}

func serve(ctx context.Context, g guard, svc *service, i int, at, timeout time.Duration) serverOutcome {
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	start := time.Now()
	finish, ok := g.admit(ctx)
	if !ok {
		return serverOutcome{at: at, latency: time.Since(start), kind: 's'}
	}
	err := svc.call(ctx, i)
	lat := time.Since(start)
	finish(err)
	if err != nil {
		return serverOutcome{at: at, latency: lat, kind: 't'}
	}
	return serverOutcome{at: at, latency: lat, kind: 'o'}
}

func serverWindow(out []serverOutcome, from, to, target time.Duration) PhaseResult {
	var lat []time.Duration
	n, shed, timedOut, good := 0, 0, 0, 0
	for _, o := range out {
		if o.at < from || o.at >= to {
			continue
		}
		n++
		switch o.kind {
		case 'o':
			lat = append(lat, o.latency)
			if o.latency <= target {
				good++
			}
		case 's':
			shed++
		default:
			timedOut++
		}
	}
	secs := (to - from).Seconds()
	slices.Sort(lat)
	return PhaseResult{
		Offered: float64(n) / secs, Goodput: float64(good) / secs, P99: ms(percentile(lat, 0.99)),
		ShedRate: ratio(shed, n), Timeouts: ratio(timedOut, n),
	}
}

// serverRecovery is the time from the start of the recovery phase until the
// service stays normal for a second (or a third of the phase, if shorter):
// bucket by bucket, at least 99% of the arrivals succeed within the target
// and the p99 of successes is at most twice that of the first (lightest)
// phase, plus 2 ms for timer noise.
func serverRecovery(out []serverOutcome, from, to time.Duration, unloaded PhaseResult, opts ServerOptions) (float64, bool) {
	maxP99 := 2*unloaded.P99 + 2
	sustain := min(time.Second, (to-from)/3)
	normal := func(t time.Duration) bool {
		w := serverWindow(out, t, t+opts.Bucket, opts.Target)
		return w.Offered == 0 || (w.Goodput >= 0.99*w.Offered && w.P99 <= maxP99)
	}
	for t := from; t+sustain <= to; t += opts.Bucket {
		ok := true
		for u := t; u < t+sustain && ok; u += opts.Bucket {
			ok = normal(u)
		}
		if ok {
			return ms(t - from), true
		}
	}
	return ms(to - from), false
}
