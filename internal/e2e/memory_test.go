package e2e

import (
	"bufio"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/sluicehq/sluice/internal/dev/bench"
	"github.com/sluicehq/sluice/internal/dev/testenv"
)

// memoryBudget is the budget TestMemoryBudgetThroughClickHouseHang gives Sluice:
// the default where there is no cgroup memory limit, set explicitly so that the test
// asserts the same bound on any machine.
const memoryBudget = 256 << 20

// TestMemoryBudgetThroughClickHouseHang shows that one memory budget holds for the
// whole process: one `sluice run` owns 32 partitions per topic, ClickHouse hangs
// (SIGSTOP: inserts neither succeed nor fail) while a backlog of 400,000 events is
// published, and the process's resident memory, sampled from /proc/<pid>/status
// throughout, and its high-water mark stay under the budget while every partition's
// fetching pauses; then ClickHouse resumes, the backlog drains at full speed under
// the budget too, and every event is stored exactly once and every invalid record
// dead-lettered.
func TestMemoryBudgetThroughClickHouseHang(t *testing.T) {
	s := newStackOn(t, testenv.PrivateClickHouse(t), 32, map[string]string{
		"SLUICE_MEMORY_LIMIT": strconv.Itoa(memoryBudget),
		"SLUICE_LOG_LEVEL":    "warn",
	})
	srv := s.ch.Server()
	gen := generator(t, 16, 300_000, 150_000, 0.01, 0.01)
	p := s.spawn(t, "sluice")
	pid := strconv.Itoa(p.cmd.Process.Pid)

	// Warm: the first 50,000 events stored before the hang.
	s.publishSome(t, gen, 50_000)
	waitFor(t, 3*time.Minute, "the first events committed", func() bool { return s.committedAll(t) })

	if err := syscall.Kill(srv.PID(), syscall.SIGSTOP); err != nil {
		t.Fatal(err)
	}
	hung := true
	resume := func() {
		if hung {
			hung = false
			if err := syscall.Kill(srv.PID(), syscall.SIGCONT); err != nil {
				t.Error(err)
			}
		}
	}
	t.Cleanup(resume)

	// The sampler is owned here: stopped and waited for before its result is read.
	var maxRSS uint64
	stop := make(chan struct{})
	var sampler sync.WaitGroup
	sampler.Go(func() {
		tick := time.NewTicker(100 * time.Millisecond)
		defer tick.Stop()
		for {
			maxRSS = max(maxRSS, bench.ProcStatusBytes(pid, "VmRSS"))
			select {
			case <-stop:
				return
			case <-tick.C:
			}
		}
	})
	s.publishSome(t, gen, 400_000)
	// The backlog reached the budget's bound: every partition's fetching is paused.
	owned := 2 * 32
	waitFor(t, 3*time.Minute, "every partition paused behind the hung ClickHouse", func() bool {
		return metricValue(t, p, "sluice_paused_partitions") == float64(owned)
	})
	close(stop)
	sampler.Wait()
	hwm := bench.ProcStatusBytes(pid, "VmHWM")
	t.Logf("during the hang: max sampled VmRSS %d MiB, VmHWM %d MiB, budget %d MiB", maxRSS>>20, hwm>>20, memoryBudget>>20)
	if hwm == 0 || hwm > memoryBudget || maxRSS > memoryBudget {
		t.Errorf("resident memory during the hang: VmHWM %d bytes, max sampled VmRSS %d; want both under the budget of %d", hwm, maxRSS, memoryBudget)
	}

	resume()
	waitFor(t, 5*time.Minute, "every offset committed after the hang", func() bool { return s.committedAll(t) })
	// Catching up drains the backlog at full speed: every partition's fetches are
	// full, which the budget bounds too.
	hwm = bench.ProcStatusBytes(pid, "VmHWM")
	t.Logf("after catching up: VmHWM %d MiB", hwm>>20)
	if hwm > memoryBudget {
		t.Errorf("VmHWM %d bytes after catching up; want under the budget of %d", hwm, memoryBudget)
	}
	p.term(t)
	truth := gen.Truth()
	s.checkStored(t, truth)
	s.checkDeadLetters(t, s.invalidPositions(t, truth.PaymentCounts.Invalid+truth.ShipmentCounts.Invalid), true)
}

// metricValue reads one unlabelled metric from the process's /metrics (-1 when it
// cannot be read).
func metricValue(t *testing.T, p *proc, name string) float64 {
	t.Helper()
	sc := bufio.NewScanner(strings.NewReader(fetchText("http://"+p.admin+"/metrics", 4<<20)))
	sc.Buffer(nil, 1<<20)
	for sc.Scan() {
		if v, ok := strings.CutPrefix(sc.Text(), name+" "); ok {
			f, err := strconv.ParseFloat(v, 64)
			if err != nil {
				return -1
			}
			return f
		}
	}
	return -1
}
