package chlocal

import (
	"encoding/json"
	"fmt"
	"os"
	"os/signal"
	"runtime"
	"syscall"
	"unsafe"

	"github.com/ebitengine/purego"
)

// childEnv is the environment variable that turns a re-executed binary into
// a ClickHouse server process. Its value is a JSON-encoded childSpec.
const childEnv = "SLUICE_CHLOCAL_CHILD"

// childSpec is what the parent passes to the child process.
type childSpec struct {
	Lib  string   `json:"lib"`  // path to libchdb.so
	Args []string `json:"args"` // clickhouse-local arguments, without argv[0]
}

// RunIfChild returns at once unless this process was started by Start as a
// ClickHouse server process; then it serves until its standard input is
// closed and exits the process without returning.
//
// Every binary that uses Start (the sluice command, test binaries through
// testenv.Main) must call RunIfChild first thing in main or TestMain, before
// flags are parsed or anything else is started.
func RunIfChild() {
	v, ok := os.LookupEnv(childEnv)
	if !ok {
		return
	}
	os.Unsetenv(childEnv)
	var spec childSpec
	if err := json.Unmarshal([]byte(v), &spec); err != nil {
		fmt.Fprintf(os.Stderr, "chlocal child: bad %s: %v\n", childEnv, err)
		os.Exit(2)
	}
	if err := runChild(spec); err != nil {
		fmt.Fprintf(os.Stderr, "chlocal child: %v\n", err)
		os.Exit(1)
	}
	os.Exit(0)
}

// runChild loads libchdb.so and runs clickhouse-local's command line in this
// process; with --interactive it returns when stdin reaches EOF.
func runChild(spec childSpec) (err error) {
	// The engine keeps thread-local state; keep the call on one OS thread.
	runtime.LockOSThread()
	// The engine writes to client sockets from its own threads. A client that
	// dies mid-query makes such a write raise SIGPIPE, which Go's handler
	// does not expect on a non-Go thread: the engine then shuts down with
	// "fatal error". Ignored, the write fails with EPIPE as ClickHouse
	// expects.
	signal.Ignore(syscall.SIGPIPE)
	lib, err := purego.Dlopen(spec.Lib, purego.RTLD_NOW|purego.RTLD_GLOBAL)
	if err != nil {
		return fmt.Errorf("dlopen %s: %w", spec.Lib, err)
	}
	var queryCmdline func(argc int32, argv **byte) uintptr
	defer func() {
		if r := recover(); r != nil { // RegisterLibFunc panics on a missing symbol
			err = fmt.Errorf("%s: %v", spec.Lib, r)
		}
	}()
	purego.RegisterLibFunc(&queryCmdline, lib, "chdb_query_cmdline")

	args := append([]string{"clickhouse"}, spec.Args...)
	bufs := make([][]byte, len(args))
	argv := make([]*byte, len(args)+1) // NULL-terminated like C's argv
	for i, a := range args {
		bufs[i] = append([]byte(a), 0)
		argv[i] = unsafe.SliceData(bufs[i])
	}
	// The result reports nothing useful for the interactive command line:
	// errors (a port in use, a bad data directory) are printed to stderr and
	// the call returns, which the parent sees as an early exit.
	queryCmdline(int32(len(args)), unsafe.SliceData(argv))
	runtime.KeepAlive(bufs)
	runtime.KeepAlive(argv)
	return nil
}
