// Package shareddata locates the external reference data in ../shared/data (next to the repository,
// read in place, never copied in) for tests. Without it a test skips with a message, except under
// CI=true, where missing data is a failure.
package shareddata

import (
	"os"
	"path/filepath"
	"runtime"
	"testing"
)

// Path returns the path of rel inside ../shared/data, or skips (fails under CI=true) when absent.
func Path(t testing.TB, rel string) string {
	t.Helper()
	_, here, _, ok := runtime.Caller(0)
	if !ok {
		t.Fatal("shareddata: cannot locate the repository")
	}
	// here is <repo>/internal/shareddata/shareddata.go.
	p := filepath.Join(filepath.Dir(here), "..", "..", "..", "shared", "data", rel)
	if _, err := os.Stat(p); err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatalf("shared data %s missing (CI=true): %v", rel, err)
		}
		t.Skipf("shared data %s not found: %v", rel, err)
	}
	return p
}
