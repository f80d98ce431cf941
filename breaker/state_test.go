package breaker_test

import (
	"encoding/json"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/bulwark-go/bulwark/breaker"
)

func TestStateText(t *testing.T) {
	for _, s := range []breaker.State{breaker.Closed, breaker.Open, breaker.HalfOpen} {
		text, err := s.MarshalText()
		require.NoError(t, err)
		require.Equal(t, s.String(), string(text))
		var back breaker.State
		require.NoError(t, back.UnmarshalText(text))
		require.Equal(t, s, back)
	}
	_, err := breaker.State(9).MarshalText()
	require.ErrorContains(t, err, "State(9)")
	var s breaker.State
	require.ErrorContains(t, s.UnmarshalText([]byte("ajar")), `"ajar"`)

	// What expvar and encoding/json show for a Stats snapshot.
	b, err := breaker.New(breaker.Config{})
	require.NoError(t, err)
	b.Trip()
	raw, err := json.Marshal(b.Stats())
	require.NoError(t, err)
	require.Contains(t, string(raw), `"State":"open"`)
	var got breaker.Stats
	require.NoError(t, json.Unmarshal(raw, &got))
	require.Equal(t, breaker.Open, got.State)
	require.Equal(t, int64(1), got.Trips)
	raw, err = json.Marshal(map[string]breaker.State{"s": breaker.HalfOpen})
	require.NoError(t, err)
	require.JSONEq(t, `{"s":"half-open"}`, string(raw))
}

func TestStateAndOutcomeStrings(t *testing.T) {
	require.Equal(t, "half-open", breaker.HalfOpen.String())
	require.Equal(t, "State(9)", breaker.State(9).String())
	require.Equal(t, "ignore", breaker.Ignore.String())
	require.Equal(t, "Outcome(7)", breaker.Outcome(7).String())
}
