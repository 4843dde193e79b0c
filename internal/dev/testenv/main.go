package testenv

import (
	"context"
	"fmt"
	"os"
	"testing"
	"time"

	"github.com/sluicehq/sluice/internal/dev/chlocal"
)

// Main runs a package's tests: it serves as the ClickHouse child process when
// the test binary was re-executed as one (chlocal.RunIfChild), runs m, then
// each of atExit (the package's own clean-up of what its tests share for the
// whole process, such as a binary built once into a temporary directory), stops
// the shared ClickHouse server if a test started it, removes its data and exits
// with m's result; a failed clean-up is printed and fails the run. Call it from
// TestMain and nowhere else.
func Main(m *testing.M, atExit ...func() error) {
	chlocal.RunIfChild()
	code := m.Run()
	for _, f := range append(atExit, stopShared) {
		if err := f(); err != nil {
			fmt.Fprintf(os.Stderr, "testenv: %v\n", err)
			if code == 0 {
				code = 1
			}
		}
	}
	os.Exit(code)
}

// stopShared stops the shared server, if started, and removes its data.
func stopShared() error {
	shared.mu.Lock()
	defer shared.mu.Unlock()
	if shared.srv == nil {
		return nil
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	err := shared.srv.Stop(ctx)
	if rmErr := os.RemoveAll(shared.srv.DataDir()); err == nil {
		err = rmErr
	}
	shared.srv = nil
	return err
}
