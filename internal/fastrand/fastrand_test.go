package fastrand

import (
	"math"
	"testing"
)

func TestSourceDeterministic(t *testing.T) {
	var a, b Source
	a.Seed(42)
	b.Seed(42)
	for i := range 100 {
		if x, y := a.Uint64(), b.Uint64(); x != y {
			t.Fatalf("draw %d: %#x != %#x for the same seed", i, x, y)
		}
	}
}

func TestStripedSeedOneIsOneStream(t *testing.T) {
	var s Striped
	s.SeedOne(7)
	var ref Source
	ref.Seed(7)
	for i := range 100 {
		if got, want := s.Uint64(), ref.Uint64(); got != want {
			t.Fatalf("draw %d: %#x, want %#x", i, got, want)
		}
	}
}

// A chi-square test over 16 buckets: the source must look uniform
// (threshold: p = 0.001 for 15 degrees of freedom).
func TestUniform(t *testing.T) {
	s := NewStriped()
	const draws, buckets = 160000, 16
	var count [buckets]float64
	for range draws {
		count[N(s.Uint64(), buckets)]++
	}
	exp := float64(draws) / buckets
	chi := 0.0
	for _, c := range count {
		chi += (c - exp) * (c - exp) / exp
	}
	if chi > 37.7 || math.IsNaN(chi) {
		t.Fatalf("chi-square %.1f over %d buckets, want under 37.7", chi, buckets)
	}
}
