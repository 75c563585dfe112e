package atomicfile

import (
	"errors"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestWrite(t *testing.T) {
	dir := t.TempDir()
	p := filepath.Join(dir, "out.txt")
	if err := Write(p, func(w io.Writer) error { _, err := io.WriteString(w, "hello"); return err }); err != nil {
		t.Fatal(err)
	}
	b, _ := os.ReadFile(p)
	st, _ := os.Stat(p)
	if string(b) != "hello" || st.Mode().Perm() != 0o644 {
		t.Errorf("got %q mode %v", b, st.Mode().Perm())
	}
	// A failing writer leaves the old file and no temporary behind.
	boom := errors.New("boom")
	err := Write(p, func(w io.Writer) error { io.WriteString(w, "partial"); return boom })
	if !errors.Is(err, boom) || !strings.Contains(err.Error(), p) {
		t.Errorf("error %v", err)
	}
	b, _ = os.ReadFile(p)
	ents, _ := os.ReadDir(dir)
	if string(b) != "hello" || len(ents) != 1 {
		t.Errorf("after failure: %q, %d entries", b, len(ents))
	}
	if err := CheckDir(filepath.Join(dir, "missing", "x")); err == nil {
		t.Error("CheckDir: no error for a missing directory")
	}
	if err := CheckDir(p); err != nil {
		t.Error(err)
	}
}
