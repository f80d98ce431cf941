package replica_test

import (
	"testing"

	"go.uber.org/goleak"
)

// TestMain fails the package if a goroutine outlives the tests: every
// router and client a test opens is closed by its cleanup.
func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m)
}
