package balance

import (
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// TestPermitDoneTwice: admit, Done(err), Done(err) again; the state after
// the second Done equals the state after the first (counters, in flight),
// for every picker and every kind of outcome.
func TestPermitDoneTwice(t *testing.T) {
	outcomes := map[string]error{
		"success":   nil,
		"failure":   errBoom,
		"rejection": &guardError{name: "a"},
		"canceled":  errCanceled(),
	}
	for _, name := range pickerNames {
		for oname, err := range outcomes {
			t.Run(name+"/"+oname, func(t *testing.T) {
				p := allPickersWith(t, []string{"a", "b"}, Config{EjectAfter: 2, MaxEjectedPercent: 100})[name]
				permit, perr := p.Pick()
				require.NoError(t, perr)
				require.Equal(t, int64(1), inFlight(p.Stats()))

				permit.Done(err)
				once := p.Stats()
				permit.Done(err)
				twice := p.Stats()

				assert.Zero(t, inFlight(once))
				assert.Equal(t, zeroDurations(once), zeroDurations(twice))
				assert.Nil(t, permit.st, "Done clears the claim")
				assert.NotEmpty(t, permit.Node, "Node stays readable")

				var zero Permit[string]
				zero.Done(errBoom) // the zero Permit is inert
				assert.Equal(t, zeroDurations(once), zeroDurations(p.Stats()))
			})
		}
	}
}

func inFlight(st Stats[string]) (n int64) {
	for _, ns := range st.Nodes {
		n += ns.InFlight
	}
	return n
}

// zeroDurations drops the time-left fields, which move with the clock.
func zeroDurations(st Stats[string]) Stats[string] {
	out := st
	out.Nodes = append([]NodeStats[string](nil), st.Nodes...)
	for i := range out.Nodes {
		out.Nodes[i].EjectedFor, out.Nodes[i].UnavailableFor, out.Nodes[i].Latency = 0, 0, 0
	}
	return out
}
