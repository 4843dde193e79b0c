package membudget

import (
	"bufio"
	"bytes"
	"os"
	"path"
	"path/filepath"
	"strconv"
	"strings"
)

// DefaultBytes is the budget when SLUICE_MEMORY_LIMIT is auto and the process is in
// no cgroup with a memory limit.
const DefaultBytes = 256 << 20

// AutoPercent is the share of the cgroup memory limit an auto budget takes; the rest
// is for what the budget does not see (the binary's pages, the kernel's buffers).
const AutoPercent = 75

// Resolve returns the budget for a SLUICE_MEMORY_LIMIT of setting bytes (0 = auto)
// and where it came from: "SLUICE_MEMORY_LIMIT", "75% of the cgroup memory limit of
// N bytes", or "default". root is where /proc and /sys are found ("/").
func Resolve(setting int64, root string) (int64, string) {
	if setting > 0 {
		return setting, "SLUICE_MEMORY_LIMIT"
	}
	if limit, ok := CgroupLimit(root); ok {
		return limit * AutoPercent / 100, strconv.Itoa(AutoPercent) + "% of the cgroup memory limit of " + strconv.FormatInt(limit, 10) + " bytes"
	}
	return DefaultBytes, "default"
}

// CgroupLimit returns the memory limit of the process's cgroup, read under root
// ("/"): cgroup v2's memory.max, else cgroup v1's memory.limit_in_bytes, the
// smallest along the path from the process's cgroup up to the hierarchy's root
// (inside a container that path may not exist: its own cgroup is then the root).
// ok is false when no limit is set.
func CgroupLimit(root string) (limit int64, ok bool) {
	self, err := os.ReadFile(filepath.Join(root, "proc/self/cgroup"))
	if err != nil {
		return 0, false
	}
	v2, v1, hasV2, hasV1 := cgroupPaths(self)
	if hasV2 {
		for _, mount := range []string{"sys/fs/cgroup", "sys/fs/cgroup/unified"} {
			if limit, ok := smallestAlong(filepath.Join(root, mount), v2, "memory.max"); ok {
				return limit, true
			}
		}
	}
	if hasV1 {
		return smallestAlong(filepath.Join(root, "sys/fs/cgroup/memory"), v1, "memory.limit_in_bytes")
	}
	return 0, false
}

// cgroupPaths reads /proc/self/cgroup: the v2 path (the "0::" line) and the path in
// the v1 hierarchy of the memory controller.
func cgroupPaths(self []byte) (v2, v1 string, hasV2, hasV1 bool) {
	sc := bufio.NewScanner(bytes.NewReader(self))
	for sc.Scan() {
		id, rest, ok := strings.Cut(sc.Text(), ":")
		if !ok {
			continue
		}
		controllers, p, ok := strings.Cut(rest, ":")
		if !ok {
			continue
		}
		if id == "0" && controllers == "" {
			v2, hasV2 = p, true
		}
		for _, c := range strings.Split(controllers, ",") {
			if c == "memory" {
				v1, hasV1 = p, true
			}
		}
	}
	return v2, v1, hasV2, hasV1
}

// smallestAlong returns the smallest limit in file of the directories from
// mount/cgroup up to mount.
func smallestAlong(mount, cgroup, file string) (limit int64, ok bool) {
	p := path.Clean("/" + cgroup)
	for {
		if n, found := readLimit(filepath.Join(mount, p, file)); found && (!ok || n < limit) {
			limit, ok = n, true
		}
		if p == "/" {
			return limit, ok
		}
		p = path.Dir(p)
	}
}

// unlimitedV1 is where cgroup v1's "no limit" starts (it reports the largest
// page-aligned int64).
const unlimitedV1 = 1 << 62

// readLimit parses a memory.max or memory.limit_in_bytes file; "max" and v1's
// huge value are no limit.
func readLimit(name string) (int64, bool) {
	b, err := os.ReadFile(name)
	if err != nil {
		return 0, false
	}
	s := strings.TrimSpace(string(b))
	n, err := strconv.ParseInt(s, 10, 64)
	if err != nil || n <= 0 || n >= unlimitedV1 {
		return 0, false // "max", or nothing usable
	}
	return n, true
}
