// Package chlocal runs a real ClickHouse 26.7 server on this machine without
// Docker or a system package, from chDB's libchdb.so.
//
// It owns two things: fetching the engine (Fetch: `npm pack` of
// @chdb/lib-linux-x64-gnu, once, into a shared cache directory) and hosting
// it (Start: a child process of the current binary that loads the library
// with purego and runs clickhouse-local's command line with its TCP and HTTP
// listeners started). It does not create databases or tables; see
// internal/dev/testenv for per-test databases and `sluice dev clickhouse` for a
// long-running development server.
//
// The child process is the current executable re-run with an environment
// variable set, so every binary that calls Start must call RunIfChild first
// thing in main (or TestMain). The child listens on 127.0.0.1 only, keeps its
// data in Options.DataDir and its own output in <DataDir>/chlocal.log, and
// stays up while its stdin (a pipe held by the parent) is open: Stop closes
// it, and so does the parent's death, which on Linux also SIGKILLs the child
// (Pdeathsig). The engine's defaults differ from a stock server in one way
// that matters to us: async_insert is 1, so say what you want explicitly.
//
// Known engine defect: when a client's connection is reset at some points of
// a query (a client process killed mid-INSERT), this build's TCP handler lets
// the NetException escape its thread and the whole process aborts
// ("Terminate called for uncaught exception", logged at <Fatal>). A stock
// ClickHouse server survives this. Options.RestartOnCrash starts the server
// again at once on the same ports and data, so clients see a short outage;
// Server.Crashes counts these exits. The child logs errors (with stack
// traces) to the log file.
//
// Concurrency: Fetch is safe for concurrent use across goroutines and
// processes (a flock on <cacheDir>/chdb-<version>.lock). A Server's methods
// are safe for concurrent use; Stop, Kill and Restart are serialised, and
// Restart reuses the same ports and data directory so clients reconnect to
// the same address after an outage.
//
// Errors: ErrNPMNotFound when the engine must be fetched and npm is missing;
// ErrNoRunIfChild when a binary forgot RunIfChild;
// startup errors carry the tail of the ClickHouse log.
//
// Costs, measured on a 2-core machine: first fetch about 10 s; startup about
// 0.7 s with the library in the page cache; about 230 MB resident when idle.
//
// Usage:
//
//	func main() {
//		chlocal.RunIfChild()
//		srv, err := chlocal.Start(ctx, chlocal.Options{DataDir: dir, Log: os.Stderr})
//		if err != nil { ... }
//		defer srv.Stop(context.Background())
//		// connect clickhouse-go to srv.Addr()
//	}
package chlocal
