package bench

import (
	"bytes"
	"context"
	"os"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/sluicehq/sluice/internal/config"
	"github.com/sluicehq/sluice/schemas"
)

// clockTicks is USER_HZ, the unit of /proc/<pid>/stat times: 100 on every Linux
// architecture Go supports.
const clockTicks = 100

// selfCPU is the user+system CPU time of this process so far.
func selfCPU() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// procCPU is the user+system CPU time of process pid, or -1 if it cannot be read.
func procCPU(pid int) time.Duration {
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
	if err != nil {
		return -1
	}
	return parseStatCPU(b)
}

// parseStatCPU reads utime and stime (fields 14 and 15) from a /proc/<pid>/stat
// line. The command name (field 2) may hold spaces and parentheses, so fields are
// counted from the last ')'.
func parseStatCPU(b []byte) time.Duration {
	i := bytes.LastIndexByte(b, ')')
	if i < 0 {
		return -1
	}
	f := strings.Fields(string(b[i+1:]))
	// f[0] is field 3 (state): utime is field 14, f[11]; stime f[12].
	if len(f) < 13 {
		return -1
	}
	u, err1 := strconv.ParseInt(f[11], 10, 64)
	s, err2 := strconv.ParseInt(f[12], 10, 64)
	if err1 != nil || err2 != nil {
		return -1
	}
	return time.Duration(u+s) * time.Second / clockTicks
}

// procStatusBytes returns field (VmRSS, VmHWM…) of /proc/<pid>/status in bytes, or
// 0 (e.g. once the process has exited); pid is a number or "self".
func procStatusBytes(pid, field string) uint64 {
	b, err := os.ReadFile("/proc/" + pid + "/status")
	if err != nil {
		return 0
	}
	return parseStatusBytes(b, field)
}

// parseStatusBytes finds "field:   123 kB" in a /proc status file.
func parseStatusBytes(b []byte, field string) uint64 {
	for line := range strings.SplitSeq(string(b), "\n") {
		rest, ok := strings.CutPrefix(line, field+":")
		if !ok {
			continue
		}
		f := strings.Fields(rest)
		if len(f) == 0 {
			return 0
		}
		kb, err := strconv.ParseUint(f[0], 10, 64)
		if err != nil {
			return 0
		}
		return kb * 1024
	}
	return 0
}

// sampleMax calls read every period until ctx is done, then sends the largest value
// it saw (including one last reading).
func sampleMax(ctx context.Context, period time.Duration, read func() uint64) <-chan uint64 {
	out := make(chan uint64, 1)
	go func() {
		tick := time.NewTicker(period)
		defer tick.Stop()
		peak := read()
		for {
			select {
			case <-tick.C:
				peak = max(peak, read())
			case <-ctx.Done():
				out <- max(peak, read())
				return
			}
		}
	}()
	return out
}

// firstRowTable is the table whose first row marks the time to first row: the
// payments rollup, or the raw table when rollups are off.
func firstRowTable(cfg config.Config) string {
	if !cfg.Pipeline.Rollups {
		return "payments"
	}
	return schemas.RollupTable("payments", cfg.Pipeline.Window)
}

// ProcStatusBytes reads a size field ("VmRSS", "VmHWM") of /proc/<pid>/status in
// bytes; 0 if the process or the field is gone. The end-to-end tests assert memory
// bounds with it.
func ProcStatusBytes(pid, field string) uint64 { return procStatusBytes(pid, field) }
