package bulwarkslog_test

import (
	"context"
	"errors"
	"log/slog"
	"os"
	"time"

	"github.com/bulwark-go/bulwark/breaker"
	"github.com/bulwark-go/bulwark/bulwarkslog"
)

func ExampleObserver() {
	// A text logger on stdout, without times so the output is stable.
	logger := slog.New(slog.NewTextHandler(os.Stdout, &slog.HandlerOptions{
		ReplaceAttr: func(groups []string, a slog.Attr) slog.Attr {
			if a.Key == slog.TimeKey || a.Key == "bulwark.until" {
				return slog.Attr{}
			}
			return a
		},
	}))
	b, _ := breaker.New(breaker.Config{
		Name:                "db",
		ConsecutiveFailures: 2,
		OpenFor:             time.Minute,
		Observer:            bulwarkslog.Observer[breaker.Event](logger),
	})
	for range 3 {
		_ = b.Do(context.Background(), func(context.Context) error { return errors.New("connection refused") })
	}
	// The logger is at Info: failures and rejections (Debug) are not
	// written, the state change (Warn) is.

	// Output:
	// level=WARN msg="breaker state change" bulwark.component=breaker bulwark.name=db bulwark.event=state_change bulwark.from=closed bulwark.to=open
}
