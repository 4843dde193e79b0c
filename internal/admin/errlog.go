package admin

import (
	"context"
	"log/slog"
	"strings"
	"sync"
	"time"
)

// ErrorEntry is one warning or error kept by an ErrorLog.
type ErrorEntry struct {
	Time    time.Time `json:"time"`
	Level   string    `json:"level"`
	Message string    `json:"message"`
	// Attrs are the record's attributes as key=value pairs, e.g. the error.
	Attrs string `json:"attrs,omitempty"`
}

// maxAttrs bounds the attribute text kept per entry.
const maxAttrs = 600

// ErrorLog keeps the most recent log records at level Warn or above. It is safe for
// concurrent use.
type ErrorLog struct {
	mu   sync.Mutex
	ring []ErrorEntry
	next int
	full bool
}

// NewErrorLog returns an ErrorLog that keeps the last n entries (n ≥ 1).
func NewErrorLog(n int) *ErrorLog { return &ErrorLog{ring: make([]ErrorEntry, max(n, 1))} }

// Entries returns the kept entries, newest first.
func (e *ErrorLog) Entries() []ErrorEntry {
	e.mu.Lock()
	defer e.mu.Unlock()
	n := e.next
	if e.full {
		n = len(e.ring)
	}
	out := make([]ErrorEntry, 0, n)
	for i := 1; i <= n; i++ {
		out = append(out, e.ring[(e.next-i+len(e.ring))%len(e.ring)])
	}
	return out
}

func (e *ErrorLog) add(en ErrorEntry) {
	e.mu.Lock()
	defer e.mu.Unlock()
	e.ring[e.next] = en
	e.next = (e.next + 1) % len(e.ring)
	if e.next == 0 {
		e.full = true
	}
}

// Handler returns a handler that passes every record to next and keeps those at
// level Warn or above (even when next would drop them).
func (e *ErrorLog) Handler(next slog.Handler) slog.Handler { return &teeHandler{e: e, next: next} }

type teeHandler struct {
	e      *ErrorLog
	next   slog.Handler
	attrs  string // pre-formatted attributes of WithAttrs
	prefix string // group prefix of WithGroup, "a.b."
}

func (h *teeHandler) Enabled(ctx context.Context, l slog.Level) bool {
	return l >= slog.LevelWarn || h.next.Enabled(ctx, l)
}

func (h *teeHandler) Handle(ctx context.Context, r slog.Record) error {
	if r.Level >= slog.LevelWarn {
		var b strings.Builder
		b.WriteString(h.attrs)
		r.Attrs(func(a slog.Attr) bool {
			appendAttr(&b, h.prefix, a)
			return b.Len() < maxAttrs
		})
		attrs := b.String()
		if len(attrs) > maxAttrs {
			attrs = attrs[:maxAttrs] + "…"
		}
		h.e.add(ErrorEntry{Time: r.Time, Level: r.Level.String(), Message: r.Message, Attrs: attrs})
	}
	if h.next.Enabled(ctx, r.Level) {
		return h.next.Handle(ctx, r)
	}
	return nil
}

func (h *teeHandler) WithAttrs(as []slog.Attr) slog.Handler {
	var b strings.Builder
	b.WriteString(h.attrs)
	for _, a := range as {
		appendAttr(&b, h.prefix, a)
	}
	return &teeHandler{e: h.e, next: h.next.WithAttrs(as), attrs: b.String(), prefix: h.prefix}
}

func (h *teeHandler) WithGroup(name string) slog.Handler {
	if name == "" {
		return h
	}
	return &teeHandler{e: h.e, next: h.next.WithGroup(name), attrs: h.attrs, prefix: h.prefix + name + "."}
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
