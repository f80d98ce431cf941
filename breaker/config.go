package breaker

import (
	"math"
	"time"
)

// Config configures a Breaker. Every zero field means the documented default,
// so Config{} is a working breaker: a count window of the last 100 outcomes
// that opens at a 50% failure rate once 10 outcomes are in, for 5 s, with one
// probe.
//
// The trip rule is, in Closed: ConsecutiveFailures failures in a row, or,
// once the window holds MinCalls outcomes, the failure rate reaching
// FailureRate or the slow-call rate reaching SlowRate. ShouldTrip replaces
// that rule with a function of the window's Counts.
type Config struct {
	// Name identifies the breaker in errors and events.
	Name string

	// WindowSize is the count window: the trip decision looks at the last
	// WindowSize outcomes. Zero means 100 (resilience4j slidingWindowSize).
	// Must be zero when WindowTime is set.
	WindowSize int

	// WindowTime selects a time window instead: the trip decision looks at
	// the outcomes of the last WindowTime, kept in Buckets buckets that
	// expire whole (resilience4j's time-based sliding window). Zero means a
	// count window.
	WindowTime time.Duration

	// Buckets is the number of buckets of a time window. Zero means 10
	// (resilience4j aggregates a time window in one-second buckets; ten
	// buckets keep the expiry error at 10% of WindowTime whatever its length).
	// Each bucket must span at least 1 ms.
	Buckets int

	// MinCalls is the number of outcomes the window must hold before the
	// breaker may trip. Zero means 10, or WindowSize when that is smaller
	// (a handful of calls is no evidence; resilience4j's minimumNumberOfCalls
	// plays the same role). Must not exceed WindowSize.
	MinCalls int

	// FailureRate trips the breaker when failures/outcomes in the window
	// reaches it. Zero means 0.5 (resilience4j failureRateThreshold 50%),
	// or no failure-rate rule when ConsecutiveFailures is set. Must be in
	// (0,1].
	FailureRate float64

	// ConsecutiveFailures, when positive, trips the breaker after that many
	// failures in a row, whatever the window holds (MinCalls does not
	// apply): gobreaker's default rule, the one most users configure first.
	// A success ends the run; ignored calls neither extend nor end it. Set
	// alone, it is the whole trip rule: FailureRate then defaults to no
	// rate rule; set FailureRate too to trip on either. Zero means off.
	ConsecutiveFailures int

	// ShouldTrip, when set, is the whole trip rule: the breaker trips when
	// it returns true for the Counts of a Closed window. It is called after
	// each failure and each slow call (and may be called after other
	// outcomes), never under a lock of the breaker, possibly from several
	// goroutines at once; keep it fast and free of blocking. A success that
	// would make it true is seen with the next failure. It cannot be
	// combined with MinCalls, FailureRate, SlowRate or
	// ConsecutiveFailures, which it replaces. Nil means the built-in rule.
	ShouldTrip func(Counts) bool

	// SlowCall, when positive, makes a call that takes at least SlowCall a
	// slow call, whatever its outcome. A call that would be ignored (its
	// caller cancelled it, or Classify said Ignore) but had already taken
	// SlowCall counts as a slow call that did not fail: the loser of a hedge
	// that a slow backend never answered is evidence of its slowness, not
	// nothing. Zero disables slow-call tripping (and then Permit.Done reads
	// no clock).
	SlowCall time.Duration

	// SlowRate trips the breaker when slow calls/outcomes in the window reach
	// it (only when SlowCall > 0). Zero means 1.0 (resilience4j
	// slowCallRateThreshold 100%). Must be in (0,1].
	SlowRate float64

	// OpenFor is how long the breaker stays Open before it lets probes
	// through. Zero means 5 s (Polly v8 BreakDuration default).
	OpenFor time.Duration

	// MaxOpenFor, when set, doubles the open time on each consecutive
	// re-trip (HalfOpen back to Open) up to MaxOpenFor; a close resets it to
	// OpenFor (Polly's break-duration generator, as a fixed doubling). Zero
	// means no doubling. Must be at least OpenFor.
	MaxOpenFor time.Duration

	// HalfOpenCalls is the number of probes admitted in HalfOpen; all must
	// succeed to close, any failure re-opens. Zero means 1 (gobreaker
	// MaxRequests default). A probe that is never completed is reclaimed
	// after OpenFor.
	HalfOpenCalls int

	// Classify maps a call's error to an outcome. Nil means DefaultClassify:
	// nil → Success, context.Canceled → Ignore, anything else → Failure.
	// A call through Do or Call that panics is a Failure whatever Classify
	// says.
	Classify func(error) Outcome

	// Observer, if set, receives the breaker's events (see Event): every
	// call's outcome, every rejection, every transition and every probe,
	// never under a lock of the breaker, transitions one at a time in the
	// order they happened (see the package doc). A panic in it is
	// recovered and counted in Stats.ObserverPanics. Nil (the default)
	// costs the hot paths nothing.
	Observer func(Event)

	// Shadow records outcomes, changes state and reports Stats as usual but
	// never rejects a call: the safe way to try thresholds on live traffic.
	// Calls that would have been rejected are counted in Stats.Rejected.
	Shadow bool
}

const (
	defaultWindowSize    = 100
	defaultBuckets       = 10
	defaultMinCalls      = 10
	defaultFailureRate   = 0.5
	defaultSlowRate      = 1.0
	defaultOpenFor       = 5 * time.Second
	defaultHalfOpenCalls = 1
	minBucketWidth       = time.Millisecond
)

// resolve validates c and returns it with every default filled in.
func (c Config) resolve() (Config, error) {
	if err := c.checkSigns(); err != nil {
		return c, err
	}
	if c.WindowTime > 0 && c.WindowSize > 0 {
		return c, configErrorf("Config.WindowSize %d and Config.WindowTime %v both set; choose one window", c.WindowSize, c.WindowTime)
	}
	if c.WindowTime == 0 && c.Buckets != 0 {
		return c, configErrorf("Config.Buckets %d set without Config.WindowTime", c.Buckets)
	}
	if bad(c.FailureRate) {
		return c, configErrorf("Config.FailureRate %v outside (0,1]", c.FailureRate)
	}
	if bad(c.SlowRate) {
		return c, configErrorf("Config.SlowRate %v outside (0,1]", c.SlowRate)
	}
	if c.ShouldTrip != nil {
		if err := c.checkShouldTripAlone(); err != nil {
			return c, err
		}
	}
	c.fillDefaults()
	if c.WindowTime > 0 && c.WindowTime/time.Duration(c.Buckets) < minBucketWidth {
		return c, configErrorf("Config.WindowTime %v split in %d buckets gives buckets under %v", c.WindowTime, c.Buckets, minBucketWidth)
	}
	if c.WindowTime == 0 && c.MinCalls > c.WindowSize {
		return c, configErrorf("Config.MinCalls %d exceeds Config.WindowSize %d", c.MinCalls, c.WindowSize)
	}
	if c.MaxOpenFor != 0 && c.MaxOpenFor < c.OpenFor {
		return c, configErrorf("Config.MaxOpenFor %v below Config.OpenFor %v", c.MaxOpenFor, c.OpenFor)
	}
	return c, nil
}

// bad reports a rate outside (0,1]; zero is the default, not an error.
func bad(rate float64) bool {
	return rate != 0 && (math.IsNaN(rate) || rate < 0 || rate > 1)
}

func (c Config) checkSigns() error {
	ints := []struct {
		name string
		v    int
	}{{"WindowSize", c.WindowSize}, {"Buckets", c.Buckets}, {"MinCalls", c.MinCalls},
		{"ConsecutiveFailures", c.ConsecutiveFailures}, {"HalfOpenCalls", c.HalfOpenCalls}}
	for _, f := range ints {
		if f.v < 0 {
			return configErrorf("Config.%s %d negative", f.name, f.v)
		}
	}
	durations := []struct {
		name string
		v    time.Duration
	}{{"WindowTime", c.WindowTime}, {"SlowCall", c.SlowCall}, {"OpenFor", c.OpenFor}, {"MaxOpenFor", c.MaxOpenFor}}
	for _, f := range durations {
		if f.v < 0 {
			return configErrorf("Config.%s %v negative", f.name, f.v)
		}
	}
	return nil
}

// checkShouldTripAlone rejects the fields that ShouldTrip replaces: set
// beside it, they would look as if they counted.
func (c Config) checkShouldTripAlone() error {
	switch {
	case c.MinCalls != 0:
		return configErrorf("Config.MinCalls %d set with Config.ShouldTrip, which replaces it", c.MinCalls)
	case c.FailureRate != 0:
		return configErrorf("Config.FailureRate %v set with Config.ShouldTrip, which replaces it", c.FailureRate)
	case c.SlowRate != 0:
		return configErrorf("Config.SlowRate %v set with Config.ShouldTrip, which replaces it", c.SlowRate)
	case c.ConsecutiveFailures != 0:
		return configErrorf("Config.ConsecutiveFailures %d set with Config.ShouldTrip, which replaces it", c.ConsecutiveFailures)
	}
	return nil
}

func (c *Config) fillDefaults() {
	if c.WindowTime == 0 && c.WindowSize == 0 {
		c.WindowSize = defaultWindowSize
	}
	if c.WindowTime > 0 && c.Buckets == 0 {
		c.Buckets = defaultBuckets
	}
	if c.OpenFor == 0 {
		c.OpenFor = defaultOpenFor
	}
	if c.HalfOpenCalls == 0 {
		c.HalfOpenCalls = defaultHalfOpenCalls
	}
	if c.ShouldTrip != nil {
		return // the rule's fields stay zero: ShouldTrip replaces them
	}
	if c.MinCalls == 0 {
		c.MinCalls = defaultMinCalls
		if c.WindowTime == 0 && c.WindowSize < c.MinCalls {
			c.MinCalls = c.WindowSize
		}
	}
	if c.FailureRate == 0 && c.ConsecutiveFailures == 0 {
		c.FailureRate = defaultFailureRate
	}
	if c.SlowRate == 0 {
		c.SlowRate = defaultSlowRate
	}
}
