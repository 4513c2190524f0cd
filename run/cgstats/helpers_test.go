package cgstats

import (
	"os"
	"path/filepath"
	"testing"
)

const mib = int64(1) << 20

// write puts a cgroup file in place by rename: a kernel cgroup file never
// reads empty, and a sampler polling every 2 ms would catch a
// truncate-then-write in between.
func write(t testing.TB, dir, name, content string) {
	t.Helper()
	tmp := filepath.Join(dir, "."+name+".tmp")
	if err := os.WriteFile(tmp, []byte(content), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.Rename(tmp, filepath.Join(dir, name)); err != nil {
		t.Fatal(err)
	}
}
