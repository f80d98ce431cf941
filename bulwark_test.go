package bulwark_test

import (
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/bulwark-go/bulwark"
)

type rejected struct{ until time.Time }

func (r *rejected) Error() string        { return "rejected" }
func (r *rejected) Is(target error) bool { return target == bulwark.ErrNotAttempted }
func (r *rejected) RetryAt() time.Time   { return r.until }

func TestRetryAtThroughWrapping(t *testing.T) {
	until := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	err := fmt.Errorf("attempt 2: %w", &rejected{until})
	if !errors.Is(err, bulwark.ErrNotAttempted) {
		t.Fatal("wrapped rejection does not match ErrNotAttempted")
	}
	at, ok := bulwark.RetryAt(err)
	if !ok || !at.Equal(until) {
		t.Fatalf("RetryAt = %v, %v; want %v, true", at, ok, until)
	}
}

func TestRetryAtAbsent(t *testing.T) {
	if _, ok := bulwark.RetryAt(errors.New("plain")); ok {
		t.Fatal("RetryAt found a moment in a plain error")
	}
	if _, ok := bulwark.RetryAt(&rejected{}); ok {
		t.Fatal("RetryAt reported a zero moment as known")
	}
}
