package capture

import (
	"runtime"
	"syscall"
	"testing"
	"time"
)

// threadCPU returns the CPU time of the calling OS thread. The machine
// is shared, so benchmarks report packets per CPU-second of the thread
// that did the work as well as per wall-clock second.
func threadCPU() time.Duration {
	var ru syscall.Rusage
	syscall.Getrusage(1 /* RUSAGE_THREAD */, &ru)
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// perCPU runs body with the goroutine pinned to its thread and reports
// n/CPU-seconds as "packets/cpu-s".
func perCPU(b *testing.B, body func()) {
	runtime.LockOSThread()
	defer runtime.UnlockOSThread()
	c0 := threadCPU()
	body()
	c := threadCPU() - c0
	if c > 0 {
		b.ReportMetric(float64(b.N)/c.Seconds(), "packets/cpu-s")
	}
}
