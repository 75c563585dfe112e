package telemetry

import (
	"encoding/binary"
	"errors"
	"fmt"
	"hash/crc32"
	"io"
	"io/fs"
	"log/slog"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"

	"github.com/cctrack/cctrack/internal/atomicfile"
)

// SpoolPolicy says which points a full spool gives up.
type SpoolPolicy string

const (
	// DropOldest deletes the oldest segment file (an eighth of MaxBytes) to make room, counting its unsent
	// points as dropped: a long outage keeps the most recent data.
	DropOldest SpoolPolicy = "drop_oldest"
	// DropNewest refuses new points while the spool is full, counting them as dropped: a long outage keeps
	// the data from its start.
	DropNewest SpoolPolicy = "drop_newest"
)

// SpoolSync says when appended points are forced to disk (fsync).
type SpoolSync string

const (
	// SyncAlways syncs in every Add, before it returns: an acknowledged point survives power loss. One fsync
	// per Add, that is per coherence interval for the daemon (a few ms on an SSD, more on an SD card).
	SyncAlways SpoolSync = "always"
	// SyncInterval syncs from the writing goroutine (group commit) after each round of writes to the sink and
	// at least every flush interval, also while it waits out a backoff: an acknowledged point survives a crash
	// or kill of the process at once (it is in the kernel's page cache when Add returns), and power loss once
	// the next sync has run, at most about one flush interval later.
	SyncInterval SpoolSync = "interval"
)

// SpoolConfig configures a Spool (keys telemetry.spool.*).
type SpoolConfig struct {
	// Dir holds the segment files, the acknowledgement file and a lock file; it is created if needed
	// (telemetry.spool.dir). One process at a time may use it.
	Dir string
	// MaxBytes bounds the segment files together (telemetry.spool.max_bytes).
	MaxBytes int64
	// Policy is what a full spool gives up (telemetry.spool.policy).
	Policy SpoolPolicy
	// Sync is when appended points are forced to disk (telemetry.spool.sync).
	Sync SpoolSync
}

// MinSpoolBytes is the smallest MaxBytes: eight segments of 8 KiB, some tens of points each.
const MinSpoolBytes = 64 << 10

// spoolWarnFill is the fraction of MaxBytes past which the spool warns that it is filling; it warns again
// after it has drained below half.
const spoolWarnFill = 0.8

// Validate checks the configuration; errors name the offending key.
func (c SpoolConfig) Validate() error {
	switch {
	case c.Dir == "":
		return errors.New("telemetry.spool.dir: empty")
	case c.MaxBytes < MinSpoolBytes:
		return fmt.Errorf("telemetry.spool.max_bytes: %d, want >= %d", c.MaxBytes, MinSpoolBytes)
	case c.Policy != DropOldest && c.Policy != DropNewest:
		return fmt.Errorf("telemetry.spool.policy: %q, want %s or %s", c.Policy, DropOldest, DropNewest)
	case c.Sync != SyncAlways && c.Sync != SyncInterval:
		return fmt.Errorf("telemetry.spool.sync: %q, want %s or %s", c.Sync, SyncAlways, SyncInterval)
	}
	return nil
}

// Spool is a Buffer's queue on disk: the points not yet delivered, in segment files of records (see
// appendRecord) named after the index of their first record, NNNNNNNNNNNNNNNNNNNN.seg, plus a file "ack"
// saying where the first point not yet delivered starts. Points are appended to the newest segment; the
// writing goroutine reads batches from a cursor behind it and, once the writer accepted a batch, moves the
// acknowledgement past it; segments wholly acknowledged are deleted. A restart replays every point after
// the acknowledgement, so a point is delivered at least once. The acknowledgement is written after the
// writer's success (atomically, by rename), so a crash between the two sends that batch again; InfluxDB keys
// a point by its series (measurement and tags) and timestamp, so the repeat overwrites the point with the
// same values and it is stored exactly once.
//
// Opening a spool checks every record; a record cut short or damaged (power lost in the middle of a write)
// ends its segment: the file is truncated there, with a warning naming it, the byte offset and the bytes
// cut. Nothing in a spool's files can make it panic.
//
// The Buffer that owns a Spool calls it with its own mutex held, except persist; the Spool's mutex makes
// persist safe against the others.
type Spool struct {
	cfg      SpoolConfig
	log      *slog.Logger
	lock     *os.File // holds the directory's lock while open
	segBytes int64    // a segment is closed for appending once it reaches this size

	mu        sync.Mutex
	segs      []*segment // oldest first; the last is appended to
	total     int64      // bytes in segs
	ack       spoolPos   // the first record not yet delivered (or the end of the last delivered)
	read      spoolPos   // the first waiting record, after the records in flight
	inflight  []spoolPos // the end of each record in flight, oldest first
	waitingN  int        // records after read
	committed spoolPos   // ack as last written to the ack file
	dirty     bool       // appended since the last sync
	filling   bool       // warned that the spool passed spoolWarnFill

	wbuf   []byte
	wrecs  []int // end offsets in wbuf of the records of one push
	rbuf   []byte
	rseg   uint64 // rbuf holds segment rseg's bytes from roff
	roff   int64
	strs   map[string]string
	closed bool
}

// segment is one segment file.
type segment struct {
	first uint64 // index of its first record, its name
	count int    // records
	size  int64  // bytes (whole records only)
	f     *os.File
}

// spoolPos is a record boundary: byte offset off in segment seg, after rec records of it.
type spoolPos struct {
	seg uint64
	off int64
	rec int
}

const ackFile = "ack"

func segmentName(first uint64) string { return fmt.Sprintf("%020d.seg", first) }

// OpenSpool opens (creating it if needed) the spool in cfg.Dir, checks its records, truncating a damaged
// tail, and positions it at the first point not yet delivered. log (nil: discard) hears about damage,
// about points replayed from earlier runs, about the spool filling and about what a full spool drops.
func OpenSpool(cfg SpoolConfig, log *slog.Logger) (*Spool, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	if err := os.MkdirAll(cfg.Dir, 0o755); err != nil {
		return nil, fmt.Errorf("telemetry.spool.dir: %w", err)
	}
	lock, err := lockDir(cfg.Dir)
	if err != nil {
		return nil, err
	}
	s := &Spool{cfg: cfg, log: log, lock: lock, segBytes: cfg.MaxBytes / 8, strs: map[string]string{}}
	if err := s.load(); err != nil {
		s.closeFiles()
		return nil, err
	}
	if s.waitingN > 0 {
		log.Info("telemetry: spool holds points not yet delivered; sending them first",
			"dir", cfg.Dir, "points", s.waitingN, "bytes", s.total)
	}
	return s, nil
}

// load reads the acknowledgement and the segments.
func (s *Spool) load() error {
	ack, ackOK := s.readAck()
	ents, err := os.ReadDir(s.cfg.Dir)
	if err != nil {
		return fmt.Errorf("telemetry.spool.dir: %w", err)
	}
	var firsts []uint64
	for _, e := range ents {
		name, ok := strings.CutSuffix(e.Name(), ".seg")
		if !ok || !e.Type().IsRegular() {
			continue
		}
		first, err := strconv.ParseUint(name, 10, 64)
		if err != nil || segmentName(first) != e.Name() {
			s.log.Warn("telemetry: spool: ignoring a file that is not a segment", "file", filepath.Join(s.cfg.Dir, e.Name()))
			continue
		}
		firsts = append(firsts, first)
	}
	slices.Sort(firsts)
	for _, first := range firsts {
		path := filepath.Join(s.cfg.Dir, segmentName(first))
		if ackOK && first < ack.seg {
			// Wholly delivered; the process stopped before deleting it.
			if err := os.Remove(path); err != nil {
				return fmt.Errorf("telemetry: spool: remove delivered segment: %w", err)
			}
			continue
		}
		seg, boundaries, err := s.openSegment(path, first, ackOK && first == ack.seg)
		if err != nil {
			return err
		}
		s.segs = append(s.segs, seg)
		s.total += seg.size
		if ackOK && first == ack.seg {
			if !slices.Contains(boundaries, ack) {
				s.log.Warn("telemetry: spool: acknowledgement does not fall on a record; sending its segment again",
					"file", path, "offset", ack.off)
				ack = spoolPos{seg: first}
			}
			s.ack = ack
		}
	}
	if len(s.segs) == 0 {
		// Start naming after the acknowledged records, so that names never repeat.
		next := uint64(0)
		if ackOK {
			next = ack.seg + uint64(ack.rec)
		}
		s.ack = spoolPos{seg: next}
		s.committed = s.ack
		return s.newSegment(next)
	}
	if s.ack.seg != s.segs[0].first || s.ack.off == 0 {
		s.ack = spoolPos{seg: s.segs[0].first}
	}
	s.committed = s.ack
	if !ackOK {
		s.committed = spoolPos{seg: ^uint64(0)} // write an ack file at the first persist
	}
	s.read = s.ack
	for _, seg := range s.segs {
		s.waitingN += seg.count
	}
	s.waitingN -= s.ack.rec
	return nil
}

// openSegment opens a segment file, checks its records and truncates it after the last good one. With
// wantBoundaries it returns the position after every record (to check the acknowledgement against).
func (s *Spool) openSegment(path string, first uint64, wantBoundaries bool) (*segment, []spoolPos, error) {
	f, err := os.OpenFile(path, os.O_RDWR|os.O_APPEND, 0o644)
	if err != nil {
		return nil, nil, fmt.Errorf("telemetry: spool: %w", err)
	}
	data, err := io.ReadAll(f)
	if err != nil {
		f.Close()
		return nil, nil, fmt.Errorf("telemetry: spool: read %s: %w", path, err)
	}
	seg := &segment{first: first, f: f}
	var boundaries []spoolPos
	if wantBoundaries {
		boundaries = append(boundaries, spoolPos{seg: first})
	}
	var bad error
	for off := 0; off < len(data); {
		_, n, err := readRecord(data[off:], s.intern)
		if err != nil {
			bad = err
			break
		}
		off += n
		seg.count++
		seg.size = int64(off)
		if wantBoundaries {
			boundaries = append(boundaries, spoolPos{seg: first, off: seg.size, rec: seg.count})
		}
	}
	if bad != nil {
		s.log.Warn("telemetry: spool: cutting off a damaged or incomplete record and what follows it (an interrupted write)",
			"file", path, "offset", seg.size, "bytes", int64(len(data))-seg.size, "records_kept", seg.count, "err", bad)
		if err := f.Truncate(seg.size); err != nil {
			f.Close()
			return nil, nil, fmt.Errorf("telemetry: spool: truncate %s at byte %d: %w", path, seg.size, err)
		}
		if err := f.Sync(); err != nil {
			f.Close()
			return nil, nil, fmt.Errorf("telemetry: spool: sync %s: %w", path, err)
		}
	}
	return seg, boundaries, nil
}

// readAck reads the acknowledgement file: "SEG OFF REC CRC\n", CRC the CRC-32C of "SEG OFF REC" in hex.
// A missing file means nothing was acknowledged; a damaged one is reported and ignored (what it covered is
// sent again, which InfluxDB stores once).
func (s *Spool) readAck() (spoolPos, bool) {
	path := filepath.Join(s.cfg.Dir, ackFile)
	b, err := os.ReadFile(path)
	if errors.Is(err, fs.ErrNotExist) {
		return spoolPos{}, false
	}
	var p spoolPos
	var crc uint32
	if err == nil {
		body, sum, _ := strings.Cut(strings.TrimSuffix(string(b), "\n"), " crc=")
		_, err = fmt.Sscanf(body, "%d %d %d", &p.seg, &p.off, &p.rec)
		if err == nil {
			_, err = fmt.Sscanf(sum, "%08x", &crc)
		}
		if err == nil && (crc != crc32.Checksum([]byte(body), castagnoli) || p.off < 0 || p.rec < 0) {
			err = errors.New("checksum mismatch")
		}
	}
	if err != nil {
		s.log.Warn("telemetry: spool: unreadable acknowledgement file; sending every spooled point again", "file", path, "err", err)
		return spoolPos{}, false
	}
	return p, true
}

func (s *Spool) writeAck(p spoolPos) error {
	body := fmt.Sprintf("%d %d %d", p.seg, p.off, p.rec)
	line := fmt.Sprintf("%s crc=%08x\n", body, crc32.Checksum([]byte(body), castagnoli))
	return atomicfile.Write(filepath.Join(s.cfg.Dir, ackFile), func(w io.Writer) error {
		_, err := io.WriteString(w, line)
		return err
	})
}

// newSegment creates the segment named first and makes its directory entry durable.
func (s *Spool) newSegment(first uint64) error {
	path := filepath.Join(s.cfg.Dir, segmentName(first))
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE|os.O_EXCL|os.O_APPEND, 0o644)
	if err != nil {
		return fmt.Errorf("telemetry: spool: %w", err)
	}
	if err := syncDir(s.cfg.Dir); err != nil {
		f.Close()
		os.Remove(path)
		return err
	}
	s.segs = append(s.segs, &segment{first: first, f: f})
	return nil
}

func syncDir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return fmt.Errorf("telemetry: spool: open directory: %w", err)
	}
	defer d.Close()
	if err := d.Sync(); err != nil {
		return fmt.Errorf("telemetry: spool: sync directory %s: %w", dir, err)
	}
	return nil
}

// intern returns a string equal to b, the same one each time: a replayed point's tags and keys repeat.
func (s *Spool) intern(b []byte) string {
	if v, ok := s.strs[string(b)]; ok {
		return v
	}
	v := string(b)
	if len(s.strs) < 4096 { // bounded: a run has a handful of distinct names
		s.strs[v] = v
	}
	return v
}

// push appends points, syncing with SyncAlways. Points checkPoint refuses are rejected (they could never be
// delivered); points a full spool gives up, or that a failed write lost, are dropped.
func (s *Spool) push(points []Point) (dropped, rejected int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return len(points), 0
	}
	s.wbuf, s.wrecs = s.wbuf[:0], s.wrecs[:0]
	for _, p := range points {
		var err error
		if err = checkPoint(p); err == nil {
			s.wbuf, err = appendRecord(s.wbuf, p)
		}
		if err != nil {
			rejected++
			s.log.Warn("telemetry: spool: point refused", "err", err)
			continue
		}
		s.wrecs = append(s.wrecs, len(s.wbuf))
	}
	prev, chunk := 0, 0 // wbuf[chunk:prev] is accepted but not yet written
	for i, end := range s.wrecs {
		n, pending := int64(end-prev), int64(prev-chunk)
		ok, lost := s.makeRoom(pending + n)
		dropped += lost
		if !ok {
			// DropNewest, or nothing left to drop: this point and the rest of the push are refused.
			dropped += len(s.wrecs) - i
			break
		}
		if last := s.segs[len(s.segs)-1]; last.size+pending > 0 && last.size+pending+n > s.segBytes {
			// This record starts a new segment: what precedes it goes to the current one first.
			if err := s.write(s.wbuf[chunk:prev], s.recsIn(chunk, prev)); err != nil {
				return dropped + s.recsIn(chunk, prev) + len(s.wrecs) - i, rejected
			}
			chunk = prev
			if err := s.rotate(); err != nil {
				s.log.Warn("telemetry: spool: cannot start a new segment; points dropped", "err", err)
				return dropped + len(s.wrecs) - i, rejected
			}
		}
		prev = end
	}
	if chunk < prev {
		if err := s.write(s.wbuf[chunk:prev], s.recsIn(chunk, prev)); err != nil {
			dropped += s.recsIn(chunk, prev)
		}
	}
	if s.cfg.Sync == SyncAlways && s.dirty {
		if err := s.segs[len(s.segs)-1].f.Sync(); err != nil {
			s.log.Warn("telemetry: spool: sync failed; the points are written but may not survive power loss", "err", err)
		} else {
			s.dirty = false
		}
	}
	s.warnFill()
	return dropped, rejected
}

// recsIn counts the records of this push ending in wbuf(from, to].
func (s *Spool) recsIn(from, to int) int {
	n := 0
	for _, e := range s.wrecs {
		if e > from && e <= to {
			n++
		}
	}
	return n
}

// write appends b, holding k whole records, to the last segment; on failure it cuts the file back, logs
// and returns the error (the k records are lost).
func (s *Spool) write(b []byte, k int) error {
	last := s.segs[len(s.segs)-1]
	if _, err := last.f.Write(b); err != nil {
		// Best effort: a disk that refused the write may refuse this too; the next open cuts a partial record.
		_ = last.f.Truncate(last.size)
		s.log.Warn("telemetry: spool: append failed; points dropped", "file", last.f.Name(), "points", k, "err", err)
		return fmt.Errorf("telemetry: spool: append to %s: %w", last.f.Name(), err)
	}
	last.size += int64(len(b))
	last.count += k
	s.total += int64(len(b))
	s.waitingN += k
	s.dirty = true
	return nil
}

// rotate closes the last segment for appending (syncing it) and starts the next.
func (s *Spool) rotate() error {
	last := s.segs[len(s.segs)-1]
	if s.dirty {
		if err := last.f.Sync(); err != nil {
			return fmt.Errorf("telemetry: spool: sync %s: %w", last.f.Name(), err)
		}
		s.dirty = false
	}
	return s.newSegment(last.first + uint64(last.count))
}

// makeRoom makes the spool able to take n more bytes within MaxBytes, dropping oldest segments under
// DropOldest (dropped counts their waiting points); false when it cannot.
func (s *Spool) makeRoom(n int64) (ok bool, dropped int) {
	for s.total+n > s.cfg.MaxBytes {
		if s.cfg.Policy == DropNewest || len(s.segs) < 2 {
			return false, dropped
		}
		dropped += s.dropOldest()
	}
	return true, dropped
}

// dropOldest deletes the oldest segment. Its waiting records are dropped; records of it in flight stay in
// flight (a later putBack drops them).
func (s *Spool) dropOldest() (lost int) {
	seg := s.segs[0]
	if s.read.seg == seg.first {
		lost = seg.count - s.read.rec
		s.read = spoolPos{seg: s.segs[1].first}
	}
	s.waitingN -= lost
	s.removeFirst()
	s.log.Warn("telemetry: spool full: dropped its oldest segment", "dir", s.cfg.Dir,
		"max_bytes", s.cfg.MaxBytes, "points_dropped", lost, "policy", s.cfg.Policy)
	return lost
}

// removeFirst closes and deletes the oldest segment.
func (s *Spool) removeFirst() {
	seg := s.segs[0]
	s.segs = s.segs[1:]
	s.total -= seg.size
	seg.f.Close()
	if err := os.Remove(seg.f.Name()); err != nil {
		s.log.Warn("telemetry: spool: cannot delete a segment", "err", err)
	}
	if s.rseg == seg.first {
		s.rbuf = s.rbuf[:0]
	}
}

// warnFill warns once when the spool passes spoolWarnFill of MaxBytes, and again after it drained below half.
func (s *Spool) warnFill() {
	switch fill := float64(s.total) / float64(s.cfg.MaxBytes); {
	case !s.filling && fill >= spoolWarnFill:
		s.filling = true
		s.log.Warn("telemetry: spool filling: the sink is not keeping up", "dir", s.cfg.Dir,
			"bytes", s.total, "max_bytes", s.cfg.MaxBytes, "points_waiting", s.waitingN, "policy", s.cfg.Policy)
	case s.filling && fill < 0.5:
		s.filling = false
		s.log.Info("telemetry: spool drained below half", "dir", s.cfg.Dir, "bytes", s.total)
	}
}

// seg returns the live segment named first, or nil.
func (s *Spool) seg(first uint64) *segment {
	for _, g := range s.segs {
		if g.first == first {
			return g
		}
	}
	return nil
}

// take decodes up to max waiting points into dst and puts them in flight. A record found damaged
// here (the file changed on disk after OpenSpool checked it) is given up with the rest of its segment
// (dropped counts them): the records behind it cannot be found without its length, and retrying would
// stall the sink for ever.
func (s *Spool) take(dst []Point, max int) (_ []Point, dropped int, _ error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for len(dst) < max && s.waitingN > 0 {
		g := s.seg(s.read.seg)
		if g == nil || s.read.rec == g.count {
			i := slices.IndexFunc(s.segs, func(x *segment) bool { return x.first > s.read.seg })
			if i < 0 {
				return dst, dropped, fmt.Errorf("telemetry: spool: %d points waiting after the last segment (a bug)", s.waitingN)
			}
			s.read = spoolPos{seg: s.segs[i].first}
			continue
		}
		rec, err := s.record(g, s.read.off)
		var p Point
		var n int
		if err == nil {
			if p, n, err = readRecord(rec, s.intern); err != nil {
				err = fmt.Errorf("telemetry: spool: %s at byte %d: %w", g.f.Name(), s.read.off, err)
			}
		}
		if errors.Is(err, errBadRecord) || errors.Is(err, errShortRecord) || errors.Is(err, io.EOF) {
			lost, cerr := s.cut(g, err)
			if cerr != nil {
				return dst, dropped, cerr
			}
			dropped += lost
			continue
		}
		if err != nil {
			return dst, dropped, err
		}
		dst = append(dst, p)
		s.read.off += int64(n)
		s.read.rec++
		s.inflight = append(s.inflight, s.read)
		s.waitingN--
	}
	return dst, dropped, nil
}

// cut gives up segment g's records from the read position on, after damage found there (why); when g
// is being appended to, the next points go to a new segment first.
func (s *Spool) cut(g *segment, why error) (lost int, err error) {
	if g == s.segs[len(s.segs)-1] {
		if err := s.rotate(); err != nil {
			return 0, err
		}
	}
	lost = g.count - s.read.rec
	g.count = s.read.rec
	s.waitingN -= lost
	s.log.Error("telemetry: spool: a record was damaged on disk; dropping it and the rest of its segment",
		"file", g.f.Name(), "offset", s.read.off, "points_dropped", lost, "err", why)
	return lost, nil
}

// record returns the bytes of segment g from off to at least the end of the record there, reading ahead.
func (s *Spool) record(g *segment, off int64) ([]byte, error) {
	const ahead = 64 << 10
	in := func(n int64) bool { return s.rseg == g.first && off >= s.roff && off+n <= s.roff+int64(len(s.rbuf)) }
	fill := func(n int64) error {
		n = min(max(n, ahead), g.size-off)
		s.rbuf = slices.Grow(s.rbuf[:0], int(n))[:n]
		if _, err := g.f.ReadAt(s.rbuf, off); err != nil {
			s.rbuf = s.rbuf[:0]
			return fmt.Errorf("telemetry: spool: read %s at byte %d: %w", g.f.Name(), off, err)
		}
		s.rseg, s.roff = g.first, off
		return nil
	}
	if !in(recordHeader) {
		if err := fill(recordHeader); err != nil {
			return nil, err
		}
	}
	b := s.rbuf[off-s.roff:]
	n, err := recordLength(b)
	if errors.Is(err, errShortRecord) && len(b) >= recordHeader {
		need := recordHeader + int64(binary.LittleEndian.Uint32(b))
		if err := fill(need); err != nil {
			return nil, err
		}
		b = s.rbuf
		n, err = recordLength(b)
	}
	if err != nil {
		return nil, fmt.Errorf("telemetry: spool: %s at byte %d: %w", g.f.Name(), off, err)
	}
	return b[:n], nil
}

// settle acknowledges the n oldest points in flight (written or rejected).
func (s *Spool) settle(n int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if n == 0 {
		return
	}
	s.ack = s.inflight[n-1]
	s.inflight = append(s.inflight[:0], s.inflight[n:]...)
}

// putBack returns the newest len(pts) points in flight to the waiting points (it needs only their number:
// they are on disk); those whose segment was dropped meanwhile are dropped.
func (s *Spool) putBack(pts []Point) (dropped int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	k := len(s.inflight) - len(pts) // the first record put back is in-flight record k
	for i := k; i < len(s.inflight); i++ {
		if s.seg(s.inflight[i].seg) == nil {
			dropped++
			continue
		}
		// Record i starts where record i-1 (or the acknowledgement) ends, or at its segment's start.
		start := s.ack
		if i > 0 {
			start = s.inflight[i-1]
		}
		if start.seg != s.inflight[i].seg {
			start = spoolPos{seg: s.inflight[i].seg}
		}
		s.read = start
		s.waitingN += len(s.inflight) - i
		break
	}
	s.inflight = s.inflight[:k]
	return dropped
}

func (s *Spool) waiting() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.waitingN
}

// persist syncs appended points (SyncInterval), records the acknowledgement and deletes the segments
// wholly delivered. The writing goroutine calls it after each flush, without the Buffer's mutex; the fsync
// and the acknowledgement's write run without the Spool's either, so that Add does not wait for the disk.
func (s *Spool) persist() error {
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		return nil
	}
	var sync *os.File
	if s.dirty {
		sync, s.dirty = s.segs[len(s.segs)-1].f, false
	}
	ack := s.ack
	if first := s.segs[0]; ack.seg < first.first {
		ack = spoolPos{seg: first.first} // the acknowledged segment was dropped when the spool was full
	}
	record := ack != s.committed
	s.mu.Unlock()

	var errs []error
	if sync != nil {
		// A segment dropped meanwhile (spool full) is closed: nothing of it needs to reach the disk.
		if err := sync.Sync(); err != nil && !errors.Is(err, os.ErrClosed) {
			errs = append(errs, fmt.Errorf("telemetry: spool: sync: %w", err))
			s.mu.Lock()
			s.dirty = true
			s.mu.Unlock()
		}
	}
	if record {
		if err := s.writeAck(ack); err != nil {
			errs = append(errs, fmt.Errorf("telemetry: spool: record acknowledgement: %w", err))
		} else {
			s.mu.Lock()
			s.committed = ack
			for len(s.segs) > 1 && (s.segs[0].first < ack.seg || s.segs[0].first == ack.seg && ack.rec == s.segs[0].count) {
				s.removeFirst()
			}
			s.mu.Unlock()
		}
	}
	return errors.Join(errs...)
}

// close persists and closes the files; the points still waiting stay for the next OpenSpool, so none is
// dropped.
func (s *Spool) close() (dropped int, err error) {
	err = s.persist()
	s.mu.Lock()
	defer s.mu.Unlock()
	s.closed = true
	s.closeFiles()
	return 0, err
}

func (s *Spool) closeFiles() {
	for _, g := range s.segs {
		g.f.Close()
	}
	s.segs = nil
	s.lock.Close() // releases the lock
}

// ReadSpool returns the points a spool directory holds that are not yet delivered, oldest first, as the next
// OpenSpool would send them (after cutting off a damaged tail, which ReadSpool reports as an error rather
// than repairs). It takes no lock: read a spool whose process has stopped.
func ReadSpool(dir string) ([]Point, error) {
	s := &Spool{cfg: SpoolConfig{Dir: dir}, log: slog.New(slog.DiscardHandler), strs: map[string]string{}}
	ack, _ := s.readAck()
	ents, err := os.ReadDir(dir)
	if err != nil {
		return nil, fmt.Errorf("telemetry: read spool: %w", err)
	}
	var out []Point
	for _, e := range ents { // ReadDir sorts by name, and names are zero-padded indices
		name, ok := strings.CutSuffix(e.Name(), ".seg")
		first, perr := strconv.ParseUint(name, 10, 64)
		if !ok || perr != nil || first < ack.seg {
			continue
		}
		path := filepath.Join(dir, e.Name())
		data, err := os.ReadFile(path)
		if err != nil {
			return nil, fmt.Errorf("telemetry: read spool: %w", err)
		}
		off, rec := 0, 0
		if first == ack.seg && ack.off <= int64(len(data)) {
			off, rec = int(ack.off), ack.rec
		}
		for ; off < len(data); rec++ {
			p, n, err := readRecord(data[off:], s.intern)
			if err != nil {
				return out, fmt.Errorf("telemetry: read spool: %s at byte %d (record %d): %w", path, off, rec, err)
			}
			out = append(out, p)
			off += n
		}
	}
	return out, nil
}

// lockDir takes the spool directory's lock (see lockFile), so that two processes never share a spool.
func lockDir(dir string) (*os.File, error) {
	path := filepath.Join(dir, "LOCK")
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE, 0o644)
	if err != nil {
		return nil, fmt.Errorf("telemetry.spool.dir: %w", err)
	}
	if err := lockFile(f); err != nil {
		f.Close()
		return nil, fmt.Errorf("telemetry.spool.dir: %s is in use by another process: %w", dir, err)
	}
	return f, nil
}
