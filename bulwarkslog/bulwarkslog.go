// Package bulwarkslog logs the events of bulwark's building blocks to a
// log/slog Logger.
//
// The one call:
//
//	b, err := breaker.New(breaker.Config{
//		Name:     "db",
//		Observer: bulwarkslog.Observer[breaker.Event](logger),
//	})
//
// Observer works for the Event of every package (retry, breaker, bulkhead,
// balance, cache, ...), and for any type that satisfies bulwark.Event: it
// reads the event's exported fields, so a field a package adds is logged
// without a change here. Each record has the message "<component> <event>"
// (spaces for underscores, e.g. "breaker state change") and these
// attributes, the same names in every package:
//
//	bulwark.component  "retry", "breaker", ...       (Event.Component)
//	bulwark.name       the object's Config.Name       (Event.Source; omitted when empty)
//	bulwark.event      the kind, e.g. "state_change"  (Event.Type)
//
// then one attribute per field of the event that is set, named
// "bulwark." and the field's name in snake case: bulwark.attempt,
// bulwark.delay, bulwark.error (field Err), bulwark.reason, bulwark.from,
// bulwark.to, bulwark.until, bulwark.method, bulwark.host, ... A field that
// a package documents with one meaning has the same name in every package
// that has it. Durations, times, numbers and booleans keep their types;
// errors and values with a String method are logged as strings. A field
// that is zero is left out, unless its struct tag bulwark:"kind,..." names
// the event's kind (a breaker's From state may be closed, State's zero); a
// field named Value (a cache entry's value) is never logged.
//
// # Levels
//
//   - Warn: a breaker's state change and a balancer's node ejected or
//     returned. Each changes how a guard treats every call, because of
//     trouble or because it ended; they are rare (at most one per open or
//     ejection period) and, at one level, a filter at Warn shows each
//     incident's start and its end. So are a fault injector switched on
//     or off and its rate changed (package chaos): a game day's log should
//     say when its faults began and ended.
//   - Debug: everything that happens per call — success, failure,
//     rejection, retry, hedge, budget refusal, cache hit, miss, load and
//     eviction, an injected fault, a picker finding no node or a node
//     refused by a guard below it (whose breaker already logged at Warn)
//     — and routine tuning (an adaptive limit moves every window).
//     Their volume follows traffic, and metrics count them better than
//     logs do. Retries in particular are at Debug, not Info: a dependency
//     failing 10% of 1,000 calls a second would write 100 lines a second at
//     Info, when the breaker's and balancer's Warn lines already tell the
//     incident and a counter tells its size.
//
// WithLevel changes the level of one kind of event.
//
// An event whose level the logger does not enable costs a few comparisons
// and allocates nothing; a logged event costs what the handler costs, plus a
// walk over the event's fields.
package bulwarkslog

import (
	"context"
	"fmt"
	"log/slog"
	"reflect"
	"strings"
	"sync"
	"time"
	"unicode"

	"github.com/bulwark-go/bulwark"
)

// Attribute keys common to every event.
const (
	KeyComponent = "bulwark.component"
	KeyName      = "bulwark.name"
	KeyEvent     = "bulwark.event"
)

// Option configures Observer.
type Option func(*options)

type options struct {
	levels map[string]slog.Level // "component.event" → level
}

// WithLevel logs the events of one component and kind at level instead of
// the default, e.g. WithLevel("breaker", "rejected", slog.LevelInfo).
func WithLevel(component, event string, level slog.Level) Option {
	return func(o *options) {
		if o.levels == nil {
			o.levels = map[string]slog.Level{}
		}
		o.levels[component+"."+event] = level
	}
}

// Observer returns an observer that logs every event it receives to l, at
// the level the package doc gives (or WithLevel's). Set it as the Observer
// of any building block's Config; it is safe for concurrent use, as
// observers must be. A nil l means slog.Default().
func Observer[E bulwark.Event](l *slog.Logger, opts ...Option) func(E) {
	if l == nil {
		l = slog.Default()
	}
	var o options
	for _, opt := range opts {
		if opt != nil {
			opt(&o)
		}
	}
	return func(e E) {
		component, typ := e.Component(), e.Type()
		level := DefaultLevel(component, typ)
		if o.levels != nil {
			if lv, ok := o.levels[component+"."+typ]; ok {
				level = lv
			}
		}
		ctx := context.Background()
		if !l.Enabled(ctx, level) {
			return
		}
		var buf [16]slog.Attr
		attrs := append(buf[:0], slog.String(KeyComponent, component))
		if name := e.Source(); name != "" {
			attrs = append(attrs, slog.String(KeyName, name))
		}
		attrs = append(attrs, slog.String(KeyEvent, typ))
		attrs = AppendAttrs(attrs, e)
		l.LogAttrs(ctx, level, message(component, typ), attrs...)
	}
}

// DefaultLevel returns the level Observer logs an event of component and
// kind event at, without WithLevel (see the package doc).
func DefaultLevel(component, event string) slog.Level {
	switch component + "." + event {
	case "breaker.state_change", "balance.ejected", "balance.returned",
		"chaos.switched", "chaos.rate_changed":
		return slog.LevelWarn
	}
	return slog.LevelDebug
}

func message(component, event string) string {
	return component + " " + strings.ReplaceAll(event, "_", " ")
}

// AppendAttrs appends to attrs one attribute per exported field of event (a
// struct) that is set, named as the package doc says, skipping Kind and
// Name (which are bulwark.event and bulwark.name) and Value. It is what
// Observer logs after the three common attributes, for code that builds its
// own records.
func AppendAttrs(attrs []slog.Attr, event any) []slog.Attr {
	v := reflect.ValueOf(event)
	for v.Kind() == reflect.Pointer {
		if v.IsNil() {
			return attrs
		}
		v = v.Elem()
	}
	if v.Kind() != reflect.Struct {
		return attrs
	}
	var typ string
	if e, ok := event.(bulwark.Event); ok {
		typ = e.Type()
	}
	for _, f := range plan(v.Type()) {
		fv := v.FieldByIndex(f.index)
		if fv.IsZero() && (typ == "" || !f.always[typ]) {
			continue
		}
		attrs = append(attrs, attr(f.key, fv))
	}
	return attrs
}

// field is one loggable field of an event type.
type field struct {
	key    string
	index  []int
	always map[string]bool // kinds in which the field is logged even when zero
}

var plans sync.Map // reflect.Type → []field

// plan returns the loggable fields of struct type t, computed once.
func plan(t reflect.Type) []field {
	if p, ok := plans.Load(t); ok {
		return p.([]field)
	}
	var fields []field
	for _, f := range reflect.VisibleFields(t) {
		if !f.IsExported() || f.Anonymous {
			continue
		}
		switch f.Name {
		case "Kind", "Name", "Value":
			continue
		}
		fd := field{key: "bulwark." + snake(f.Name), index: f.Index}
		if tag := f.Tag.Get("bulwark"); tag != "" {
			fd.always = map[string]bool{}
			for _, kind := range strings.Split(tag, ",") {
				fd.always[strings.TrimSpace(kind)] = true
			}
		}
		fields = append(fields, fd)
	}
	p, _ := plans.LoadOrStore(t, fields)
	return p.([]field)
}

// snake turns a Go field name into the attribute's snake case: Err is
// "error", NotAttempted "not_attempted", RTT "rtt".
func snake(name string) string {
	if name == "Err" {
		return "error"
	}
	var b strings.Builder
	runes := []rune(name)
	for i, r := range runes {
		if unicode.IsUpper(r) {
			// A word starts at an upper-case letter that follows a
			// lower-case one, or that ends an acronym ("RTTMax" → rtt_max).
			if i > 0 && (unicode.IsLower(runes[i-1]) || i+1 < len(runes) && unicode.IsLower(runes[i+1]) && unicode.IsUpper(runes[i-1])) {
				b.WriteByte('_')
			}
			r = unicode.ToLower(r)
		}
		b.WriteRune(r)
	}
	return b.String()
}

var (
	durationType = reflect.TypeFor[time.Duration]()
	timeType     = reflect.TypeFor[time.Time]()
	errorType    = reflect.TypeFor[error]()
	stringerType = reflect.TypeFor[fmt.Stringer]()
)

// attr converts one set field to an attribute.
func attr(key string, v reflect.Value) slog.Attr {
	switch t := v.Type(); {
	case t == durationType:
		return slog.Duration(key, time.Duration(v.Int()))
	case t == timeType:
		return slog.Time(key, v.Interface().(time.Time))
	case t.Implements(errorType):
		return slog.String(key, v.Interface().(error).Error())
	case t.Implements(stringerType):
		return slog.String(key, v.Interface().(fmt.Stringer).String())
	}
	switch v.Kind() {
	case reflect.Bool:
		return slog.Bool(key, v.Bool())
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64:
		return slog.Int64(key, v.Int())
	case reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64, reflect.Uintptr:
		return slog.Uint64(key, v.Uint())
	case reflect.Float32, reflect.Float64:
		return slog.Float64(key, v.Float())
	case reflect.String:
		return slog.String(key, v.String())
	}
	return slog.Any(key, v.Interface())
}
