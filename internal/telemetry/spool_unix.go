//go:build unix

package telemetry

import (
	"os"
	"syscall"
)

// lockFile takes an exclusive advisory lock on f without waiting; the kernel releases it when the process
// ends, however it ends, so a killed daemon leaves no stale lock.
func lockFile(f *os.File) error {
	return syscall.Flock(int(f.Fd()), syscall.LOCK_EX|syscall.LOCK_NB)
}
