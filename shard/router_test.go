package shard

import (
	"errors"
	"fmt"
	"math"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// TestInvalidInput checks every constructor rejects bad input with an error
// that matches its sentinel and names the offending value.
func TestInvalidInput(t *testing.T) {
	abc := []string{"a", "b", "c"}
	tests := []struct {
		name    string
		build   func() error
		want    error
		mention string
	}{
		{"jump no members", func() error { _, err := NewJump(nil); return err }, ErrNoMembers, ""},
		{"jump duplicate", func() error { _, err := NewJump([]string{"a", "b", "a"}); return err }, ErrDuplicateMember, `"a"`},
		{"jump empty name", func() error { _, err := NewJump([]string{"a", ""}); return err }, ErrEmptyMember, "members[1]"},
		{"ring no members", func() error { _, err := NewRing(nil, RingConfig{}); return err }, ErrNoMembers, ""},
		{"ring duplicate", func() error { _, err := NewRing([]string{"x", "x"}, RingConfig{}); return err }, ErrDuplicateMember, `"x"`},
		{"ring vnodes", func() error { _, err := NewRing(abc, RingConfig{VirtualNodes: -1}); return err }, ErrInvalidConfig, "VirtualNodes -1"},
		{"ring weight zero", func() error {
			_, err := NewRing(abc, RingConfig{Weights: map[string]float64{"b": 0}})
			return err
		}, ErrInvalidConfig, `Weights["b"] 0`},
		{"ring weight negative", func() error {
			_, err := NewRing(abc, RingConfig{Weights: map[string]float64{"b": -2}})
			return err
		}, ErrInvalidConfig, `Weights["b"] -2`},
		{"ring weight too small for a point", func() error {
			_, err := NewRing(abc, RingConfig{VirtualNodes: 10, Weights: map[string]float64{"c": 0.01}})
			return err
		}, ErrInvalidConfig, `Weights["c"] 0.01`},
		{"ring weight unknown member", func() error {
			_, err := NewRing(abc, RingConfig{Weights: map[string]float64{"z": 1}})
			return err
		}, ErrUnknownMember, `RingConfig.Weights["z"] 1 names no member`},
		{"ring weight unknown member is a config error", func() error {
			_, err := NewRing(abc, RingConfig{Weights: map[string]float64{"z": 1}})
			return err
		}, ErrInvalidConfig, `RingConfig.Weights["z"]`},
		{"bounded no members", func() error { _, err := NewBounded(nil, BoundedConfig{}); return err }, ErrNoMembers, ""},
		{"bounded load factor 1", func() error { _, err := NewBounded(abc, BoundedConfig{LoadFactor: 1}); return err }, ErrInvalidConfig, "LoadFactor 1"},
		{"bounded load factor 0.5", func() error { _, err := NewBounded(abc, BoundedConfig{LoadFactor: 0.5}); return err }, ErrInvalidConfig, "LoadFactor 0.5"},
		{"bounded partitions < members", func() error { _, err := NewBounded(abc, BoundedConfig{Partitions: 2}); return err }, ErrInvalidConfig, "Partitions 2"},
		{"bounded vnodes", func() error { _, err := NewBounded(abc, BoundedConfig{VirtualNodes: -5}); return err }, ErrInvalidConfig, "VirtualNodes -5"},
		{"maglev no members", func() error { _, err := NewMaglev(nil, MaglevConfig{}); return err }, ErrNoMembers, ""},
		{"maglev not prime", func() error { _, err := NewMaglev(abc, MaglevConfig{TableSize: 65536}); return err }, ErrInvalidConfig, "TableSize 65536"},
		{"maglev negative", func() error { _, err := NewMaglev(abc, MaglevConfig{TableSize: -7}); return err }, ErrInvalidConfig, "TableSize -7"},
		{"maglev smaller than members", func() error {
			_, err := NewMaglev(names("m", 10), MaglevConfig{TableSize: 7})
			return err
		}, ErrInvalidConfig, "TableSize 7"},
		{"maglev weight", func() error {
			_, err := NewMaglev(abc, MaglevConfig{Weights: map[string]float64{"a": -1}})
			return err
		}, ErrInvalidConfig, `Weights["a"] -1`},
		{"ring points overflow", func() error {
			_, err := NewRing(abc, RingConfig{VirtualNodes: 1 << 30})
			return err
		}, ErrInvalidConfig, "VirtualNodes 1073741824"},
		{"bounded vnodes overflow", func() error {
			_, err := NewBounded(abc, BoundedConfig{VirtualNodes: math.MaxInt})
			return err
		}, ErrInvalidConfig, fmt.Sprint("VirtualNodes ", math.MaxInt)},
		{"bounded partitions huge", func() error {
			_, err := NewBounded(abc, BoundedConfig{Partitions: math.MaxInt})
			return err
		}, ErrInvalidConfig, fmt.Sprint("Partitions ", math.MaxInt)},
		{"maglev huge prime", func() error {
			_, err := NewMaglev(abc, MaglevConfig{TableSize: 1<<61 - 1})
			return err
		}, ErrInvalidConfig, "TableSize 2305843009213693951"},
		{"rendezvous duplicate", func() error { _, err := NewRendezvous([]string{"q", "q"}, RendezvousConfig{}); return err }, ErrDuplicateMember, `"q"`},
		{"rendezvous weight", func() error {
			_, err := NewRendezvous(abc, RendezvousConfig{Weights: map[string]float64{"c": 0}})
			return err
		}, ErrInvalidConfig, `Weights["c"] 0`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := tt.build()
			require.Error(t, err)
			assert.True(t, errors.Is(err, tt.want), "got %v, want %v", err, tt.want)
			assert.Contains(t, err.Error(), tt.mention)
			assert.Equal(t, 1, strings.Count(err.Error(), "shard: "), "one package prefix: %q", err)
			if errors.Is(err, ErrInvalidConfig) {
				assert.Regexp(t, `^shard: [A-Z][a-z]+Config\.[A-Z]`, err.Error(), "names <Config>.<Field>")
			}
		})
	}
}

// replicated builds every hashing router over members.
func replicated(t *testing.T, members []string) map[string]Replicated {
	t.Helper()
	j, err := NewJump(members)
	require.NoError(t, err)
	r, err := NewRing(members, RingConfig{})
	require.NoError(t, err)
	b, err := NewBounded(members, BoundedConfig{})
	require.NoError(t, err)
	m, err := NewMaglev(members, MaglevConfig{TableSize: 1009})
	require.NoError(t, err)
	h, err := NewRendezvous(members, RendezvousConfig{})
	require.NoError(t, err)
	return map[string]Replicated{"jump": j, "ring": r, "bounded": b, "maglev": m, "rendezvous": h}
}

func TestLocateN(t *testing.T) {
	members := names("node-", 7)
	for name, r := range replicated(t, members) {
		t.Run(name, func(t *testing.T) {
			for _, k := range testKeys()[:200] {
				got := r.LocateN(k, 3)
				require.Len(t, got, 3)
				assert.Equal(t, r.Locate(k), got[0], "first replica is the owner")
				assert.NotEqual(t, got[0], got[1])
				assert.NotEqual(t, got[1], got[2])
				assert.NotEqual(t, got[0], got[2])
			}
			all := r.LocateN("k", 100)
			assert.ElementsMatch(t, members, all, "n above members gives every member once")
			assert.Nil(t, r.LocateN("k", 0))
		})
	}
}

func TestMembersAndOrderIndependence(t *testing.T) {
	fwd := []string{"c", "a", "d", "b"}
	rev := []string{"b", "d", "a", "c"}
	a, b := replicated(t, fwd), replicated(t, rev)
	for name := range a {
		if name == "jump" {
			assert.Equal(t, fwd, a[name].Members(), "jump keeps slot order")
			continue
		}
		t.Run(name, func(t *testing.T) {
			assert.Equal(t, []string{"a", "b", "c", "d"}, a[name].Members())
			for _, k := range testKeys()[:2000] {
				require.Equal(t, a[name].Locate(k), b[name].Locate(k), "key %s depends on member order", k)
			}
		})
	}
}

func TestWithWithoutErrors(t *testing.T) {
	j, err := NewJump([]string{"a"})
	require.NoError(t, err)
	_, err = j.With("a")
	assert.ErrorIs(t, err, ErrDuplicateMember)
	_, err = j.Without("z")
	assert.ErrorIs(t, err, ErrUnknownMember)
	_, err = j.Without("a")
	assert.ErrorIs(t, err, ErrNoMembers)
	assert.EqualError(t, err, `shard: no members left after removing "a"`)
	_, err = j.With("")
	assert.ErrorIs(t, err, ErrEmptyMember)

	r, err := NewRing([]string{"a", "b"}, RingConfig{Weights: map[string]float64{"a": 2}})
	require.NoError(t, err)
	r2, err := r.Without("a")
	require.NoError(t, err)
	assert.Equal(t, []string{"b"}, r2.Members())
	assert.Equal(t, 2.0, r.cfg.Weights["a"], "Without leaves the original's weights alone")
}

// Routers are immutable: concurrent Locate and LocateN agree with a serial
// run (and -race sees no writes).
func TestConcurrentLocate(t *testing.T) {
	routers := replicated(t, names("n", 9))
	keys := testKeys()[:2000]
	for name, r := range routers {
		want := make([]string, len(keys))
		for i, k := range keys {
			want[i] = r.Locate(k)
		}
		done := make(chan error, 4)
		for range 4 {
			go func() {
				for i, k := range keys {
					if got := r.Locate(k); got != want[i] || r.LocateN(k, 2)[0] != want[i] {
						done <- fmt.Errorf("%s: key %s got %s, want %s", name, k, got, want[i])
						return
					}
				}
				done <- nil
			}()
		}
		for range 4 {
			require.NoError(t, <-done)
		}
	}
}
