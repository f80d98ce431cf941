package balance

import (
	"fmt"
	"testing"
	"testing/synctest"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestEjection(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		p, err := NewRoundRobin([]string{"a", "b", "c", "d"}, Config{EjectAfter: 3, EjectFor: 10 * time.Second, MaxEjectFor: 25 * time.Second})
		require.NoError(t, err)
		failA := func() {
			for range 3 {
				for {
					l := mustPick(t, p)
					if l.Node == "a" {
						l.Done(errBoom)
						break
					}
					l.Done(nil)
				}
			}
		}
		failA()
		st := p.Stats()
		require.True(t, st.Nodes[0].Ejected)
		assert.Equal(t, 10*time.Second, st.Nodes[0].EjectedFor)
		assert.Equal(t, int64(1), st.Nodes[0].Ejections)
		assert.Equal(t, 1, st.Ejected)
		assert.NotContains(t, pickN(t, p, 30), "a", "ejected node picked")

		time.Sleep(10 * time.Second)
		assert.Contains(t, pickN(t, p, 4), "a", "not back after EjectFor")

		failA() // a repeat offender: 20 s, then capped at 25 s
		assert.Equal(t, 20*time.Second, p.Stats().Nodes[0].EjectedFor)
		time.Sleep(20 * time.Second)
		failA()
		assert.Equal(t, 25*time.Second, p.Stats().Nodes[0].EjectedFor)
	})
}

func TestEjectionForgivenAfterHealthyPeriod(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		p, err := NewRoundRobin([]string{"a", "b"}, Config{EjectAfter: 1, EjectFor: time.Second})
		require.NoError(t, err)
		fail := func() {
			for l := mustPick(t, p); ; l = mustPick(t, p) {
				if l.Node == "a" {
					l.Done(errBoom)
					return
				}
				l.Done(nil)
			}
		}
		fail()
		time.Sleep(time.Second)
		pickN(t, p, 2) // reinstated
		time.Sleep(time.Second)
		pickN(t, p, 2) // a healthy success a full EjectFor later resets the doubling
		fail()
		assert.Equal(t, time.Second, p.Stats().Nodes[0].EjectedFor)
	})
}

func TestMaxEjectedPercent(t *testing.T) {
	p, err := NewRoundRobin([]string{"a", "b", "c", "d"}, Config{EjectAfter: 1})
	require.NoError(t, err)
	for range 4 {
		l := mustPick(t, p)
		l.Done(errBoom)
	}
	st := p.Stats()
	assert.Equal(t, 2, st.Ejected, "50% of 4")
	assert.Equal(t, int64(4), st.Nodes[0].Failures+st.Nodes[1].Failures+st.Nodes[2].Failures+st.Nodes[3].Failures)
}

func TestPanicThreshold(t *testing.T) {
	cfg := Config{EjectAfter: 1, MaxEjectedPercent: 100, PanicPercent: 60}
	p, err := NewRoundRobin([]string{"a", "b", "c", "d"}, cfg)
	require.NoError(t, err)
	l := mustPick(t, p) // a
	l.Done(errBoom)
	assert.NotContains(t, pickN(t, p, 8), "a", "75% healthy: no panic")
	l = mustPick(t, p) // b (the cycle is at b again after 8 picks over 3 nodes... find it)
	for l.Node != "b" {
		l.Done(nil)
		l = mustPick(t, p)
	}
	l.Done(errBoom)
	st := p.Stats()
	require.Equal(t, 2, st.Ejected)
	assert.True(t, st.Panic)
	got := pickN(t, p, 8)
	assert.Contains(t, got, "a", "50% healthy < 60%: panic picks from all")
	assert.Contains(t, got, "b")
}

func TestDisableEjection(t *testing.T) {
	p, err := NewP2C([]string{"a", "b"}, Config{EjectAfter: 1, DisableEjection: true})
	require.NoError(t, err)
	for range 10 {
		l := mustPick(t, p)
		l.Done(errBoom)
	}
	st := p.Stats()
	assert.Equal(t, 0, st.Ejected)
	assert.Equal(t, int64(10), st.Nodes[0].Failures+st.Nodes[1].Failures)
}

func TestCanceledIsNotAFailure(t *testing.T) {
	p, err := NewRoundRobin([]string{"a"}, Config{EjectAfter: 1, MaxEjectedPercent: 100})
	require.NoError(t, err)
	l := mustPick(t, p)
	l.Done(fmt.Errorf("call: %w", errCanceled()))
	st := p.Stats().Nodes[0]
	assert.Zero(t, st.Failures)
	assert.False(t, st.Ejected)
}

func TestSlowStart(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		p, err := NewRoundRobin([]string{"a", "b", "c", "d"}, Config{SlowStart: 10 * time.Second})
		require.NoError(t, err)
		seed(p.cfg, 5)
		assert.False(t, p.Stats().Nodes[0].Warming, "initial nodes start at full share")
		require.NoError(t, p.Update([]string{"a", "b", "c", "d", "e"}))
		share := func() float64 {
			count := 0
			for _, n := range pickN(t, p, 10_000) {
				if n == "e" {
					count++
				}
			}
			return float64(count) / 10_000
		}
		assert.Less(t, share(), 0.005, "t=0")
		assert.True(t, p.Stats().Nodes[4].Warming)
		time.Sleep(5 * time.Second)
		assert.InDelta(t, 0.5*0.2, share(), 0.03, "t=5s: half of a full share")
		time.Sleep(5 * time.Second)
		assert.InDelta(t, 0.2, share(), 0.001, "t=10s: full share")
		assert.False(t, p.Stats().Nodes[4].Warming)
	})
}

func TestSlowStartAfterEjection(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		p, err := NewRoundRobin([]string{"a", "b"}, Config{EjectAfter: 1, EjectFor: time.Second, SlowStart: 10 * time.Second})
		require.NoError(t, err)
		seed(p.cfg, 5)
		l := mustPick(t, p)
		require.Equal(t, "a", l.Node)
		l.Done(errBoom)
		time.Sleep(time.Second)
		pickN(t, p, 2) // the second reaches a and reinstates it into slow start
		assert.True(t, p.Stats().Nodes[0].Warming)
	})
}
