package chaos

import (
	"math"
	"testing"
	"time"
)

// TestDelaySample checks each distribution's inverse CDF at known points.
func TestDelaySample(t *testing.T) {
	ms := time.Millisecond
	tests := []struct {
		name string
		d    Delay
		v    float64
		want time.Duration
	}{
		{"fixed", Fixed(7 * ms), 0.9, 7 * ms},
		{"uniform low end", Uniform(10*ms, 20*ms), 0, 10 * ms},
		{"uniform middle", Uniform(10*ms, 20*ms), 0.5, 15 * ms},
		{"uniform degenerate", Uniform(5*ms, 5*ms), 0.7, 5 * ms},
		// Exponential: the median is mean·ln 2.
		{"exponential median", Exponential(100*ms, 0), 0.5, time.Duration(100 * float64(ms) * math.Ln2)},
		{"exponential at zero", Exponential(100*ms, 0), 0, 0},
		{"exponential capped", Exponential(100*ms, 150*ms), 0.99, 150 * ms},
		// Pareto: P(X > x) = (min/x)^shape, so the median is min·2^(1/shape).
		{"pareto median", Pareto(10*ms, 2, 0), 0.5, time.Duration(10 * float64(ms) * math.Sqrt2)},
		{"pareto at zero is min", Pareto(10*ms, 2, 0), 0, 10 * ms},
		{"pareto capped", Pareto(10*ms, 1, 50*ms), 0.99, 50 * ms},
		{"pareto extreme tail saturates", Pareto(time.Hour, 0.01, 0), 1 - 0x1p-53, math.MaxInt64},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := tt.d.sample(tt.v)
			if diff := got - tt.want; diff < -1 || diff > 1 { // float rounding: 1 ns
				t.Errorf("%v.sample(%v) = %v, want %v", tt.d, tt.v, got, tt.want)
			}
		})
	}
}

// TestDelayMeans draws many delays from seeded injectors and checks the
// sample mean against the distribution's (mean of Pareto: shape·min/(shape−1)).
func TestDelayMeans(t *testing.T) {
	ms := float64(time.Millisecond)
	tests := []struct {
		d    Delay
		mean float64
	}{
		{Uniform(10*time.Millisecond, 30*time.Millisecond), 20 * ms},
		{Exponential(50*time.Millisecond, 0), 50 * ms},
		{Pareto(10*time.Millisecond, 3, 0), 15 * ms},
	}
	for _, tt := range tests {
		in, err := New(Config{Fault: Latency(tt.d), Seed: 1})
		if err != nil {
			t.Fatal(err)
		}
		const n = 50000
		var sum float64
		for range n {
			d, _ := in.strike(t.Context(), nil)
			sum += float64(d)
		}
		if got := sum / n; math.Abs(got-tt.mean) > 0.03*tt.mean {
			t.Errorf("%v: mean of %d draws %.2fms, want %.2fms ± 3%%", tt.d, n, got/ms, tt.mean/ms)
		}
	}
}

func TestRateCut(t *testing.T) {
	for _, rate := range []float64{0x1p-60, 1e-9, 0.25, 0.5, 1 - 0x1p-53} {
		cut, err := rateCut("Rate", rate, false)
		if err != nil {
			t.Fatal(err)
		}
		if cut == always {
			t.Errorf("rate %v maps to the cut of rate 1", rate)
		}
		if got := math.Ldexp(float64(cut), -64); math.Abs(got-rate) > 1e-15 {
			t.Errorf("rate %v: cut %d is rate %v", rate, cut, got)
		}
	}
}

func TestHostname(t *testing.T) {
	for in, want := range map[string]string{
		"a.svc":         "a.svc",
		"a.svc:80":      "a.svc",
		"10.0.0.1:8080": "10.0.0.1",
		"[::1]:80":      "::1",
		"[::1]":         "::1",
		"::1":           "::1",
		"":              "",
	} {
		if got := hostname(in); got != want {
			t.Errorf("hostname(%q) = %q, want %q", in, got, want)
		}
	}
}
