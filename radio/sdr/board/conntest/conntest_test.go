package conntest

import (
	"bytes"
	"errors"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// loop is a fake device at the byte level: it answers each write with its bytes reversed.
type loop struct{ pending []byte }

func (l *loop) Write(p []byte) (int, error) {
	for i := len(p) - 1; i >= 0; i-- {
		l.pending = append(l.pending, p[i])
	}
	return len(p), nil
}

func (l *loop) Read(p []byte) (int, error) {
	n := copy(p, l.pending[:min(2, len(l.pending))]) // answers arrive in pieces
	l.pending = l.pending[n:]
	return n, nil
}

func (l *loop) Close() error { return nil }

func TestRecordSaveLoadPlayback(t *testing.T) {
	rec := NewRecord(&loop{})
	buf := make([]byte, 8)
	rec.Write([]byte{1, 2})
	rec.Write([]byte{3}) // two writes before a read: one exchange
	for range 2 {
		rec.Read(buf)
	}
	rec.Write([]byte{9})
	rec.Read(buf)
	want := []Exchange{{W: []byte{1, 2, 3}, R: []byte{2, 1, 3}}, {W: []byte{9}, R: []byte{9}}}
	got := rec.Exchanges()
	if len(got) != 2 || !bytes.Equal(got[0].W, want[0].W) || !bytes.Equal(got[0].R, want[0].R) || !bytes.Equal(got[1].R, want[1].R) {
		t.Fatalf("recorded %v, want %v", got, want)
	}
	path := filepath.Join(t.TempDir(), "s.conntest")
	if err := Save(path, got); err != nil {
		t.Fatal(err)
	}
	ex, err := Load(path)
	if err != nil {
		t.Fatal(err)
	}
	pb := NewPlayback(ex)
	pb.Idle = 1
	if _, err := pb.Write([]byte{1, 2, 3}); err != nil {
		t.Fatal(err)
	}
	all, _ := io.ReadAll(io.LimitReader(pb, 3))
	if !bytes.Equal(all, []byte{2, 1, 3}) {
		t.Fatalf("played back %v", all)
	}
	if err := pb.Err(); err == nil || !strings.Contains(err.Error(), "1 of 2 recorded exchanges not used") {
		t.Fatalf("half-used playback: %v", err)
	}
	if _, err := pb.Write([]byte{8}); !errors.Is(err, ErrMismatch) {
		t.Fatalf("mismatched write: %v", err)
	}
	if err := pb.Close(); !errors.Is(err, ErrMismatch) {
		t.Fatalf("Close after a mismatch: %v", err)
	}
}

// Writing the next request before reading the whole answer is a deviation from the recording.
func TestPlaybackUnreadAnswer(t *testing.T) {
	pb := NewPlayback([]Exchange{{W: []byte{1}, R: []byte{2, 3}}, {W: []byte{4}, R: []byte{5}}})
	pb.Write([]byte{1})
	pb.Read(make([]byte, 1))
	if _, err := pb.Write([]byte{4}); !errors.Is(err, ErrMismatch) {
		t.Fatalf("write with the answer half read: %v", err)
	}
}

func TestLoadErrors(t *testing.T) {
	dir := t.TempDir()
	for name, text := range map[string]string{
		"order":   "r 00\n",
		"hex":     "w zz\nr 00\n",
		"trailer": "w 00\n",
	} {
		path := filepath.Join(dir, name)
		if err := os.WriteFile(path, []byte(text), 0o644); err != nil {
			t.Fatal(err)
		}
		if _, err := Load(path); err == nil || !strings.Contains(err.Error(), path) {
			t.Errorf("%s: %v, want an error naming the file", name, err)
		}
	}
}
