package bulwarkgrpc

import (
	"context"
	"errors"
	"reflect"
	"slices"
	"strings"
	"sync/atomic"

	"github.com/bulwark-go/bulwark"
	"github.com/bulwark-go/bulwark/retry"
	"google.golang.org/grpc"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/peer"
	"google.golang.org/protobuf/proto"
)

// HedgeUnary returns a client interceptor that hedges the unary calls of the
// given methods (full names, "/orders.v1.Orders/Get"): if the first attempt
// has not answered after cfg.Delay, it sends the same request again, up to
// cfg.MaxHedges more times, takes the first answer and cancels the other
// attempts, whose servers see their contexts cancelled (Dean & Barroso,
// "The Tail at Scale", CACM 2013; gRFC A6 hedging, which grpc-go does not
// implement). Calls of other methods pass through untouched: list only
// idempotent methods, since a hedged call may run on several servers.
//
// An attempt answers with any status whose code is not one of
// WithRetryCodes (Unavailable by default): a NotFound is an answer and wins
// like an OK. An attempt with a retry code, or refused locally by a guard
// below, loses; if every attempt loses, the caller gets the first attempt's
// status. cfg.Budget, if set, must allow each extra attempt, as gRFC A6
// throttles hedges like retries.
//
// The caller's reply is filled by the winner only. The first attempt decodes
// into it directly; a later attempt decodes into a new message of the same
// type, copied into the reply if it wins (proto.Merge for protobuf messages,
// a shallow copy for other codecs' pointer types), after every attempt has
// returned, so no goroutine of the call outlives it and the reply is never
// written concurrently. An invalid cfg, a method name that is not
// "/service/method", or an invalid option is an error matching
// ErrInvalidConfig (or retry.ErrInvalidConfig for cfg).
func HedgeUnary(cfg retry.HedgeConfig, methods []string, opts ...Option) (grpc.UnaryClientInterceptor, error) {
	o, err := newOptions(kindHedge, opts)
	if err != nil {
		return nil, err
	}
	if len(methods) == 0 {
		return nil, configErrorf("HedgeUnary: no methods (hedge only idempotent methods, named \"/service/method\")")
	}
	set := make(map[string]struct{}, len(methods))
	for _, m := range methods {
		if !strings.HasPrefix(m, "/") || strings.Count(m, "/") != 2 || strings.HasSuffix(m, "/") || strings.HasPrefix(m, "//") {
			return nil, configErrorf("HedgeUnary: method %q not a full method name \"/service/method\"", m)
		}
		set[m] = struct{}{}
	}
	// Hedge validates cfg first on each call; check it once here, with a
	// call whose context has ended and whose one attempt returns that
	// (which tells cfg.Budget nothing).
	if _, err := retry.Hedge(canceled, cfg, func(ctx context.Context) (struct{}, error) { return struct{}{}, ctx.Err() }); !errors.Is(err, context.Canceled) {
		return nil, err
	}
	h := &hedger{cfg: cfg, methods: set, codes: o.retryCodes}
	return h.unary, nil
}

var canceled = func() context.Context {
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	return ctx
}()

type hedger struct {
	cfg     retry.HedgeConfig
	methods map[string]struct{}
	codes   codeSet
}

// answer is one attempt's outcome as Hedge sees it: reply is where it
// decoded, err the status it answered with (nil for OK), out what it wrote
// for the caller's output options (nil for the first attempt, which writes
// the caller's own).
type answer struct {
	reply any
	err   error
	out   *outputs
}

// outputs are a later attempt's private copies of the call options that
// grpc-go writes into (Header, Trailer, Peer): concurrent attempts must not
// write the caller's variables, so each writes its own and the winner's are
// copied over once every attempt has returned.
type outputs struct {
	header, trailer metadata.MD
	peer            peer.Peer
}

func (h *hedger) unary(ctx context.Context, method string, req, reply any, cc *grpc.ClientConn, invoker grpc.UnaryInvoker, opts ...grpc.CallOption) error {
	if _, ok := h.methods[method]; !ok {
		return invoker(ctx, method, req, reply, cc, opts...)
	}
	// OnFinish callbacks run once, for the hedged call as a whole, rather
	// than once per attempt; output options are private to each later
	// attempt (see outputs).
	first, shared := opts, opts
	var (
		onFinish []func(error)
		hdr, trl *metadata.MD
		pr       *peer.Peer
	)
	for _, o := range opts {
		switch o := o.(type) {
		case grpc.OnFinishCallOption:
			onFinish = append(onFinish, o.OnFinish)
		case grpc.HeaderCallOption:
			hdr = o.HeaderAddr
		case grpc.TrailerCallOption:
			trl = o.TrailerAddr
		case grpc.PeerCallOption:
			pr = o.PeerAddr
		default:
			continue
		}
		first, shared = nil, nil
	}
	if first == nil {
		first = slices.DeleteFunc(slices.Clone(opts), func(o grpc.CallOption) bool {
			_, ok := o.(grpc.OnFinishCallOption)
			return ok
		})
		shared = slices.DeleteFunc(slices.Clone(opts), func(o grpc.CallOption) bool {
			switch o.(type) {
			case grpc.OnFinishCallOption, grpc.HeaderCallOption, grpc.TrailerCallOption, grpc.PeerCallOption:
				return true
			}
			return false
		})
	}
	newReply := maker(reply)
	var started atomic.Int32
	a, err := retry.Hedge(ctx, h.cfg, func(actx context.Context) (answer, error) {
		dst, callOpts := reply, first
		var out *outputs
		if started.Add(1) > 1 {
			dst, out = newReply(), &outputs{}
			callOpts = slices.Clip(shared)
			if hdr != nil {
				callOpts = append(callOpts, grpc.Header(&out.header))
			}
			if trl != nil {
				callOpts = append(callOpts, grpc.Trailer(&out.trailer))
			}
			if pr != nil {
				callOpts = append(callOpts, grpc.Peer(&out.peer))
			}
		}
		err := invoker(actx, method, req, dst, cc, callOpts...)
		if err == nil || (!errors.Is(err, bulwark.ErrNotAttempted) && !h.codes.has(codeOf(err))) {
			return answer{reply: dst, err: err, out: out}, nil // an answer: it wins
		}
		return answer{}, err
	})
	if err == nil && a.out != nil {
		if a.err == nil {
			copyInto(reply, a.reply)
		}
		if hdr != nil {
			*hdr = a.out.header
		}
		if trl != nil {
			*trl = a.out.trailer
		}
		if pr != nil {
			*pr = a.out.peer
		}
	}
	if err != nil {
		err = finalStatus(ctx, err)
	} else {
		err = a.err
	}
	for _, f := range onFinish {
		f(err)
	}
	return err
}

// maker returns a function that makes new, empty messages of reply's type.
// It reads reply's type now, on the calling goroutine, before any attempt
// decodes into reply.
func maker(reply any) func() any {
	if m, ok := reply.(proto.Message); ok {
		mt := m.ProtoReflect().Type()
		return func() any { return mt.New().Interface() }
	}
	t := reflect.TypeOf(reply)
	if t == nil || t.Kind() != reflect.Pointer {
		return func() any { return reply } // not decodable into anyway: the codec will say so
	}
	return func() any { return reflect.New(t.Elem()).Interface() }
}

// copyInto makes dst hold src's value; both have the same type.
func copyInto(dst, src any) {
	if m, ok := dst.(proto.Message); ok {
		proto.Reset(m)
		proto.Merge(m, src.(proto.Message))
		return
	}
	dv, sv := reflect.ValueOf(dst), reflect.ValueOf(src)
	if dv.Kind() == reflect.Pointer && !dv.IsNil() && dv.Type() == sv.Type() {
		dv.Elem().Set(sv.Elem())
	}
}
