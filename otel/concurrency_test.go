package bulwarkotel_test

import (
	"fmt"
	"sync"
	"testing"

	"github.com/bulwark-go/bulwark/breaker"
	bulwarkotel "github.com/bulwark-go/bulwark/otel"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// TestObserveConcurrent has goroutines race on the first events of new
// names and checks that no event is lost.
func TestObserveConcurrent(t *testing.T) {
	const goroutines, events, names = 8, 200, 4
	meter, reader := newMeter(t)
	m, err := bulwarkotel.Breaker(meter)
	require.NoError(t, err)
	var wg sync.WaitGroup
	for g := range goroutines {
		wg.Go(func() {
			for i := range events {
				m.Observe(breaker.Event{Kind: breaker.EventSuccess, Name: fmt.Sprint("n", (g+i)%names)})
			}
		})
	}
	wg.Wait()
	want := map[string]int64{}
	for n := range names {
		want[fmt.Sprintf("name=n%d,outcome=success", n)] = goroutines * events / names
	}
	assert.Equal(t, want, collect(t, reader).values(t, "bulwark.breaker.calls"))
}
