package admin

import (
	"context"
	"log/slog"
	"slices"
	"strings"
	"sync"
	"time"
)

// ErrorEntry is one warning or error kept by an ErrorLog, or several alike: records
// with the same level, message and Cause (one per partition during an outage, say)
// share an entry that counts them.
type ErrorEntry struct {
	// Time is the latest record's, First the earliest's.
	Time    time.Time `json:"time"`
	First   time.Time `json:"first"`
	Count   int       `json:"count"`
	Level   string    `json:"level"`
	Message string    `json:"message"`
	// Cause is what the record's error attribute comes down to (see Cause), for
	// the status page; empty when it has none.
	Cause string `json:"cause,omitempty"`
	// Attrs are the latest record's attributes as key=value pairs, e.g. the full
	// error chain; /api/status shows them, the page does not.
	Attrs string `json:"attrs,omitempty"`
}

// maxAttrs bounds the attribute text kept per entry.
const maxAttrs = 600

// ErrorLog keeps the most recent log records at level Warn or above, alike records
// merged into one counted entry. It is safe for concurrent use.
type ErrorLog struct {
	mu      sync.Mutex
	max     int
	entries []ErrorEntry // in no particular order
}

// NewErrorLog returns an ErrorLog that keeps the last n distinct entries (n ≥ 1).
func NewErrorLog(n int) *ErrorLog { return &ErrorLog{max: max(n, 1)} }

// Entries returns the kept entries, the most recently seen first.
func (e *ErrorLog) Entries() []ErrorEntry {
	e.mu.Lock()
	out := slices.Clone(e.entries)
	e.mu.Unlock()
	slices.SortStableFunc(out, func(a, b ErrorEntry) int { return b.Time.Compare(a.Time) })
	if out == nil {
		out = []ErrorEntry{}
	}
	return out
}

// add merges en into the entry alike, or replaces the least recently seen entry
// when the log is full. Warnings are rare (never per event), so a scan is cheap.
func (e *ErrorLog) add(en ErrorEntry) {
	e.mu.Lock()
	defer e.mu.Unlock()
	oldest := 0
	for i := range e.entries {
		x := &e.entries[i]
		if x.Level == en.Level && x.Message == en.Message && x.Cause == en.Cause {
			x.Count++
			x.Time, x.Attrs = en.Time, en.Attrs
			return
		}
		if x.Time.Before(e.entries[oldest].Time) {
			oldest = i
		}
	}
	en.Count, en.First = 1, en.Time
	if len(e.entries) < e.max {
		e.entries = append(e.entries, en)
		return
	}
	e.entries[oldest] = en
}

// Handler returns a handler that passes every record to next and keeps those at
// level Warn or above (even when next would drop them).
func (e *ErrorLog) Handler(next slog.Handler) slog.Handler { return &teeHandler{e: e, next: next} }

type teeHandler struct {
	e      *ErrorLog
	next   slog.Handler
	attrs  string // pre-formatted attributes of WithAttrs
	cause  string // Cause of an error among them, if any
	prefix string // group prefix of WithGroup, "a.b."
}

func (h *teeHandler) Enabled(ctx context.Context, l slog.Level) bool {
	return l >= slog.LevelWarn || h.next.Enabled(ctx, l)
}

func (h *teeHandler) Handle(ctx context.Context, r slog.Record) error {
	if r.Level >= slog.LevelWarn {
		var b strings.Builder
		b.WriteString(h.attrs)
		cause := h.cause
		r.Attrs(func(a slog.Attr) bool {
			cause = causeOf(cause, a)
			appendAttr(&b, h.prefix, a)
			return b.Len() < maxAttrs
		})
		attrs := b.String()
		if len(attrs) > maxAttrs {
			attrs = attrs[:maxAttrs] + "…"
		}
		h.e.add(ErrorEntry{Time: r.Time, Level: r.Level.String(), Message: r.Message, Cause: cause, Attrs: attrs})
	}
	if h.next.Enabled(ctx, r.Level) {
		return h.next.Handle(ctx, r)
	}
	return nil
}

func (h *teeHandler) WithAttrs(as []slog.Attr) slog.Handler {
	var b strings.Builder
	b.WriteString(h.attrs)
	cause := h.cause
	for _, a := range as {
		cause = causeOf(cause, a)
		appendAttr(&b, h.prefix, a)
	}
	return &teeHandler{e: h.e, next: h.next.WithAttrs(as), attrs: b.String(), cause: cause, prefix: h.prefix}
}

func (h *teeHandler) WithGroup(name string) slog.Handler {
	if name == "" {
		return h
	}
	return &teeHandler{e: h.e, next: h.next.WithGroup(name), attrs: h.attrs, cause: h.cause, prefix: h.prefix + name + "."}
}

// causeOf is cause, or the Cause of a's error when cause is still empty.
func causeOf(cause string, a slog.Attr) string {
	if cause != "" {
		return cause
	}
	if err, ok := a.Value.Resolve().Any().(error); ok {
		return Cause(err)
	}
	return ""
}

func appendAttr(b *strings.Builder, prefix string, a slog.Attr) {
	a.Value = a.Value.Resolve()
	if a.Equal(slog.Attr{}) {
		return
	}
	if a.Value.Kind() == slog.KindGroup {
		p := prefix
		if a.Key != "" {
			p += a.Key + "."
		}
		for _, g := range a.Value.Group() {
			appendAttr(b, p, g)
		}
		return
	}
	if b.Len() > 0 {
		b.WriteByte(' ')
	}
	b.WriteString(prefix)
	b.WriteString(a.Key)
	b.WriteByte('=')
	b.WriteString(a.Value.String())
}
