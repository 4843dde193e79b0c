package e2e

import (
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/sluicehq/sluice/internal/dev/testsupport"
)

// TestSIGHUPRestarts sends SIGHUP to a `sluice run` process started with --env-file
// and checks that it leaves the group (a LeaveGroup of its member), starts again
// with the file read again (its admin listener moves to the new SLUICE_HTTP_ADDR)
// and consumes on; that a SIGHUP with a bad file is logged and changes nothing; and
// that SIGTERM still ends it with status 0 — two leaves in all.
func TestSIGHUPRestarts(t *testing.T) {
	s := newStack(t, 2, nil)
	var mu sync.Mutex
	// Member ids of the group's LeaveGroup requests. A member may send two for one
	// leave (Group.leave sends its own when the client's takes over half a second),
	// so the test counts the members that left.
	var leaves []string
	cluster := s.kafka.Cluster()
	cluster.ControlKey(kmsg.LeaveGroup.Int16(), func(req kmsg.Request) (kmsg.Response, error, bool) {
		cluster.KeepControl()
		r := req.(*kmsg.LeaveGroupRequest)
		mu.Lock()
		defer mu.Unlock()
		if r.Group == s.cfg.Kafka.Group {
			leaves = append(leaves, r.MemberID)
			for _, m := range r.Members {
				leaves = append(leaves, m.MemberID)
			}
		}
		return nil, nil, false
	})
	left := func() int {
		mu.Lock()
		defer mu.Unlock()
		members := map[string]bool{}
		for _, id := range leaves {
			if id != "" {
				members[id] = true
			}
		}
		return len(members)
	}

	envFile := filepath.Join(t.TempDir(), "sluice.env")
	first, second := freeAddr(t), freeAddr(t)
	write := func(lines ...string) {
		t.Helper()
		if err := os.WriteFile(envFile, []byte(strings.Join(lines, "\n")+"\n"), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	write("# the admin address moves on reload", "SLUICE_HTTP_ADDR="+first)
	cmd := exec.Command(sluiceBinary(t), "run", "--env-file", envFile)
	cmd.Env = os.Environ()
	for k, v := range s.env {
		if k != "SLUICE_HTTP_ADDR" {
			cmd.Env = append(cmd.Env, k+"="+v)
		}
	}
	var logs testsupport.SyncBuffer
	cmd.Stdout = io.MultiWriter(&logs, prefixWriter{t, "run"})
	cmd.Stderr = cmd.Stdout
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	exited := make(chan error, 1)
	go func() { exited <- cmd.Wait() }()
	reaped := false // the test took Wait's result (cmd.ProcessState is Wait's to set)
	t.Cleanup(func() {
		if !reaped {
			_ = cmd.Process.Kill()
			<-exited
		}
	})
	ready := func(addr string) func() bool {
		return func() bool {
			resp, err := http.Get("http://" + addr + "/readyz")
			if err != nil {
				return false
			}
			resp.Body.Close()
			return resp.StatusCode == http.StatusOK
		}
	}

	gen := generator(t, 81, 3000, 1500, 0.01, 0.01)
	s.publishSome(t, gen, 3000)
	waitFor(t, time.Minute, "ready on the first address", ready(first))
	waitFor(t, 2*time.Minute, "the first stream committed", func() bool { return s.committedAll(t) })

	write("SLUICE_HTTP_ADDR=" + second)
	if err := cmd.Process.Signal(syscall.SIGHUP); err != nil {
		t.Fatal(err)
	}
	waitFor(t, time.Minute, "ready on the second address", ready(second))
	if n := left(); n != 1 {
		t.Errorf("%d members left the group before the restart was ready, want 1", n)
	}
	if !strings.Contains(logs.String(), "SIGHUP: restarting") {
		t.Error("the restart was not logged")
	}
	if ready(first)() {
		t.Error("the first admin address still answers after the reload")
	}

	// More traffic, consumed by the restarted instance: nothing lost, nothing doubled.
	s.publishSome(t, gen, 1500)
	waitFor(t, 2*time.Minute, "the second stream committed", func() bool { return s.committedAll(t) })
	s.checkStored(t, gen.Truth())

	write("SLUICE_BATCH_MAX_ROWS=0")
	if err := cmd.Process.Signal(syscall.SIGHUP); err != nil {
		t.Fatal(err)
	}
	waitFor(t, time.Minute, "the bad reload logged", func() bool {
		return strings.Contains(logs.String(), "running on with the current one") && strings.Contains(logs.String(), "SLUICE_BATCH_MAX_ROWS")
	})
	if !ready(second)() {
		t.Error("not ready after a SIGHUP with a bad configuration")
	}

	if err := cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	err := <-exited
	reaped = true
	if err != nil {
		t.Fatalf("sluice run after SIGTERM: %v, want exit 0", err)
	}
	if n := left(); n != 2 {
		t.Errorf("%d members left the group in all, want 2 (the reload's and SIGTERM's; none for the bad reload)", n)
	}
}
