package breakershare_test

import (
	"context"
	"errors"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	goredis "github.com/redis/go-redis/v9"
	"github.com/sony/gobreaker/v2"

	"github.com/bulwark-go/bulwark/breaker"
	"github.com/bulwark-go/bulwark/redis/breakershare"
	"github.com/bulwark-go/bulwark/redis/internal/redistest"
	"github.com/bulwark-go/bulwark/redis/script"
)

// goredisStore is gobreaker's SharedDataStore on go-redis, written the way
// its documentation describes: Lock is SET NX with an expiry (an error
// when another holder has it), Unlock deletes, the state is a plain key.
type goredisStore struct{ rdb *goredis.Client }

var errLocked = errors.New("locked")

func (s goredisStore) Lock(name string) error {
	ok, err := s.rdb.SetNX(context.Background(), name, "1", 5*time.Second).Result()
	if err != nil {
		return err
	}
	if !ok {
		return errLocked
	}
	return nil
}

func (s goredisStore) Unlock(name string) error {
	return s.rdb.Del(context.Background(), name).Err()
}

func (s goredisStore) GetData(name string) ([]byte, error) {
	b, err := s.rdb.Get(context.Background(), name).Bytes()
	if errors.Is(err, goredis.Nil) {
		return nil, nil
	}
	return b, err
}

func (s goredisStore) SetData(name string, data []byte) error {
	return s.rdb.Set(context.Background(), name, data, 0).Err()
}

// The fleet scenario: two instances share one breaker; 8 goroutines (4 per
// instance) make 3 calls of 50 ms each, 24 calls in all. Unserialised, it
// takes 3 × 50 ms = 150 ms; x-unserialised is the wall time over that.
func BenchmarkSharedBreaker(b *testing.B) {
	addr := redistest.Addr(b)
	const call = 50 * time.Millisecond
	const goroutines, calls = 8, 3
	run := func(b *testing.B, do [2]func() error) {
		var errs atomic.Int64
		var total time.Duration
		for b.Loop() {
			start := time.Now()
			var wg sync.WaitGroup
			for g := range goroutines {
				wg.Go(func() {
					for range calls {
						if err := do[g%2](); err != nil {
							errs.Add(1)
						}
					}
				})
			}
			wg.Wait()
			total += time.Since(start)
		}
		b.ReportMetric(float64(total)/float64(b.N)/float64(calls*call), "x-unserialised")
		b.ReportMetric(float64(errs.Load())/float64(b.N), "errors/op")
	}
	sleep := func() { time.Sleep(call) } // the protected call

	b.Run("bulwark", func(b *testing.B) {
		pfx := redistest.Prefix(b)
		var do [2]func() error
		for i := range do {
			sb, err := breakershare.New(script.Rueidis(redistest.Client(b, addr)),
				breakershare.Config{Prefix: pfx, Name: "dep", Breaker: breaker.Config{ConsecutiveFailures: 5}})
			if err != nil {
				b.Fatal(err)
			}
			b.Cleanup(sb.Close)
			do[i] = func() error { return sb.Do(context.Background(), func(context.Context) error { sleep(); return nil }) }
		}
		run(b, do)
	})
	b.Run("gobreaker", func(b *testing.B) {
		name := redistest.Prefix(b)
		var do [2]func() error
		for i := range do {
			rdb := goredis.NewClient(&goredis.Options{Addr: addr})
			b.Cleanup(func() { rdb.Close() })
			cb, err := gobreaker.NewDistributedCircuitBreaker[struct{}](goredisStore{rdb}, gobreaker.Settings{Name: name})
			if err != nil {
				b.Fatal(err)
			}
			do[i] = func() error {
				_, err := cb.Execute(func() (struct{}, error) { sleep(); return struct{}{}, nil })
				return err
			}
		}
		run(b, do)
	})
}
