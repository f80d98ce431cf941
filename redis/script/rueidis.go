package script

import (
	"context"

	"github.com/redis/rueidis"

	"github.com/bulwark-go/bulwark/redis"
)

// Rueidis adapts a rueidis.Client — standalone, sentinel or cluster, built
// with the caller's options — to a Client. Subscribe is that of
// redis.Rueidis. The adapter never closes the client.
func Rueidis(c rueidis.Client) Client {
	return &rueidisClient{c: c, store: redis.Rueidis(c)}
}

type rueidisClient struct {
	c     rueidis.Client
	store redis.Store
}

func (r *rueidisClient) Eval(ctx context.Context, s *Script, keys []string, args ...string) ([]string, error) {
	res, err := r.c.Do(ctx, r.c.B().Evalsha().Sha1(s.sha).Numkeys(int64(len(keys))).Key(keys...).Arg(args...).Build()).AsStrSlice()
	if err != nil && isNoScript(err) {
		res, err = r.c.Do(ctx, r.c.B().Eval().Script(s.src).Numkeys(int64(len(keys))).Key(keys...).Arg(args...).Build()).AsStrSlice()
	}
	return res, err
}

func isNoScript(err error) bool {
	re, ok := rueidis.IsRedisErr(err)
	return ok && re.IsNoScript()
}

func (r *rueidisClient) Subscribe(ctx context.Context, channel string, message func(string)) (redis.Watch, error) {
	return r.store.Subscribe(ctx, channel, message)
}
