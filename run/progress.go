package run

import (
	"fmt"
	"os"
	"sort"
	"strings"
	"time"

	"github.com/dustin/go-humanize"

	"syncbox/run/stream"
)

// progress refreshes one stderr line at most twice a second. Only for a
// TTY: cron mail and CI logs get no progress lines.
type progress struct {
	done    chan struct{}
	stopped chan struct{}
}

func startProgress(w *os.File, snap func() stream.Stats, start time.Time) *progress {
	p := &progress{done: make(chan struct{}), stopped: make(chan struct{})}
	go func() {
		defer close(p.stopped)
		t := time.NewTicker(500 * time.Millisecond)
		defer t.Stop()
		for {
			select {
			case <-p.done:
				fmt.Fprint(w, "\r\033[K")
				return
			case <-t.C:
				fmt.Fprint(w, "\r\033[K"+progressLine(snap(), time.Since(start)))
			}
		}
	}()
	return p
}

func (p *progress) stop() {
	if p == nil {
		return
	}
	close(p.done)
	<-p.stopped
}

func progressLine(s stream.Stats, elapsed time.Duration) string {
	rate := 0.0
	if sec := elapsed.Seconds(); sec > 0 {
		rate = float64(s.Records) / sec
	}
	names := make([]string, 0, len(s.ByStream))
	for k := range s.ByStream {
		names = append(names, k)
	}
	sort.Strings(names)
	parts := make([]string, 0, 4)
	for i, k := range names {
		if i == 3 {
			parts = append(parts, fmt.Sprintf("+%d more", len(names)-3))
			break
		}
		parts = append(parts, fmt.Sprintf("%s %s", k, humanize.Comma(s.ByStream[k].Records)))
	}
	line := fmt.Sprintf("syncbox: %s records (%s/s), %s, %s flagged, %s",
		humanize.Comma(s.Records), humanize.Comma(int64(rate)), humanize.Bytes(uint64(s.Bytes)),
		humanize.Comma(s.Flagged), elapsed.Round(time.Second))
	if len(parts) > 0 {
		line += " [" + strings.Join(parts, ", ") + "]"
	}
	return line
}
