//go:build !linux

package schemas

import "time"

// threadCPU is unknown here: benchmarks report no cpu-ns/op.
func threadCPU() time.Duration { return 0 }
