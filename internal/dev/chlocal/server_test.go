package chlocal

import (
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/ClickHouse/clickhouse-go/v2"
	"github.com/ClickHouse/clickhouse-go/v2/lib/driver"
)

// startServer starts a server with its own data directory, fetching the
// engine into DefaultCacheDir on first use, and stops it in Cleanup.
func startServer(t *testing.T, opts Options) *Server {
	t.Helper()
	if opts.DataDir == "" {
		opts.DataDir = t.TempDir()
	}
	opts.Log = t.Output()
	began := time.Now()
	srv, err := Start(t.Context(), opts)
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("started in %s", time.Since(began).Round(time.Millisecond))
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
		defer cancel()
		if err := srv.Stop(ctx); err != nil {
			t.Error(err)
		}
	})
	return srv
}

func connect(t *testing.T, addr string) driver.Conn {
	t.Helper()
	conn, err := clickhouse.Open(&clickhouse.Options{Addr: []string{addr}})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.Close() })
	return conn
}

func queryUint64(t *testing.T, conn driver.Conn, query string) uint64 {
	t.Helper()
	var n uint64
	if err := conn.QueryRow(t.Context(), query).Scan(&n); err != nil {
		t.Fatalf("%s: %v", query, err)
	}
	return n
}

func rssKB(t *testing.T, pid int) int {
	t.Helper()
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/status")
	if err != nil {
		t.Fatal(err)
	}
	for line := range strings.Lines(string(b)) {
		if rest, ok := strings.CutPrefix(line, "VmRSS:"); ok {
			kb, err := strconv.Atoi(strings.TrimSuffix(strings.TrimSpace(rest), " kB"))
			if err != nil {
				t.Fatal(err)
			}
			return kb
		}
	}
	t.Fatal("no VmRSS")
	return 0
}

func TestServerLifecycle(t *testing.T) {
	srv := startServer(t, Options{})
	t.Logf("idle RSS %d MB", rssKB(t, srv.PID())/1024)
	conn := connect(t, srv.Addr())
	ctx := t.Context()

	var version string
	if err := conn.QueryRow(ctx, "SELECT version()").Scan(&version); err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(version, "26.7.") {
		t.Errorf("version() = %q, want 26.7.x", version)
	}
	if err := conn.Exec(ctx, "CREATE TABLE kept (n UInt64) ENGINE = MergeTree ORDER BY n"); err != nil {
		t.Fatal(err)
	}
	if err := conn.Exec(ctx, "INSERT INTO kept SETTINGS async_insert = 0 SELECT number FROM numbers(10)"); err != nil {
		t.Fatal(err)
	}

	// Outage: the process dies, the address stops answering.
	if err := srv.Kill(); err != nil {
		t.Fatal(err)
	}
	select {
	case <-srv.Done():
	default:
		t.Fatal("Done not closed after Kill")
	}
	if srv.Running() {
		t.Fatal("Running after Kill")
	}
	if err := srv.Wait(); err == nil {
		t.Error("Wait after Kill = nil, want the kill's exit error")
	}
	if err := conn.Ping(ctx); err == nil {
		t.Fatal("Ping succeeded while the server is down")
	}

	// Back at the same address with the same data.
	addr, httpAddr := srv.Addr(), srv.HTTPAddr()
	began := time.Now()
	if err := srv.Restart(ctx); err != nil {
		t.Fatal(err)
	}
	t.Logf("restarted in %s", time.Since(began).Round(time.Millisecond))
	if srv.Addr() != addr || srv.HTTPAddr() != httpAddr {
		t.Fatalf("restart moved the server from %s/%s to %s/%s", addr, httpAddr, srv.Addr(), srv.HTTPAddr())
	}
	if n := queryUint64(t, connect(t, addr), "SELECT count() FROM kept"); n != 10 {
		t.Fatalf("after restart count() = %d, want 10", n)
	}

	// Restart of a running server stops it cleanly first.
	if err := srv.Restart(ctx); err != nil {
		t.Fatal(err)
	}
	if err := srv.Stop(ctx); err != nil {
		t.Fatal(err)
	}
	if err := srv.Wait(); err != nil {
		t.Errorf("Wait after Stop = %v, want nil", err)
	}
	if err := srv.Stop(ctx); err != nil {
		t.Errorf("second Stop = %v, want nil", err)
	}
	log, err := os.ReadFile(srv.LogPath())
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(log), "Bye.") {
		t.Errorf("log lacks the clean exit's Bye.:\n%s", log)
	}
}

func TestStartPortTaken(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	port := ln.Addr().(*net.TCPAddr).Port
	lib, err := Fetch(t.Context(), DefaultCacheDir(), t.Output())
	if err != nil {
		t.Fatal(err)
	}
	srv, err := Start(t.Context(), Options{LibPath: lib, DataDir: t.TempDir(), TCPPort: port})
	if err == nil {
		srv.Stop(t.Context())
		t.Fatal("Start on a taken port succeeded")
	}
	if !strings.Contains(err.Error(), "Address already in use") || !strings.Contains(err.Error(), LogFileName) {
		t.Fatalf("Start error lacks the log tail with the cause:\n%v", err)
	}
}

func TestStartRequiresDataDir(t *testing.T) {
	if _, err := Start(t.Context(), Options{LibPath: "/nonexistent"}); err == nil {
		t.Fatal("Start without DataDir succeeded")
	}
}

// TestEngineDefaultsAndDedup documents two facts of this engine build that
// the sink relies on: async_insert is on by default, and a repeated
// insert_deduplication_token on a non-replicated MergeTree with
// non_replicated_deduplication_window inserts once.
func TestEngineDefaultsAndDedup(t *testing.T) {
	srv := startServer(t, Options{})
	conn := connect(t, srv.Addr())
	ctx := t.Context()

	var asyncInsert string
	if err := conn.QueryRow(ctx, "SELECT value FROM system.settings WHERE name = 'async_insert'").Scan(&asyncInsert); err != nil {
		t.Fatal(err)
	}
	if asyncInsert != "1" {
		t.Errorf("default async_insert = %s, want 1 (the docs say so; update them)", asyncInsert)
	}

	if err := conn.Exec(ctx, `CREATE TABLE dedup (id UInt64, v String) ENGINE = MergeTree ORDER BY id
		SETTINGS non_replicated_deduplication_window = 1000`); err != nil {
		t.Fatal(err)
	}
	insert := func(token string, ids ...uint64) {
		t.Helper()
		ctx := clickhouse.Context(ctx, clickhouse.WithSettings(clickhouse.Settings{
			"insert_deduplication_token": token,
			"async_insert":               0,
		}))
		b, err := conn.PrepareBatch(ctx, "INSERT INTO dedup")
		if err != nil {
			t.Fatal(err)
		}
		for _, id := range ids {
			if err := b.Append(id, fmt.Sprint("v", id)); err != nil {
				t.Fatal(err)
			}
		}
		if err := b.Send(); err != nil {
			t.Fatal(err)
		}
	}
	insert("t1", 1, 2, 3)
	insert("t1", 1, 2, 3) // a retry of the same batch
	if n := queryUint64(t, conn, "SELECT count() FROM dedup"); n != 3 {
		t.Fatalf("after the same token twice count() = %d, want 3", n)
	}
	insert("t2", 1, 2, 3) // same rows, new token: a new batch
	if n := queryUint64(t, conn, "SELECT count() FROM dedup"); n != 6 {
		t.Fatalf("after a new token count() = %d, want 6", n)
	}
}

func TestStopKillsWhenCtxDone(t *testing.T) {
	srv := startServer(t, Options{})
	ctx, cancel := context.WithCancel(t.Context())
	cancel()
	// Stop with a done ctx closes stdin and, unless the exit already
	// happened, kills: either way the process is gone afterwards.
	err := srv.Stop(ctx)
	if srv.Running() {
		t.Fatal("Running after Stop")
	}
	if err != nil && !errors.Is(err, context.Canceled) {
		t.Fatalf("Stop = %v, want nil or context.Canceled", err)
	}
}

func TestStartInChildWithoutRunIfChild(t *testing.T) {
	t.Setenv(childEnv, "{}")
	if _, err := Start(t.Context(), Options{DataDir: t.TempDir()}); !errors.Is(err, ErrNoRunIfChild) {
		t.Fatalf("Start = %v, want ErrNoRunIfChild", err)
	}
}

// TestRestartOnCrash makes the process die as the engine does when it
// aborts, and checks that the server comes back at the same address with
// its data, while Kill stays an outage.
func TestRestartOnCrash(t *testing.T) {
	srv := startServer(t, Options{RestartOnCrash: true})
	conn := connect(t, srv.Addr())
	if err := conn.Exec(t.Context(), "CREATE TABLE kept (n UInt8) ENGINE = MergeTree ORDER BY n"); err != nil {
		t.Fatal(err)
	}
	crashed := srv.Done()
	if err := syscall.Kill(srv.PID(), syscall.SIGABRT); err != nil {
		t.Fatal(err)
	}
	<-crashed
	// Crashes takes the lock the restart holds, so once it reports the
	// crash the new process is up.
	tick := time.NewTicker(20 * time.Millisecond)
	defer tick.Stop()
	for srv.Crashes() != 1 {
		select {
		case <-tick.C:
		case <-t.Context().Done():
			t.Fatal("no crash restart")
		}
	}
	if !srv.Running() {
		t.Fatal("not running after the crash restart")
	}
	if n := queryUint64(t, connect(t, srv.Addr()), "SELECT count() FROM system.tables WHERE name = 'kept'"); n != 1 {
		t.Fatalf("table lost across the crash restart")
	}

	if err := srv.Kill(); err != nil {
		t.Fatal(err)
	}
	if srv.Running() || srv.Crashes() != 1 {
		t.Fatalf("after Kill: running %v, crashes %d; want false, 1", srv.Running(), srv.Crashes())
	}
}
