//go:build !unix

package telemetry

import (
	"errors"
	"os"
)

// lockFile refuses: the spool's lock (flock) is what keeps two processes from sharing a spool, and the
// daemon runs on Unix systems only.
func lockFile(*os.File) error {
	return errors.New("a spool directory needs a Unix system (flock)")
}
