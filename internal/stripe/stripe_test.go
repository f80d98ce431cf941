package stripe

import (
	"sync"
	"testing"
)

func TestShift(t *testing.T) {
	for n, want := range map[int]uint8{2: 63, 8: 61, 64: 58} {
		if got := Shift(n); got != want {
			t.Errorf("Shift(%d) = %d, want %d", n, got, want)
		}
	}
}

// Adjacent 2 KiB stacks must land on different stripes most of the time:
// the defect of hashing the 4 KiB page was a 59% collision rate.
func TestAdjacentStacksSpread(t *testing.T) {
	const stripes = 8
	shift := Shift(stripes)
	same := 0
	const trials = 4096
	for i := uintptr(0); i < trials; i++ {
		base := 0xc000000000 + i<<minStackShift
		if ofAddr(base, shift) == ofAddr(base+1<<minStackShift, shift) {
			same++
		}
	}
	if rate := float64(same) / trials; rate > 0.2 {
		t.Fatalf("adjacent stacks share a stripe in %.0f%% of trials, want under 20%%", 100*rate)
	}
}

func TestIndexInRange(t *testing.T) {
	shift := Shift(8)
	for range 100 {
		if i := Index(shift); i >= 8 {
			t.Fatalf("Index = %d, want < 8", i)
		}
	}
}

func TestCounterSum(t *testing.T) {
	var c Counter
	c.Init()
	if n := len(c.stripes); n < 8 || n > 64 {
		t.Fatalf("%d stripes, want 8..64", n)
	}
	var wg sync.WaitGroup
	for range 8 {
		wg.Go(func() {
			for range 1000 {
				c.Add()
			}
		})
	}
	wg.Wait()
	if got := c.Sum(); got != 8000 {
		t.Fatalf("Sum = %d after 8000 adds", got)
	}
}
