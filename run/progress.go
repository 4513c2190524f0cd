package run

import (
	"fmt"
	"io"
	"os"
	"sort"
	"strings"
	"sync"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/dustin/go-humanize"
	"golang.org/x/term"

	"syncbox/limits"
	"syncbox/run/stream"
)

// progress owns a terminal's stderr for the length of an attempt: it
// redraws one status line at most twice a second and clears it before
// anything else is written there (the connector's stderr, warnings), so no
// output is glued onto it. Only for a TTY: cron mail and CI logs get no
// progress lines.
type progress struct {
	tty   *os.File
	width func() int // terminal columns, asked at every redraw (it may be resized)

	mu      sync.Mutex
	shown   bool // the status line is on screen, the cursor at its end
	midLine bool // other output left the cursor mid-line: no redraw until its newline

	running bool // start was called
	done    chan struct{}
	stopped chan struct{}
}

// progressFigures are what the status line shows.
type progressFigures struct {
	stats   stream.Stats
	memory  int64 // current usage of the container, 0 if unknown
	limit   int64 // its memory limit, 0 if none
	elapsed time.Duration
	columns int
}

// newProgress prepares a status line on tty. The containers' stderr is
// written through it (it is an io.Writer), so nothing is glued onto the
// line; then start.
func newProgress(tty *os.File) *progress {
	return &progress{
		tty: tty,
		width: func() int {
			if w, _, err := term.GetSize(int(tty.Fd())); err == nil && w > 0 {
				return w
			}
			return 80
		},
		done:    make(chan struct{}),
		stopped: make(chan struct{}),
	}
}

// Write clears the status line, if shown, and writes b to the terminal.
// It is the io.Writer for anything else meant for stderr during a run.
func (p *progress) Write(b []byte) (int, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.shown {
		if _, err := io.WriteString(p.tty, "\r\033[K"); err != nil {
			return 0, err
		}
		p.shown = false
	}
	if len(b) > 0 {
		p.midLine = b[len(b)-1] != '\n'
	}
	return p.tty.Write(b)
}

// start redraws the status line every 500 ms from figures until stop.
func (p *progress) start(figures func() progressFigures) {
	p.running = true
	go func() {
		defer close(p.stopped)
		t := time.NewTicker(500 * time.Millisecond)
		defer t.Stop()
		for {
			select {
			case <-p.done:
				return
			case <-t.C:
				f := figures()
				f.columns = p.width()
				p.draw(progressLine(f))
			}
		}
	}()
}

func (p *progress) draw(line string) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.midLine {
		return // the connector is mid-line: drawing now would split it
	}
	_, _ = io.WriteString(p.tty, "\r\033[K"+line)
	p.shown = true
}

// stop ends the redraws and clears the line so what follows starts on a
// clean one. Writes after it (the containers' last stderr) still go through.
func (p *progress) stop() {
	if p == nil {
		return
	}
	select {
	case <-p.done:
	default:
		close(p.done)
		if p.running {
			<-p.stopped
		}
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.shown {
		_, _ = io.WriteString(p.tty, "\r\033[K")
		p.shown = false
	}
}

// progressLine renders the status line to fit f.columns columns (one
// short of them: writing the last column makes some terminals wrap). When
// space is short, parts are left out by priority: memory and elapsed time
// stay longest, then bytes, flagged values, the per-stream counts; a line
// still too long is cut. Stream names come from the connector: control
// characters in them would be terminal escapes, so they are replaced.
func progressLine(f progressFigures) string {
	s := f.stats
	rate := 0.0
	if sec := f.elapsed.Seconds(); sec > 0 {
		rate = float64(s.Records) / sec
	}
	head := fmt.Sprintf("syncbox: %s records (%s/s)", humanize.Comma(s.Records), humanize.Comma(int64(rate)))

	// Display order is the slice order; prio says which survive (lower first).
	type part struct {
		text string
		prio int
	}
	parts := []part{{limits.FormatSize(s.Bytes) + " out", 2}}
	if s.Flagged > 0 {
		parts = append(parts, part{humanize.Comma(s.Flagged) + " flagged", 3})
	}
	switch {
	case f.memory > 0 && f.limit > 0:
		parts = append(parts, part{fmt.Sprintf("mem %s of %s", limits.FormatSize(f.memory), limits.FormatSize(f.limit)), 0})
	case f.memory > 0:
		parts = append(parts, part{"mem " + limits.FormatSize(f.memory), 0})
	}
	parts = append(parts, part{f.elapsed.Round(time.Second).String(), 1})
	if st := streamCounts(s); st != "" {
		parts = append(parts, part{"[" + st + "]", 4})
	}

	width := max(f.columns-1, 20)
	keep := make([]bool, len(parts))
	used := columnsOf(head)
	for prio := 0; prio <= 4; prio++ {
		for i, p := range parts {
			if p.prio == prio && used+2+columnsOf(p.text) <= width {
				keep[i] = true
				used += 2 + columnsOf(p.text)
			}
		}
	}
	line := head
	for i, p := range parts {
		if keep[i] {
			line += ", " + p.text
		}
	}
	return cutRunes(line, width)
}

// streamCounts lists up to three streams' record counts, names sanitized.
func streamCounts(s stream.Stats) string {
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
		parts = append(parts, fmt.Sprintf("%s %s", printable(k, 24), humanize.Comma(s.ByStream[k].Records)))
	}
	return strings.Join(parts, ", ")
}

// printable replaces what is not a printable character and cuts s to n runes.
func printable(s string, n int) string {
	var b strings.Builder
	i := 0
	for _, r := range s {
		if i == n {
			b.WriteString("…")
			break
		}
		if r == utf8.RuneError || !unicode.IsPrint(r) {
			r = '?'
		}
		b.WriteRune(r)
		i++
	}
	return b.String()
}

// columnsOf estimates the columns s takes: East Asian wide characters
// take two (counted generously: all from U+2E80), others one.
func columnsOf(s string) int {
	n := 0
	for _, r := range s {
		n++
		if r >= 0x2E80 {
			n++
		}
	}
	return n
}

// cutRunes cuts s to at most n columns, marking the cut.
func cutRunes(s string, n int) string {
	if columnsOf(s) <= n {
		return s
	}
	var b strings.Builder
	used := 0
	for _, r := range s {
		w := 1
		if r >= 0x2E80 {
			w = 2
		}
		if used+w > n-1 {
			break
		}
		b.WriteRune(r)
		used += w
	}
	return b.String() + "…"
}
