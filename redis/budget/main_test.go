package budget_test

import (
	"testing"

	"go.uber.org/goleak"

	"github.com/bulwark-go/bulwark/redis/internal/redistest"
)

// TestMain fails the package if a goroutine outlives the tests: every
// Budget and client a test opens is closed by its cleanup.
func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m, goleak.IgnoreAnyFunction("github.com/redis/rueidis.(*clusterClient)._refresh.func2"),
		goleak.Cleanup(func(int) { redistest.StopAll() }))
}
