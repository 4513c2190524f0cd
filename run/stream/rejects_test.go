package stream

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"syncbox/testdata/testenv"
)

// The rejects dir is written by the root runner with the connector's own
// bytes under names the connector chooses: a link a tenant planted in a
// directory it can write must never be followed, neither to the dir itself
// nor above it (where MkdirAll would create directories through it).
func TestRejectsDirRefusesATenantsLink(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("needs root (chown)")
	}
	const uid = 4242 // an unprivileged tenant uid
	victim := t.TempDir()
	link := filepath.Join(testenv.TenantDir(t, uid), "rejects")
	testenv.PlantLink(t, victim, link, uid)
	in := `{"type":"RECORD","stream":"s","record":{"a":"` + strings.Repeat("x", 80) + `"}}` + "\n"
	for _, dir := range []string{link, filepath.Join(link, "sub")} {
		r := scanOnce(t, Config{Protocol: Singer, MaxFieldSize: 10, RejectsDir: dir}, in)
		if r.err == nil {
			t.Errorf("rejects dir %s through the tenant's link: no error", dir)
		}
		if ents, _ := os.ReadDir(victim); len(ents) != 0 {
			t.Errorf("rejects dir %s: root wrote %d entries into the link's target (first %q)", dir, len(ents), ents[0].Name())
		}
	}
}

func TestRejectNamesAreSanitized(t *testing.T) {
	dir := t.TempDir()
	in := `{"type":"RECORD","stream":"../../etc/passwd","record":{"../x":"` + big + `"}}` + "\n"
	r := scan(t, Config{MaxFieldSize: 10, RejectsDir: dir}, in+in)
	ents, _ := os.ReadDir(dir)
	if len(ents) != 2 || r.stats.Flagged != 2 {
		t.Fatalf("entries %v flags %s", ents, r.flags)
	}
	for _, e := range ents {
		if strings.Contains(e.Name(), "/") || strings.HasPrefix(e.Name(), ".") {
			t.Fatalf("bad name %q", e.Name())
		}
	}
}
