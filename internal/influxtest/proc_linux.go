package influxtest

import (
	"os/exec"
	"syscall"
)

// killWithParent has the kernel kill influxd if the test binary dies without running its cleanups (a test
// timeout panics past them), so no server outlives its test.
func killWithParent(cmd *exec.Cmd) {
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
}
