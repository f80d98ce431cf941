package bulwarkprom_test

import (
	"fmt"
	"testing"
	"testing/synctest"
	"time"

	"github.com/bulwark-go/bulwark/balance"
	"github.com/bulwark-go/bulwark/breaker"
	bulwarkprom "github.com/bulwark-go/bulwark/prom"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/stretchr/testify/require"
)

// TestBalanceMetrics sends six requests round robin over three nodes: "a"
// fails until it is ejected (after two failures), "c" answers its first
// with a local rejection (and is skipped for UnavailableFor), and the first
// request to "b" stays in flight.
func TestBalanceMetrics(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		m := bulwarkprom.Balance()
		require.NoError(t, prometheus.NewPedanticRegistry().Register(m))
		p, err := balance.NewRoundRobin([]string{"a", "b", "c"}, balance.Config{EjectAfter: 2, EjectFor: time.Minute})
		require.NoError(t, err)
		defer bulwarkprom.WatchPicker(m, "backends", p, nil)()

		var held balance.Permit[string]
		var order []string
		rejected := false
		for range 6 {
			permit, err := p.Pick()
			require.NoError(t, err)
			order = append(order, permit.Node)
			switch {
			case permit.Node == "a":
				permit.Done(errDown)
			case permit.Node == "c" && !rejected:
				rejected = true
				permit.Done(fmt.Errorf("guard: %w", breaker.ErrOpen))
			case permit.Node == "b" && held == (balance.Permit[string]{}):
				held = permit
			default:
				permit.Done(nil)
			}
		}
		require.Equal(t, []string{"a", "b", "c", "a", "b", "b"}, order)

		compare(t, m, golden(t, "balance.txt"))
		held.Done(nil)
	})
}
