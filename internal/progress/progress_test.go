package progress

import (
	"bytes"
	"fmt"
	"strings"
	"sync"
	"testing"
)

// Off a terminal the bar prints plain lines: the final count always, and never a count that goes
// backwards even when goroutines report out of order.
func TestPlainOutput(t *testing.T) {
	var buf bytes.Buffer
	b := New(&buf, 100, "tracing")
	var wg sync.WaitGroup
	for g := 0; g < 4; g++ {
		wg.Add(1)
		go func(g int) {
			defer wg.Done()
			for i := g; i <= 100; i += 4 {
				b.Set(i)
			}
		}(g)
	}
	wg.Wait()
	b.Set(100)
	b.Finish()
	if !strings.HasSuffix(buf.String(), "tracing: 100/100\n") {
		t.Errorf("output %q does not end with the final count", buf.String())
	}
	last := -1
	for _, line := range strings.Split(strings.TrimSpace(buf.String()), "\n") {
		var done, total int
		if _, err := fmt.Sscanf(line, "tracing: %d/%d", &done, &total); err != nil || total != 100 || done < last {
			t.Fatalf("line %q after count %d", line, last)
		}
		last = done
	}
}
