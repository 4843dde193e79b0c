// Package admin serves one Sluice instance's operator endpoints on one address:
//
//	/metrics         Prometheus metrics (the handler is given; see package metrics)
//	/healthz         200 while the process serves HTTP at all (liveness)
//	/readyz          200 once Options.Ready returns nil (Sluice: start-up is done, the
//	                 member has joined the group and ClickHouse answers a ping within
//	                 1 s), else 503 with the reason as text
//	/                the status page: an html/template (index.html, no external assets)
//	                 drawn on the server with SVG charts, so it reads right without
//	                 scripts; its script fetches /?view=live every second and swaps it in
//	/api/status      JSON: the same Status the page is drawn from (throughput, lag,
//	                 insert latency, event freshness, topics, partitions, members, the last errors, and
//	                 the last two minutes of samples)
//	/debug/pprof/    Go profiles, only when Options.Pprof is set
//
// It owns the listener, the HTTP server and a sampler that takes one Snapshot per
// second for the charts; Start starts both, Close stops both and waits for them. It
// reads nothing by itself: what it shows comes from Options.Snapshot and an ErrorLog,
// so it never sees configuration secrets unless a caller hands them over (Sluice's
// does not: Options.Info carries the group, topics and addresses only).
//
// ErrorLog is an slog.Handler decorator that keeps the last warnings and errors
// (lifecycle events: failed flushes, retries, revokes) for the status page, alike
// ones merged with a count; Cause reduces an error to what an operator acts on.
//
// Usage:
//
//	errs := admin.NewErrorLog(20)
//	log := slog.New(errs.Handler(base))
//	srv, err := admin.Start(admin.Options{Addr: "127.0.0.1:8080", Metrics: m.Handler(),
//		Ready: ready, Snapshot: snap, Errors: errs})
//	defer srv.Close(ctx)
package admin
