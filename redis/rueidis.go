package redis

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"sync"

	"github.com/redis/rueidis"
)

// Rueidis adapts a rueidis.Client — standalone, sentinel or cluster, built
// with the caller's options — to a Store. The cache never closes it.
//
// Track opens one dedicated connection per node the client knows
// (Client.Nodes) and enables broadcast tracking on each, because in a
// cluster a node reports only the keys it holds; a change in the set of
// nodes makes Ping fail, so the cache reopens the stream (and flushes L1).
func Rueidis(c rueidis.Client) Store {
	return &rueidisStore{c: c, scripts: map[*Script]*rueidis.Lua{}}
}

type rueidisStore struct {
	c rueidis.Client

	mu      sync.Mutex // guards scripts
	scripts map[*Script]*rueidis.Lua
}

func (s *rueidisStore) Get(ctx context.Context, key string) ([]byte, bool, error) {
	b, err := s.c.Do(ctx, s.c.B().Get().Key(key).Build()).AsBytes()
	if rueidis.IsRedisNil(err) {
		return nil, false, nil
	}
	if err != nil {
		return nil, false, err
	}
	return b, true, nil
}

func (s *rueidisStore) lua(script *Script) *rueidis.Lua {
	s.mu.Lock()
	defer s.mu.Unlock()
	l, ok := s.scripts[script]
	if !ok {
		l = rueidis.NewLuaScript(script.Source())
		s.scripts[script] = l
	}
	return l
}

func (s *rueidisStore) Eval(ctx context.Context, script *Script, keys []string, args ...string) ([]string, error) {
	return s.lua(script).Exec(ctx, s.c, keys, args).AsStrSlice()
}

func (s *rueidisStore) Track(ctx context.Context, prefix string, invalidate func([]string)) (Watch, error) {
	nodes := s.c.Nodes()
	w := newRueidisWatch(s.c, nodes)
	onInvalidations := func(ms []rueidis.RedisMessage) {
		if ms == nil {
			invalidate(nil)
			return
		}
		keys := make([]string, 0, len(ms))
		for i := range ms {
			if k, err := ms[i].ToString(); err == nil {
				keys = append(keys, k)
			}
		}
		invalidate(keys)
	}
	for _, addr := range w.addrs {
		dc, release := nodes[addr].Dedicate()
		// The hook goes in before tracking starts, so no invalidation
		// sent after CLIENT TRACKING ON is missed.
		w.add(dc, release, dc.SetOnInvalidations(onInvalidations))
		err := dc.Do(ctx, dc.B().ClientTracking().On().Prefix().Prefix(prefix).Bcast().Build()).Error()
		if err != nil {
			w.Close()
			if _, ok := rueidis.IsRedisErr(err); ok {
				return nil, fmt.Errorf("%w: CLIENT TRACKING on %s: %v", ErrUnsupported, addr, err)
			}
			return nil, err
		}
	}
	return w, nil
}

func (s *rueidisStore) Subscribe(ctx context.Context, channel string, message func(string)) (Watch, error) {
	nodes := s.c.Nodes()
	w := newRueidisWatch(s.c, nodes)
	if len(w.addrs) == 0 {
		return nil, errors.New("redis: client knows no node")
	}
	// PUBLISH reaches every node of a cluster, so one subscription is enough.
	dc, release := nodes[w.addrs[0]].Dedicate()
	subscribed := make(chan struct{})
	var once sync.Once
	w.add(dc, release, dc.SetPubSubHooks(rueidis.PubSubHooks{
		OnMessage: func(m rueidis.PubSubMessage) { message(m.Message) },
		OnSubscription: func(s rueidis.PubSubSubscription) {
			if s.Kind == "subscribe" && s.Channel == channel {
				once.Do(func() { close(subscribed) })
			}
		},
	}))
	if err := dc.Do(ctx, dc.B().Subscribe().Channel(channel).Build()).Error(); err != nil {
		w.Close()
		return nil, err
	}
	select {
	case <-subscribed:
		return w, nil
	case <-w.Lost():
		w.Close()
		return nil, errors.New("redis: subscription connection lost")
	case <-ctx.Done():
		w.Close()
		return nil, ctx.Err()
	}
}

// rueidisWatch holds the dedicated connections of one stream.
type rueidisWatch struct {
	c     rueidis.Client
	addrs []string // sorted node addresses when the stream opened

	mu    sync.Mutex // guards conns
	conns []rueidis.DedicatedClient

	lost     chan struct{}
	lostOnce sync.Once
	stop     chan struct{}
	stopOnce sync.Once
	wg       sync.WaitGroup // the goroutines watching the hooks' error channels
}

func newRueidisWatch(c rueidis.Client, nodes map[string]rueidis.Client) *rueidisWatch {
	addrs := make([]string, 0, len(nodes))
	for a := range nodes {
		addrs = append(addrs, a)
	}
	slices.Sort(addrs)
	return &rueidisWatch{c: c, addrs: addrs, lost: make(chan struct{}), stop: make(chan struct{})}
}

func (w *rueidisWatch) add(dc rueidis.DedicatedClient, release func(), errs <-chan error) {
	w.mu.Lock()
	w.conns = append(w.conns, dc)
	w.mu.Unlock()
	_ = release // Close of a dedicated client releases it.
	w.wg.Add(1)
	go func() {
		defer w.wg.Done()
		select {
		case <-errs: // the hooks will not be called any more
			w.markLost()
		case <-w.stop:
		}
	}()
}

func (w *rueidisWatch) markLost() { w.lostOnce.Do(func() { close(w.lost) }) }

func (w *rueidisWatch) Lost() <-chan struct{} { return w.lost }

func (w *rueidisWatch) Ping(ctx context.Context) error {
	w.mu.Lock()
	conns := slices.Clone(w.conns)
	w.mu.Unlock()
	for _, dc := range conns {
		if err := dc.Do(ctx, dc.B().Ping().Build()).Error(); err != nil {
			return err
		}
	}
	now := w.c.Nodes()
	if len(now) != len(w.addrs) {
		return errors.New("redis: cluster nodes changed")
	}
	for _, a := range w.addrs {
		if _, ok := now[a]; !ok {
			return errors.New("redis: cluster nodes changed")
		}
	}
	return nil
}

func (w *rueidisWatch) Close() {
	w.stopOnce.Do(func() {
		close(w.stop)
		w.mu.Lock()
		conns := w.conns
		w.conns = nil
		w.mu.Unlock()
		for _, dc := range conns {
			// Closing the connection (rather than returning it to the
			// pool) ends tracking or the subscription on the server too,
			// and does not wait for a server that stopped answering.
			dc.Close()
		}
		w.wg.Wait()
		w.markLost()
	})
}
