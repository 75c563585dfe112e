// Package progress draws progress bars for long work (ray tracing a grid, training) on a terminal,
// and degrades to a few log lines when the output is not one (CI logs, pipes).
package progress

import (
	"fmt"
	"io"
	"os"
	"sync"
	"time"

	"github.com/schollz/progressbar/v3"
)

// Bar counts work items; Set may be called from several goroutines.
type Bar struct {
	mu    sync.Mutex
	bar   *progressbar.ProgressBar
	w     io.Writer
	desc  string
	total int
	last  time.Time
	done  int
}

// New starts a bar of total items on w (usually os.Stderr).
func New(w io.Writer, total int, desc string) *Bar {
	b := &Bar{w: w, desc: desc, total: total, last: time.Now()}
	if isTerminal(w) {
		b.bar = progressbar.NewOptions(total,
			progressbar.OptionSetWriter(w),
			progressbar.OptionSetDescription(desc),
			progressbar.OptionShowCount(),
			progressbar.OptionShowIts(),
			progressbar.OptionSetItsString("it"),
			progressbar.OptionThrottle(100*time.Millisecond),
			progressbar.OptionClearOnFinish(),
		)
	}
	return b
}

// Set records that done items are finished; it never goes backwards.
func (b *Bar) Set(done int) {
	b.mu.Lock()
	defer b.mu.Unlock()
	if done <= b.done {
		return
	}
	b.done = done
	if b.bar != nil {
		_ = b.bar.Set(done)
		return
	}
	if time.Since(b.last) > 5*time.Second || done == b.total {
		b.last = time.Now()
		fmt.Fprintf(b.w, "%s: %d/%d\n", b.desc, done, b.total)
	}
}

// Finish completes the bar.
func (b *Bar) Finish() {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.bar != nil {
		_ = b.bar.Finish()
	}
}

func isTerminal(w io.Writer) bool {
	f, ok := w.(*os.File)
	if !ok {
		return false
	}
	st, err := f.Stat()
	return err == nil && st.Mode()&os.ModeCharDevice != 0
}
