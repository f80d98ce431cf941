package bulwarkgrpc

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/bulwark-go/bulwark"
	"google.golang.org/genproto/googleapis/rpc/errdetails"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/types/known/durationpb"
)

// ErrInvalidConfig matches every error of this package's constructors: a nil
// guard, an option out of range or given to a constructor it does not apply
// to. The message names the argument or option and its value, as in
// "bulwarkgrpc: WithPushback(-1s) negative".
var ErrInvalidConfig = errors.New("bulwarkgrpc: invalid config")

// PushbackKey is the trailer by which a server tells a client when to retry
// (gRFC A6, "gRPC Retry Design",
// https://github.com/grpc/proposal/blob/master/A6-client-retries.md): a
// non-negative integer of milliseconds asks for a retry after that long; a
// negative or malformed value asks for none. The shedding and rate-limiting
// server interceptors set it, and the retry interceptor honours it, as
// grpc-go's own retry policy does.
const PushbackKey = "grpc-retry-pushback-ms"

type configError struct{ msg string }

func (e *configError) Error() string { return e.msg }
func (e *configError) Unwrap() error { return ErrInvalidConfig }

func configErrorf(format string, args ...any) error {
	return &configError{msg: "bulwarkgrpc: " + fmt.Sprintf(format, args...)}
}

// statusError is a gRPC status that still unwraps to the error behind it,
// so that status.Code and status.FromError see the status while errors.Is
// finds breaker.ErrOpen, retry.ErrBudget or bulwark.ErrNotAttempted in the
// same process. (The status alone crosses the wire.)
type statusError struct {
	st  *status.Status
	err error
}

func (e *statusError) Error() string {
	return "rpc error: code = " + e.st.Code().String() + " desc = " + e.st.Message()
}

// GRPCStatus is what status.FromError and status.Code look for.
func (e *statusError) GRPCStatus() *status.Status { return e.st }

func (e *statusError) Unwrap() error { return e.err }

// localRejection turns a guard's refusal into the status a caller receives:
// code, the message "bulwark: <what>: <guard's error>", and, when the guard
// knows when it admits again, that moment in the message and as a
// google.rpc.RetryInfo detail (the standard way to carry a retry delay,
// https://google.aip.dev/193).
func localRejection(code codes.Code, what string, err error) error {
	msg := "bulwark: " + what + ": " + err.Error()
	at, ok := bulwark.RetryAt(err)
	var st *status.Status
	if ok {
		wait := max(time.Until(at), 0)
		msg += fmt.Sprintf(" (retry in %v)", wait.Round(time.Millisecond))
		st = status.New(code, msg)
		if d, derr := st.WithDetails(&errdetails.RetryInfo{RetryDelay: durationpb.New(wait)}); derr == nil {
			st = d
		}
	} else {
		st = status.New(code, msg)
	}
	return &statusError{st: st, err: err}
}

// RetryDelay returns the retry delay a status error carries in a
// google.rpc.RetryInfo detail, as the breaker and bulkhead interceptors'
// rejections do (and many Google APIs). ok is false when err has none.
// It works on errors received over the wire as well as on local ones.
func RetryDelay(err error) (d time.Duration, ok bool) {
	st, isStatus := status.FromError(err)
	if !isStatus || st == nil {
		return 0, false
	}
	for _, det := range st.Details() {
		if ri, isRI := det.(*errdetails.RetryInfo); isRI && ri.GetRetryDelay() != nil {
			return ri.GetRetryDelay().AsDuration(), true
		}
	}
	return 0, false
}

// pushback reads the server's retry pushback from a trailer. present is false
// when the trailer has no such key; then wait and stop mean nothing. stop is
// true when the server asked for no retry (a negative or malformed value).
func pushback(md metadata.MD) (wait time.Duration, stop, present bool) {
	vs := md[PushbackKey]
	if len(vs) == 0 {
		return 0, false, false
	}
	ms, err := strconv.ParseInt(strings.TrimSpace(vs[0]), 10, 64)
	if err != nil || ms < 0 {
		return 0, true, true
	}
	if ms > int64(maxPushback/time.Millisecond) {
		return maxPushback, false, true
	}
	return time.Duration(ms) * time.Millisecond, false, true
}

// maxPushback saturates a hostile pushback well below Duration overflow; the
// Retrier caps it again at its Backoff's Cap.
const maxPushback = 24 * time.Hour

func pushbackValue(d time.Duration) string {
	ms := d.Milliseconds()
	if d > 0 && ms == 0 {
		ms = 1 // never round a wait down to "retry at once"
	}
	return strconv.FormatInt(ms, 10)
}

// codeSet is a set of gRPC codes as a bitmask (codes are 0..16).
type codeSet uint32

func codesOf(cs ...codes.Code) codeSet {
	var s codeSet
	for _, c := range cs {
		s |= 1 << c
	}
	return s
}

func (s codeSet) has(c codes.Code) bool { return c < 32 && s&(1<<c) != 0 }

func checkCodes(opt string, cs []codes.Code) error {
	for _, c := range cs {
		if c == codes.OK || c > codes.Unauthenticated {
			return configErrorf("%s(%v) not an error code in [1,16]", opt, c)
		}
	}
	return nil
}

// DefaultFailureCodes are the codes that say a server or the path to it
// failed, rather than that it answered: Unknown, DeadlineExceeded,
// ResourceExhausted, Internal, Unavailable and DataLoss. The breaker counts
// them as failures and the balancers count them toward ejection; every other
// code is an answer (NotFound, InvalidArgument, PermissionDenied, …: the
// server is healthy), and Canceled (the caller gave up) counts toward
// nothing. The mapping follows the gRPC status-code guide
// (https://grpc.github.io/grpc/core/md_doc_statuscodes.html): these are the
// codes the library itself produces for transport and server trouble, plus
// the server's own overload signal.
var DefaultFailureCodes = []codes.Code{
	codes.Unknown, codes.DeadlineExceeded, codes.ResourceExhausted,
	codes.Internal, codes.Unavailable, codes.DataLoss,
}

var defaultFailures = codesOf(DefaultFailureCodes...)

// outcome maps an RPC's error to what bulwark's guards understand: nil for
// an answer, context.Canceled for a caller that gave up, and err itself for
// a failure. Local rejections pass through unchanged.
func outcome(err error, failures codeSet) error {
	if err == nil || errors.Is(err, bulwark.ErrNotAttempted) {
		return err
	}
	code := codeOf(err)
	switch {
	case code == codes.Canceled:
		return context.Canceled
	case failures.has(code):
		return err
	default:
		return nil
	}
}

// codeOf is status.Code that also reads a bare context error as gRPC does.
func codeOf(err error) codes.Code {
	if _, ok := status.FromError(err); !ok {
		switch {
		case errors.Is(err, context.Canceled):
			return codes.Canceled
		case errors.Is(err, context.DeadlineExceeded):
			return codes.DeadlineExceeded
		}
	}
	return status.Code(err)
}
