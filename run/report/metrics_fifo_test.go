package report

import (
	"os"
	"path/filepath"
	"syscall"
	"testing"
	"time"
)

// A failed run reads the previous metrics file for the last success. A
// FIFO planted at that path (a tenant's directory) must not hang the
// runner, which would then hold its run lock forever; the planted entry is
// replaced like a planted link.
func TestMetricsOfAFailedRunDoNotHangOnAPlantedFIFO(t *testing.T) {
	path := filepath.Join(t.TempDir(), "m.prom")
	if err := syscall.Mkfifo(path, 0o644); err != nil {
		t.Fatal(err)
	}
	r := New("r", "tap", "t", nil)
	r.Outcome, r.EndedAt = Failed, time.Date(2026, 11, 20, 12, 0, 0, 0, time.UTC)
	done := make(chan error, 1)
	go func() { done <- r.WriteMetrics(path) }()
	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("WriteMetrics over a planted FIFO: %v", err)
		}
	case <-time.After(5 * time.Second):
		if w, err := os.OpenFile(path, os.O_WRONLY, 0); err == nil {
			w.Close() // let the blocked open return
		}
		t.Fatal("WriteMetrics hangs on a FIFO planted at the metrics path")
	}
	if fi, err := os.Lstat(path); err != nil || !fi.Mode().IsRegular() {
		t.Errorf("%s: %v %v, want the runner's own regular file", path, fi, err)
	}
	if v, _ := find(readMetrics(t, path), lastSuccessMetric); v != 0 {
		t.Errorf("last success %v, want 0 (nothing trustworthy to carry over)", v)
	}
}
