package testenv

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"os"
	"reflect"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/ClickHouse/clickhouse-go/v2"
	"github.com/ClickHouse/clickhouse-go/v2/lib/driver"

	"github.com/sluicehq/sluice/internal/config"
	"github.com/sluicehq/sluice/internal/dev/chlocal"
)

const (
	// startTimeout bounds starting a server, including the engine's first
	// download.
	startTimeout = 10 * time.Minute
	// cleanupTimeout bounds each cleanup step (drop, stop).
	cleanupTimeout = time.Minute
)

// shared is the process-wide ClickHouse server.
var shared struct {
	once     sync.Once
	addr     string // native host:port
	httpAddr string // "" when external and not given
	err      error  // why the server could not start, if it could not

	mu  sync.Mutex      // guards srv and serialises restarts
	srv *chlocal.Server // nil when external or not started
}

// CH is one test's database on a ClickHouse server. Its fields are set by
// ClickHouse or PrivateClickHouse and must not be changed.
type CH struct {
	// Addr is the server's native-protocol address, host:port.
	Addr string
	// HTTPAddr is the server's HTTP address, host:port; it is empty for an
	// external server when SLUICE_TEST_CLICKHOUSE_HTTP_ADDR is not set.
	HTTPAddr string
	// Database is the name of this test's database.
	Database string

	srv *chlocal.Server
}

// ClickHouse returns a fresh, empty database, uniquely named after the test,
// on the ClickHouse server shared by the whole test process, and drops it when
// the test ends. The server starts on first use (the engine is fetched into
// SLUICE_CACHE_DIR or chlocal.DefaultCacheDir() the first time on a machine); with
// SLUICE_TEST_CLICKHOUSE_ADDR set, that server is used instead. If the server
// cannot start, ClickHouse fails the test with the reason.
func ClickHouse(t testing.TB) *CH {
	t.Helper()
	shared.once.Do(startShared)
	if shared.err != nil {
		t.Fatalf("testenv: ClickHouse: %v", shared.err)
	}
	srv, err := ensureSharedRunning()
	if err != nil {
		t.Fatalf("testenv: ClickHouse: %v", err)
	}
	ch := &CH{Addr: shared.addr, HTTPAddr: shared.httpAddr, Database: databaseName(t), srv: srv}
	ch.createDatabase(t)
	t.Cleanup(func() {
		// A test that killed the shared server gets it back before its
		// database is dropped, so later tests find it up.
		if _, err := ensureSharedRunning(); err != nil {
			t.Errorf("testenv: ClickHouse cleanup: %v", err)
			return
		}
		ch.dropDatabase(t)
	})
	return ch
}

// PrivateClickHouse starts a ClickHouse server for this test alone, with its
// data in t.TempDir(), and returns a fresh database on it; the server is
// stopped when the test ends. Use it for tests that kill and restart the
// server (Server().Kill, Server().Restart). It ignores
// SLUICE_TEST_CLICKHOUSE_ADDR.
func PrivateClickHouse(t testing.TB) *CH {
	t.Helper()
	dir := t.TempDir()
	ctx, cancel := context.WithTimeout(t.Context(), startTimeout)
	defer cancel()
	srv, err := chlocal.Start(ctx, chlocal.Options{DataDir: dir, CacheDir: config.DevFromEnv().CacheDir, Log: os.Stderr, RestartOnCrash: true})
	if err != nil {
		t.Fatalf("testenv: PrivateClickHouse: %v", err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), cleanupTimeout)
		defer cancel()
		if err := srv.Stop(ctx); err != nil {
			t.Errorf("testenv: PrivateClickHouse: %v", err)
		}
	})
	ch := &CH{Addr: srv.Addr(), HTTPAddr: srv.HTTPAddr(), Database: databaseName(t), srv: srv}
	ch.createDatabase(t)
	return ch
}

// startShared starts the shared server, or records the external one.
func startShared() {
	if addr := os.Getenv("SLUICE_TEST_CLICKHOUSE_ADDR"); addr != "" {
		shared.addr = addr
		shared.httpAddr = os.Getenv("SLUICE_TEST_CLICKHOUSE_HTTP_ADDR")
		return
	}
	dir, err := os.MkdirTemp("", "sluice-testenv-clickhouse-")
	if err != nil {
		shared.err = err
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), startTimeout)
	defer cancel()
	srv, err := chlocal.Start(ctx, chlocal.Options{DataDir: dir, CacheDir: config.DevFromEnv().CacheDir, Log: os.Stderr, RestartOnCrash: true})
	if err != nil {
		os.RemoveAll(dir)
		shared.err = err
		return
	}
	shared.mu.Lock()
	shared.srv = srv
	shared.mu.Unlock()
	shared.addr, shared.httpAddr = srv.Addr(), srv.HTTPAddr()
}

// ensureSharedRunning restarts the shared server if a test killed it, and
// returns it (nil when external).
func ensureSharedRunning() (*chlocal.Server, error) {
	shared.mu.Lock()
	defer shared.mu.Unlock()
	if shared.srv == nil || shared.srv.Running() {
		return shared.srv, nil
	}
	ctx, cancel := context.WithTimeout(context.Background(), startTimeout)
	defer cancel()
	if err := shared.srv.Restart(ctx); err != nil {
		return nil, fmt.Errorf("restart the shared server after it went down: %w", err)
	}
	return shared.srv, nil
}

// databaseName returns "t_<sanitised test name>_<random hex>".
func databaseName(t testing.TB) string {
	var b strings.Builder
	for _, r := range strings.ToLower(t.Name()) {
		if b.Len() >= 40 {
			break
		}
		if r >= 'a' && r <= 'z' || r >= '0' && r <= '9' {
			b.WriteRune(r)
		} else {
			b.WriteByte('_')
		}
	}
	var rnd [4]byte
	rand.Read(rnd[:])
	return "t_" + b.String() + "_" + hex.EncodeToString(rnd[:])
}

// admin runs one statement on the server's default database.
func (ch *CH) admin(ctx context.Context, query string) error {
	conn, err := clickhouse.Open(&clickhouse.Options{Addr: []string{ch.Addr}, DialTimeout: 10 * time.Second})
	if err != nil {
		return err
	}
	defer conn.Close()
	return conn.Exec(ctx, query)
}

func (ch *CH) createDatabase(t testing.TB) {
	t.Helper()
	if err := ch.admin(t.Context(), "CREATE DATABASE `"+ch.Database+"`"); err != nil {
		t.Fatalf("testenv: create database %s on %s: %v", ch.Database, ch.Addr, err)
	}
}

func (ch *CH) dropDatabase(t testing.TB) {
	ctx, cancel := context.WithTimeout(context.Background(), cleanupTimeout)
	defer cancel()
	if err := ch.admin(ctx, "DROP DATABASE IF EXISTS `"+ch.Database+"` SYNC"); err != nil {
		t.Errorf("testenv: drop database %s on %s: %v", ch.Database, ch.Addr, err)
	}
}

// Server returns the local server, to kill and restart it in outage tests,
// or nil when the server is external. See the package doc before killing
// the shared one.
func (ch *CH) Server() *chlocal.Server { return ch.srv }

// Options returns clickhouse-go options for the native protocol with this
// test's database as the default, for code under test that opens its own
// connections.
func (ch *CH) Options() *clickhouse.Options {
	return &clickhouse.Options{
		Addr:        []string{ch.Addr},
		Auth:        clickhouse.Auth{Database: ch.Database},
		DialTimeout: 10 * time.Second,
	}
}

// Conn returns a native-protocol connection (pool) whose default database is
// this test's, closed when the test ends.
func (ch *CH) Conn(t testing.TB) driver.Conn {
	t.Helper()
	conn := ch.open(t)
	t.Cleanup(func() { conn.Close() })
	return conn
}

func (ch *CH) open(t testing.TB) driver.Conn {
	t.Helper()
	conn, err := clickhouse.Open(ch.Options())
	if err != nil {
		t.Fatalf("testenv: connect to %s: %v", ch.Addr, err)
	}
	return conn
}

// Exec runs a statement in this test's database, failing the test on error.
func (ch *CH) Exec(t testing.TB, query string, args ...any) {
	t.Helper()
	conn := ch.open(t)
	defer conn.Close()
	if err := conn.Exec(t.Context(), query, args...); err != nil {
		t.Fatalf("testenv: %s: %v", query, err)
	}
}

// QueryUint64 runs a query that returns one row whose first column is an
// unsigned or non-negative integer of any width (such as SELECT count()) in
// this test's database and returns the value, failing the test on error.
func (ch *CH) QueryUint64(t testing.TB, query string, args ...any) uint64 {
	t.Helper()
	conn := ch.open(t)
	defer conn.Close()
	rows, err := conn.Query(t.Context(), query, args...)
	if err != nil {
		t.Fatalf("testenv: %s: %v", query, err)
	}
	defer rows.Close()
	if !rows.Next() {
		t.Fatalf("testenv: %s: no row (%v)", query, rows.Err())
	}
	cols := rows.ColumnTypes()
	dest := make([]any, len(cols))
	for i, c := range cols {
		dest[i] = reflect.New(c.ScanType()).Interface()
	}
	if err := rows.Scan(dest...); err != nil {
		t.Fatalf("testenv: %s: %v", query, err)
	}
	v := reflect.ValueOf(dest[0]).Elem()
	switch {
	case v.CanUint():
		return v.Uint()
	case v.CanInt() && v.Int() >= 0:
		return uint64(v.Int())
	}
	t.Fatalf("testenv: %s: first column is %s %v, not a non-negative integer", query, cols[0].DatabaseTypeName(), v)
	return 0
}
