//go:build race

package bulwarkotel_test

// raceEnabled is set when the tests run under the race detector, which
// allocates on its own and would fail the allocation tests.
const raceEnabled = true
