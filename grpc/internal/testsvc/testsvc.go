// Package testsvc is a small gRPC service for the tests and benchmarks of
// bulwarkgrpc, written by hand (no protoc): a service descriptor whose
// messages are protobuf's wrapperspb.StringValue, with a unary method and a
// bidirectional stream, served by functions the test chooses, on real
// loopback TCP servers.
package testsvc

import (
	"context"
	"errors"
	"io"
	"net"
	"sync"
	"sync/atomic"
	"testing"

	"google.golang.org/grpc"
	"google.golang.org/grpc/health"
	healthpb "google.golang.org/grpc/health/grpc_health_v1"
	"google.golang.org/protobuf/types/known/wrapperspb"
)

// The service and its methods' full names.
const (
	Service      = "bulwark.test.Echo"
	UnaryMethod  = "/bulwark.test.Echo/Unary"
	StreamMethod = "/bulwark.test.Echo/Stream"
)

// Server is the test service's behaviour. A nil Unary echoes its input; a
// nil Stream echoes every message until the client closes its side.
type Server struct {
	Unary  func(ctx context.Context, in string) (string, error)
	Stream func(ctx context.Context, recv func() (string, error), send func(string) error) error

	calls    atomic.Int64 // unary calls and streams served
	canceled atomic.Int64 // handlers that returned after their context ended
}

// Calls returns the number of unary calls and streams the server has seen.
func (s *Server) Calls() int64 { return s.calls.Load() }

// Canceled returns how many handlers returned with their context ended
// (cancelled by the client, or past the deadline).
func (s *Server) Canceled() int64 { return s.canceled.Load() }

func (s *Server) unary(ctx context.Context, in string) (string, error) {
	s.calls.Add(1)
	defer func() {
		if ctx.Err() != nil {
			s.canceled.Add(1)
		}
	}()
	if s.Unary == nil {
		return in, nil
	}
	return s.Unary(ctx, in)
}

func (s *Server) stream(ss grpc.ServerStream) error {
	s.calls.Add(1)
	ctx := ss.Context()
	recv := func() (string, error) {
		m := new(wrapperspb.StringValue)
		if err := ss.RecvMsg(m); err != nil {
			return "", err
		}
		return m.GetValue(), nil
	}
	send := func(v string) error { return ss.SendMsg(wrapperspb.String(v)) }
	if s.Stream != nil {
		return s.Stream(ctx, recv, send)
	}
	for {
		v, err := recv()
		if errors.Is(err, io.EOF) {
			return nil
		}
		if err != nil {
			return err
		}
		if err := send(v); err != nil {
			return err
		}
	}
}

type handler interface {
	unary(ctx context.Context, in string) (string, error)
	stream(ss grpc.ServerStream) error
}

// Desc is the hand-written service descriptor.
var Desc = grpc.ServiceDesc{
	ServiceName: Service,
	HandlerType: (*handler)(nil),
	Methods: []grpc.MethodDesc{{
		MethodName: "Unary",
		Handler: func(srv any, ctx context.Context, dec func(any) error, interceptor grpc.UnaryServerInterceptor) (any, error) {
			in := new(wrapperspb.StringValue)
			if err := dec(in); err != nil {
				return nil, err
			}
			call := func(ctx context.Context, req any) (any, error) {
				out, err := srv.(handler).unary(ctx, req.(*wrapperspb.StringValue).GetValue())
				if err != nil {
					return nil, err
				}
				return wrapperspb.String(out), nil
			}
			if interceptor == nil {
				return call(ctx, in)
			}
			return interceptor(ctx, in, &grpc.UnaryServerInfo{Server: srv, FullMethod: UnaryMethod}, call)
		},
	}},
	Streams: []grpc.StreamDesc{{
		StreamName:    "Stream",
		Handler:       func(srv any, ss grpc.ServerStream) error { return srv.(handler).stream(ss) },
		ServerStreams: true,
		ClientStreams: true,
	}},
}

// StreamDesc is the stream method's descriptor, for ClientConn.NewStream.
var StreamDesc = &Desc.Streams[0]

// Call makes one unary call.
func Call(ctx context.Context, cc grpc.ClientConnInterface, in string, opts ...grpc.CallOption) (string, error) {
	out := new(wrapperspb.StringValue)
	if err := cc.Invoke(ctx, UnaryMethod, wrapperspb.String(in), out, opts...); err != nil {
		return "", err
	}
	return out.GetValue(), nil
}

// Stream is the client side of the bidirectional stream.
type Stream struct{ grpc.ClientStream }

// OpenStream opens the bidirectional stream.
func OpenStream(ctx context.Context, cc grpc.ClientConnInterface, opts ...grpc.CallOption) (*Stream, error) {
	cs, err := cc.NewStream(ctx, StreamDesc, StreamMethod, opts...)
	if err != nil {
		return nil, err
	}
	return &Stream{cs}, nil
}

// Send sends one message.
func (s *Stream) Send(v string) error { return s.SendMsg(wrapperspb.String(v)) }

// Recv receives one message.
func (s *Stream) Recv() (string, error) {
	m := new(wrapperspb.StringValue)
	if err := s.RecvMsg(m); err != nil {
		return "", err
	}
	return m.GetValue(), nil
}

// Running is a test server listening on loopback TCP.
type Running struct {
	Addr   string
	Health *health.Server
	srv    *grpc.Server
	once   sync.Once
	done   chan struct{}
}

// Stop stops the server at once (closing its connections) and waits for it.
func (r *Running) Stop() {
	r.once.Do(func() {
		r.srv.Stop()
		<-r.done
	})
}

// Listen serves s, and grpc's health service (reporting SERVING), on
// 127.0.0.1 on a free port until Stop is called.
func Listen(s *Server, opts ...grpc.ServerOption) (*Running, error) {
	lis, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, err
	}
	srv := grpc.NewServer(opts...)
	srv.RegisterService(&Desc, s)
	hs := health.NewServer()
	healthpb.RegisterHealthServer(srv, hs)
	r := &Running{Addr: lis.Addr().String(), Health: hs, srv: srv, done: make(chan struct{})}
	go func() {
		defer close(r.done)
		_ = srv.Serve(lis)
	}()
	return r, nil
}

// Start is Listen for a test: it fails tb on error and stops the server
// when tb ends.
func Start(tb testing.TB, s *Server, opts ...grpc.ServerOption) *Running {
	tb.Helper()
	r, err := Listen(s, opts...)
	if err != nil {
		tb.Fatalf("listen: %v", err)
	}
	tb.Cleanup(r.Stop)
	return r
}
