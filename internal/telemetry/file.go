package telemetry

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"sync"
)

// FileConfig configures a FileWriter.
type FileConfig struct {
	// Path is the line-protocol file, appended to; its directory is created (key telemetry.file.path).
	Path string
	// Database is the InfluxDB 1.x database named in the file's import header (key telemetry.file.database).
	Database string
}

// Validate checks the configuration; errors name the offending key.
func (c FileConfig) Validate() error {
	if c.Path == "" {
		return errors.New("telemetry.file.path: empty")
	}
	// The importer reads the database from "# CONTEXT-DATABASE: name" up to the next colon, one line.
	if c.Database == "" || strings.ContainsAny(c.Database, ":\n\r") {
		return fmt.Errorf("telemetry.file.database: %q must be non-empty, on one line, without ':'", c.Database)
	}
	return nil
}

// FileWriter appends batches to a file of InfluxDB line protocol, one point per line, synced to disk after
// every batch: a crash loses at most the points not yet handed to it. A new (or empty) file starts with a
// header of comment lines, which InfluxDB's parsers skip:
//
//	# cctrack telemetry: InfluxDB line protocol, one point per line, timestamps in nanoseconds.
//	# InfluxDB 1.x: influx -import -path=FILE -precision=ns (create database DB first)
//	# InfluxDB 2.x: influx write --bucket BUCKET --precision ns --file FILE
//	# DML
//	# CONTEXT-DATABASE: DB
//
// "# DML" and "# CONTEXT-DATABASE" are what influx -import (1.x) needs to send the lines to database DB;
// influx write (2.x) reads the same file as plain line protocol. Later runs append to the same file. A last
// line without its newline, left by a crash in the middle of a write, is cut off when the file is opened
// again, so that it cannot be read as a wrong point (a truncated timestamp still parses).
type FileWriter struct {
	path string

	mu   sync.Mutex
	f    *os.File
	size int64  // bytes of complete lines; a failed append is cut back to this
	buf  []byte // encoding buffer, reused across batches
}

var _ Writer = (*FileWriter)(nil)

// NewFileWriter opens (creating it and its directory if needed) the file cfg.Path for appending. log
// (nil: discard) hears about a partial last line that was cut off.
func NewFileWriter(cfg FileConfig, log *slog.Logger) (*FileWriter, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	dir := filepath.Dir(cfg.Path)
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, fmt.Errorf("telemetry: create directory of %s: %w", cfg.Path, err)
	}
	_, statErr := os.Stat(cfg.Path)
	created := errors.Is(statErr, fs.ErrNotExist)
	f, err := os.OpenFile(cfg.Path, os.O_RDWR|os.O_CREATE|os.O_APPEND, 0o644)
	if err != nil {
		return nil, fmt.Errorf("telemetry: open %s: %w", cfg.Path, err)
	}
	w := &FileWriter{path: cfg.Path, f: f}
	if err := w.start(cfg.Database, created, log); err != nil {
		f.Close()
		return nil, err
	}
	return w, nil
}

// start cuts off a partial last line, writes the header into an empty file and makes a new file's
// directory entry durable.
func (w *FileWriter) start(database string, created bool, log *slog.Logger) error {
	size, err := w.f.Seek(0, io.SeekEnd)
	if err != nil {
		return fmt.Errorf("telemetry: size of %s: %w", w.path, err)
	}
	w.size, err = completeLength(w.f, size)
	if err != nil {
		return fmt.Errorf("telemetry: read %s: %w", w.path, err)
	}
	if w.size < size {
		log.Warn("telemetry: cutting off a partial last line left by an interrupted write",
			"file", w.path, "bytes", size-w.size)
		if err := w.f.Truncate(w.size); err != nil {
			return fmt.Errorf("telemetry: truncate %s: %w", w.path, err)
		}
	}
	if w.size == 0 {
		header := "# cctrack telemetry: InfluxDB line protocol, one point per line, timestamps in nanoseconds.\n" +
			"# InfluxDB 1.x: influx -import -path=FILE -precision=ns (create database " + database + " first)\n" +
			"# InfluxDB 2.x: influx write --bucket BUCKET --precision ns --file FILE\n" +
			"# DML\n" +
			"# CONTEXT-DATABASE: " + database + "\n"
		if err := w.append([]byte(header)); err != nil {
			return err
		}
	}
	if created {
		// A new file's name must survive a crash too: sync its directory.
		d, err := os.Open(filepath.Dir(w.path))
		if err != nil {
			return fmt.Errorf("telemetry: open directory of %s: %w", w.path, err)
		}
		defer d.Close()
		if err := d.Sync(); err != nil {
			return fmt.Errorf("telemetry: sync directory of %s: %w", w.path, err)
		}
	}
	return nil
}

// completeLength returns the length of the file up to and including its last newline.
func completeLength(f *os.File, size int64) (int64, error) {
	var chunk [4096]byte
	for end := size; end > 0; {
		start := max(0, end-int64(len(chunk)))
		b := chunk[:end-start]
		if _, err := f.ReadAt(b, start); err != nil {
			return 0, err
		}
		if i := bytes.LastIndexByte(b, '\n'); i >= 0 {
			return start + int64(i) + 1, nil
		}
		end = start
	}
	return 0, nil
}

// Write appends batch as one write and syncs the file. A point that cannot be encoded fails the batch
// with a permanent per-point *WriteError before anything is written; a failed append or sync is cut back,
// so the file never holds part of a batch that Write reported as failed.
func (w *FileWriter) Write(ctx context.Context, batch []Point) error {
	if err := ctx.Err(); err != nil || len(batch) == 0 {
		return err
	}
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.f == nil {
		return fmt.Errorf("telemetry: write %s: writer closed", w.path)
	}
	buf, err := encodeBatch(w.buf[:0], batch)
	w.buf = buf[:0]
	if err != nil {
		return err
	}
	return w.append(buf)
}

// append writes b at the end of the file and syncs it, or cuts the file back and fails.
func (w *FileWriter) append(b []byte) error {
	_, err := w.f.Write(b)
	if err == nil {
		err = w.f.Sync()
	}
	if err != nil {
		// Best effort: a disk that refused the write may refuse this too; the next open cuts a partial line.
		_ = w.f.Truncate(w.size)
		return fmt.Errorf("telemetry: append to %s: %w", w.path, err)
	}
	w.size += int64(len(b))
	return nil
}

// Close closes the file.
func (w *FileWriter) Close() error {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.f == nil {
		return nil
	}
	err := w.f.Close()
	w.f = nil
	if err != nil {
		return fmt.Errorf("telemetry: close %s: %w", w.path, err)
	}
	return nil
}
