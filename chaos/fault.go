package chaos

import (
	"fmt"
	"math"
	"net/http"
	"time"
)

// faultKind says which fault a Fault is; the zero kind is an unset Fault.
type faultKind uint8

const (
	kindNone faultKind = iota
	kindError
	kindStatus
	kindLatency
	kindReset
	kindTruncate
	kindHang
)

// String returns the kind's stable name, as Event.Fault reports it.
func (k faultKind) String() string {
	switch k {
	case kindError:
		return "error"
	case kindStatus:
		return "status"
	case kindLatency:
		return "latency"
	case kindReset:
		return "reset"
	case kindTruncate:
		return "truncate"
	case kindHang:
		return "hang"
	}
	return "unset"
}

// Fault is what an Injector does to a call it picks. Build one with Error,
// Status, Latency, Reset, Truncate or Hang; the zero Fault is unset and New
// rejects it. A Fault is a small immutable value.
//
// How each fault acts on the three kinds of call:
//
//	fault        Transport (client)            Handler (server)                Do / Call
//	Error        returns the error             500 with the error's text       returns the error
//	Status       a synthetic response          writes the status               returns a *StatusError
//	Latency      waits, then sends             waits, then serves              waits, then calls
//	Reset        an ECONNRESET error           closes the TCP connection (RST) returns an ECONNRESET error
//	Truncate     the body ends after N bytes   the body ends after N bytes     calls, then loses the result
//	Hang         waits for the request's ctx   waits for the request's ctx     waits for ctx
//
// Latency, Truncate and a Reset of the server side look the same to the
// caller as the real thing: a wait, an io.ErrUnexpectedEOF while reading
// the body, a connection reset by peer. Every error an Injector produces
// matches ErrInjected as well as its cause.
type Fault struct {
	kind       faultKind
	err        error         // Error
	code       int           // Status
	retryAfter time.Duration // Status
	delay      Delay         // Latency
	n          int64         // Truncate
}

// Error returns a Fault that fails the call with err: a Transport returns it
// from RoundTrip (after closing the request body), a Handler answers 500
// Internal Server Error with err's text, Do and Call return it. The returned
// error matches both err and ErrInjected. A nil err is rejected by New.
func Error(err error) Fault { return Fault{kind: kindError, err: err} }

// Status returns a Fault that answers with the HTTP status code, and with a
// Retry-After header of retryAfter in whole seconds when retryAfter is
// positive (a server asking clients to back off). The Transport answers
// without sending the request; the Handler without running the wrapped
// handler; Do and Call return a *StatusError carrying code and retryAfter.
// New rejects a code outside [100, 599] and a retryAfter that is negative or
// not a whole number of seconds (the header has no fractions, RFC 9110
// §10.2.3).
func Status(code int, retryAfter time.Duration) Fault {
	return Fault{kind: kindStatus, code: code, retryAfter: retryAfter}
}

// Latency returns a Fault that delays the call by a duration drawn from d,
// then lets it proceed. The wait ends early when the call's context ends, and
// the call then fails with the context's error.
func Latency(d Delay) Fault { return Fault{kind: kindLatency, delay: d} }

// Reset returns a Fault that drops the connection. On the client side the
// Transport fails the request with an error that matches
// syscall.ECONNRESET, as a reset by the peer does, without sending it. On
// the server side the Handler hijacks the connection and closes it with
// SO_LINGER 0, so the kernel sends a TCP RST and the client reads
// "connection reset by peer"; where the connection cannot be hijacked
// (HTTP/2), it aborts the response with http.ErrAbortHandler, which resets
// the stream. Do and Call return the same ECONNRESET error.
func Reset() Fault { return Fault{kind: kindReset} }

// Truncate returns a Fault that lets the call run and cuts its response body
// after n bytes, as a connection dropped mid-response does. On the client side
// the body's reader then returns an error matching io.ErrUnexpectedEOF; on the
// server side the Handler sends the first n bytes and closes the connection,
// so the client reads io.ErrUnexpectedEOF from the real transport. A body of n
// bytes or fewer is untouched. Do and Call run the function, then return an
// error matching io.ErrUnexpectedEOF in place of its success (and Call a zero
// value): the work was done but its result did not arrive, the case that
// tests idempotency. New rejects a negative n.
func Truncate(n int64) Fault { return Fault{kind: kindTruncate, n: n} }

// Hang returns a Fault that never answers: the call waits until its context
// ends (a request's context, on both sides) and then fails with the
// context's error. Nothing is left behind: the waiting goroutine is the
// caller's own, and it returns when the context ends. On the server side a
// request's context ends when the client goes away or the server closes the
// connection (http.Server.Close); http.Server.Shutdown waits for it.
func Hang() Fault { return Fault{kind: kindHang} }

// String describes the fault the way it was built, e.g. "Status(503, 1s)".
func (f Fault) String() string {
	switch f.kind {
	case kindError:
		return fmt.Sprintf("Error(%v)", f.err)
	case kindStatus:
		return fmt.Sprintf("Status(%d, %v)", f.code, f.retryAfter)
	case kindLatency:
		return "Latency(" + f.delay.String() + ")"
	case kindReset:
		return "Reset()"
	case kindTruncate:
		return fmt.Sprintf("Truncate(%d)", f.n)
	case kindHang:
		return "Hang()"
	}
	return "unset"
}

// check returns why f cannot be used, or "".
func (f Fault) check() string {
	switch f.kind {
	case kindNone:
		return "is unset"
	case kindError:
		if f.err == nil {
			return "has a nil error"
		}
	case kindStatus:
		switch {
		case f.code < 100 || f.code > 599:
			return "has a status code outside [100, 599]"
		case f.retryAfter < 0:
			return "has a negative Retry-After"
		case f.retryAfter%time.Second != 0:
			return "has a Retry-After that is not whole seconds"
		}
	case kindLatency:
		return f.delay.check()
	case kindTruncate:
		if f.n < 0 {
			return "keeps a negative number of bytes"
		}
	}
	return ""
}

// statusText is the body of an injected Status response.
func (f Fault) statusText() string {
	return fmt.Sprintf("%d %s (injected by chaos)\n", f.code, http.StatusText(f.code))
}

// delayKind says which distribution a Delay draws from.
type delayKind uint8

const (
	delayNone delayKind = iota
	delayFixed
	delayUniform
	delayExponential
	delayPareto
)

// Delay is a distribution of latencies for Latency. Build one with Fixed,
// Uniform, Exponential or Pareto; the zero Delay is unset and New rejects it.
type Delay struct {
	kind   delayKind
	a, b   time.Duration // Fixed: a; Uniform: [a, b); Exponential: mean a; Pareto: minimum a; cap b (0: none)
	shape  float64       // Pareto
	capped bool          // b caps Exponential and Pareto
}

// Fixed returns the Delay that is always d (d ≥ 0).
func Fixed(d time.Duration) Delay { return Delay{kind: delayFixed, a: d} }

// Uniform returns the Delay drawn uniformly from [min, max)
// (0 ≤ min ≤ max; min == max is Fixed(min)).
func Uniform(min, max time.Duration) Delay { return Delay{kind: delayUniform, a: min, b: max} }

// Exponential returns the Delay drawn from the exponential distribution of
// the given mean (memoryless waits: queueing at a server busy at random),
// cut at max when max is positive (max 0 means no cap). mean must be
// positive, max zero or at least mean.
func Exponential(mean, max time.Duration) Delay {
	return Delay{kind: delayExponential, a: mean, b: max, capped: max > 0}
}

// Pareto returns the Delay drawn from the Pareto distribution with minimum
// min and tail index shape: P(delay > x) = (min/x)^shape for x ≥ min. It is
// the heavy tail of real service latencies (a few calls far slower than the
// rest); the smaller the shape, the heavier the tail, and for shape ≤ 1 the
// mean is infinite, so set max (0 means no cap, beyond which draws are cut).
// min must be positive, shape positive, max zero or at least min.
func Pareto(min time.Duration, shape float64, max time.Duration) Delay {
	return Delay{kind: delayPareto, a: min, b: max, shape: shape, capped: max > 0}
}

// String describes the distribution, e.g. "Uniform(1ms, 3ms)".
func (d Delay) String() string {
	switch d.kind {
	case delayFixed:
		return fmt.Sprintf("Fixed(%v)", d.a)
	case delayUniform:
		return fmt.Sprintf("Uniform(%v, %v)", d.a, d.b)
	case delayExponential:
		return fmt.Sprintf("Exponential(%v, %v)", d.a, d.b)
	case delayPareto:
		return fmt.Sprintf("Pareto(%v, %v, %v)", d.a, d.shape, d.b)
	}
	return "unset"
}

func (d Delay) check() string {
	switch d.kind {
	case delayNone:
		return "has an unset Delay"
	case delayFixed:
		if d.a < 0 {
			return "has a negative delay"
		}
	case delayUniform:
		if d.a < 0 || d.b < d.a {
			return "needs 0 ≤ min ≤ max"
		}
	case delayExponential:
		if d.a <= 0 {
			return "needs a positive mean"
		}
		if d.b < 0 || (d.capped && d.b < d.a) {
			return "needs max 0 (no cap) or at least the mean"
		}
	case delayPareto:
		if d.a <= 0 {
			return "needs a positive min"
		}
		if !(d.shape > 0) || math.IsInf(d.shape, 1) {
			return "needs a positive, finite shape"
		}
		if d.b < 0 || (d.capped && d.b < d.a) {
			return "needs max 0 (no cap) or at least min"
		}
	}
	return ""
}

// sample maps v, uniform in [0, 1), to a delay of the distribution by
// inversion of its CDF, so one uniform draw gives one delay and a seeded
// sequence of draws a fixed sequence of delays.
func (d Delay) sample(v float64) time.Duration {
	var x float64
	switch d.kind {
	case delayFixed:
		return d.a
	case delayUniform:
		return d.a + time.Duration(v*float64(d.b-d.a))
	case delayExponential:
		x = -float64(d.a) * math.Log1p(-v)
	case delayPareto:
		x = float64(d.a) / math.Pow(1-v, 1/d.shape)
	default:
		return 0
	}
	if d.capped && x > float64(d.b) {
		return d.b
	}
	if x >= math.MaxInt64 { // an uncapped tail draw beyond ~292 years
		return math.MaxInt64
	}
	return time.Duration(x)
}
