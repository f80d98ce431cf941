package bulwarkslog_test

import (
	"bytes"
	"context"
	"errors"
	"log/slog"
	"strings"
	"testing"
	"testing/synctest"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/bulwark-go/bulwark/balance"
	"github.com/bulwark-go/bulwark/breaker"
	"github.com/bulwark-go/bulwark/bulkhead"
	"github.com/bulwark-go/bulwark/bulwarkslog"
	"github.com/bulwark-go/bulwark/cache"
	"github.com/bulwark-go/bulwark/chaos"
	"github.com/bulwark-go/bulwark/retry"
)

// textLogger logs to buf at level, without the time attribute.
func textLogger(buf *bytes.Buffer, level slog.Level) *slog.Logger {
	return slog.New(slog.NewTextHandler(buf, &slog.HandlerOptions{Level: level,
		ReplaceAttr: func(groups []string, a slog.Attr) slog.Attr {
			if a.Key == slog.TimeKey && len(groups) == 0 {
				return slog.Attr{}
			}
			return a
		}}))
}

func lines(buf *bytes.Buffer) []string {
	s := strings.TrimSpace(buf.String())
	buf.Reset()
	if s == "" {
		return nil
	}
	return strings.Split(s, "\n")
}

var errBoom = errors.New("boom")

func TestBreakerEventsLogged(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		var buf bytes.Buffer
		b, err := breaker.New(breaker.Config{Name: "db", ConsecutiveFailures: 1, OpenFor: time.Second,
			Observer: bulwarkslog.Observer[breaker.Event](textLogger(&buf, slog.LevelDebug))})
		require.NoError(t, err)
		_ = b.Do(t.Context(), func(context.Context) error { return errBoom })
		_ = b.Do(t.Context(), func(context.Context) error { return nil })
		assert.Equal(t, []string{
			`level=DEBUG msg="breaker failure" bulwark.component=breaker bulwark.name=db bulwark.event=failure bulwark.error=boom`,
			`level=WARN msg="breaker state change" bulwark.component=breaker bulwark.name=db bulwark.event=state_change bulwark.from=closed bulwark.to=open bulwark.until=2000-01-01T00:00:01.000Z`,
			`level=DEBUG msg="breaker rejected" bulwark.component=breaker bulwark.name=db bulwark.event=rejected bulwark.until=2000-01-01T00:00:01.000Z bulwark.reason=open bulwark.error="breaker \"db\": open until 2000-01-01T00:00:01Z"`,
		}, lines(&buf))
	})
}

func TestRetryAndBulkheadEventsLogged(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		var buf bytes.Buffer
		logger := textLogger(&buf, slog.LevelDebug)
		r, err := retry.New(retry.Config{Name: "api", Backoff: retry.Constant(time.Second),
			Observer: bulwarkslog.Observer[retry.Event](logger)})
		require.NoError(t, err)
		calls := 0
		require.NoError(t, r.Do(t.Context(), func(context.Context) error {
			if calls++; calls == 1 {
				return errBoom
			}
			return nil
		}))
		bh, err := bulkhead.New(bulkhead.Config{MaxConcurrent: 1, Observer: bulwarkslog.Observer[bulkhead.Event](logger)})
		require.NoError(t, err)
		require.NoError(t, bh.SetLimit(2))
		assert.Equal(t, []string{
			`level=DEBUG msg="retry retry" bulwark.component=retry bulwark.name=api bulwark.event=retry bulwark.attempt=1 bulwark.delay=1s bulwark.error=boom`,
			`level=DEBUG msg="retry success" bulwark.component=retry bulwark.name=api bulwark.event=success bulwark.attempt=2`,
			`level=DEBUG msg="bulkhead limit changed" bulwark.component=bulkhead bulwark.event=limit_changed bulwark.old_limit=1 bulwark.new_limit=2`,
		}, lines(&buf))
	})
}

func TestLevels(t *testing.T) {
	var buf bytes.Buffer
	observe := bulwarkslog.Observer[breaker.Event](textLogger(&buf, slog.LevelInfo),
		bulwarkslog.WithLevel("breaker", "rejected", slog.LevelInfo))
	b, err := breaker.New(breaker.Config{Observer: observe})
	require.NoError(t, err)
	_ = b.Do(context.Background(), func(context.Context) error { return nil }) // Debug: not logged
	b.Trip()
	_, _ = b.Allow()
	got := lines(&buf)
	require.Len(t, got, 2)
	assert.True(t, strings.HasPrefix(got[0], `level=WARN msg="breaker state change"`), got[0])
	assert.True(t, strings.HasPrefix(got[1], `level=INFO msg="breaker rejected"`), got[1])

	assert.Equal(t, slog.LevelWarn, bulwarkslog.DefaultLevel("balance", "ejected"))
	assert.Equal(t, slog.LevelDebug, bulwarkslog.DefaultLevel("retry", "retry"))
}

// TestDisabledLevelAllocatesNothing: an event the logger does not enable
// costs no allocation.
func TestDisabledLevelAllocatesNothing(t *testing.T) {
	var buf bytes.Buffer
	b, err := breaker.New(breaker.Config{Observer: bulwarkslog.Observer[breaker.Event](textLogger(&buf, slog.LevelInfo))})
	require.NoError(t, err)
	ctx := context.Background()
	ok := func(context.Context) error { return nil }
	assert.Zero(t, testing.AllocsPerRun(100, func() { _ = b.Do(ctx, ok) }))
	assert.Empty(t, buf.String())
}

func TestAppendAttrs(t *testing.T) {
	type custom struct {
		Kind         int
		Name         string
		NotAttempted bool
		RTT          time.Duration
		Value        []byte
		HTTPStatus   int
		unexported   int
	}
	attrs := bulwarkslog.AppendAttrs(nil, custom{Kind: 1, Name: "x", NotAttempted: true, RTT: time.Millisecond, Value: []byte("secret"), HTTPStatus: 503, unexported: 1})
	var keys []string
	for _, a := range attrs {
		keys = append(keys, a.String())
	}
	assert.Equal(t, []string{"bulwark.not_attempted=true", "bulwark.rtt=1ms", "bulwark.http_status=503"}, keys)
	assert.Empty(t, bulwarkslog.AppendAttrs(nil, 42))
	assert.Empty(t, bulwarkslog.AppendAttrs(nil, (*custom)(nil)))
}

func TestBalanceCacheAndChaosEventsLogged(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		var buf bytes.Buffer
		logger := textLogger(&buf, slog.LevelDebug)
		p, err := balance.NewRoundRobin([]string{"a:80", "b:80"}, balance.Config{Name: "backends", EjectAfter: 1,
			EjectFor: time.Second, MaxEjectedPercent: 50, Observer: bulwarkslog.Observer[balance.Event](logger)})
		require.NoError(t, err)
		pm, err := p.Pick()
		require.NoError(t, err)
		pm.Done(errBoom)
		pm, err = p.Pick()
		require.NoError(t, err)
		pm.Done(nil)
		time.Sleep(2 * time.Second) // the ejection ends; the next Pick returns a:80
		pm, err = p.Pick()
		require.NoError(t, err)
		pm.Done(nil)

		c, err := cache.New(cache.Config[string, int]{Capacity: 10, Name: "users",
			Observer: bulwarkslog.Observer[cache.Event[string]](logger)})
		require.NoError(t, err)
		defer c.Close()
		_, _ = c.Get("k")
		c.Set("k", 1)
		_, _ = c.Get("k")

		in, err := chaos.New(chaos.Config{Name: "flaky", Fault: chaos.Error(errBoom), Seed: 1, Disabled: true,
			Observer: bulwarkslog.Observer[chaos.Event](logger)})
		require.NoError(t, err)
		in.Enable()
		_ = in.Do(t.Context(), func(context.Context) error { return nil })
		assert.Equal(t, []string{
			`level=WARN msg="balance ejected" bulwark.component=balance bulwark.name=backends bulwark.event=ejected bulwark.node=a:80 bulwark.until=2000-01-01T00:00:01.000Z bulwark.failures=1 bulwark.ejections=1`,
			`level=WARN msg="balance returned" bulwark.component=balance bulwark.name=backends bulwark.event=returned bulwark.node=a:80`,
			`level=DEBUG msg="cache miss" bulwark.component=cache bulwark.name=users bulwark.event=miss bulwark.key=k`,
			`level=DEBUG msg="cache hit" bulwark.component=cache bulwark.name=users bulwark.event=hit bulwark.key=k`,
			`level=WARN msg="chaos switched" bulwark.component=chaos bulwark.name=flaky bulwark.event=switched bulwark.on=true`,
			`level=DEBUG msg="chaos injected" bulwark.component=chaos bulwark.name=flaky bulwark.event=injected bulwark.fault=error`,
		}, lines(&buf))
	})
}
