//go:build !linux

package influxtest

import "os/exec"

// killWithParent does nothing here: only Linux can tie a child's life to its parent's.
func killWithParent(*exec.Cmd) {}
