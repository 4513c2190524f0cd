package profiles

import (
	"sort"
	"strings"
	"testing"
)

// The figures here are the ones in the shared limits notes; a change to the
// table must be a deliberate change to this test too.
func TestBuiltinFiguresMatchTheDocumentedLimits(t *testing.T) {
	want := map[string]struct{ field, record int64 }{
		"snowflake":     {134217728, 0},
		"bigquery":      {0, 10485760},
		"redshift":      {65535, 4194304},
		"postgres":      {1073741824, 0},
		"mysql":         {4294967296, 67108864},
		"mongodb":       {0, 16777216},
		"kafka":         {0, 1048576},
		"elasticsearch": {32766, 104857600},
		"clickhouse":    {0, 0},
	}
	for name, w := range want {
		p, err := Lookup(name)
		if err != nil {
			t.Fatalf("Lookup(%q): %v", name, err)
		}
		if p.MaxFieldSize != w.field || p.MaxRecordSize != w.record {
			t.Errorf("%s: field %d record %d; want field %d record %d", name, p.MaxFieldSize, p.MaxRecordSize, w.field, w.record)
		}
	}
	if got := len(All()); got != len(want) {
		t.Errorf("All() has %d profiles; the test knows %d", got, len(want))
	}
}

func TestEveryProfileCitesItsFiguresAndSaysWhichOneItUses(t *testing.T) {
	for _, p := range All() {
		if p.FieldSource == "" || p.RecordSource == "" || p.Note == "" {
			t.Errorf("%s: missing field source, record source or note: %+v", p.Name, p)
		}
		if p.MaxFieldSize < 0 || p.MaxRecordSize < 0 {
			t.Errorf("%s: negative size", p.Name)
		}
	}
	sf, _ := Lookup("snowflake")
	if !strings.Contains(sf.FieldSource, "2025_03") || !strings.Contains(sf.Note, "16 MB") {
		t.Errorf("snowflake must say it uses the 2025_03 figure and what it was before: %+v", sf)
	}
	bq, _ := Lookup("bigquery")
	if !strings.Contains(bq.Note, "streaming") || !strings.Contains(bq.Note, "100 MB") {
		t.Errorf("bigquery must say it uses the streaming request limit rather than the load-job row limit: %+v", bq)
	}
	pg, _ := Lookup("postgres")
	if !strings.Contains(pg.Note, "255 MB") {
		t.Errorf("postgres must note the jsonb limit: %+v", pg)
	}
}

func TestAllIsSortedAndCallersCannotAlterTheTable(t *testing.T) {
	ps := All()
	if !sort.SliceIsSorted(ps, func(i, j int) bool { return ps[i].Name < ps[j].Name }) {
		t.Errorf("All() not sorted: %v", Names())
	}
	ps[0].MaxRecordSize = 1
	if again := All(); again[0].MaxRecordSize == 1 {
		t.Errorf("changing a returned profile changed the built-in table")
	}
}

func TestLookupIgnoresCaseAndListsKnownNamesOnError(t *testing.T) {
	if p, err := Lookup(" Snowflake "); err != nil || p.Name != "snowflake" {
		t.Errorf("Lookup(\" Snowflake \") = %+v, %v", p, err)
	}
	_, err := Lookup("snowflak")
	if err == nil {
		t.Fatal("Lookup of an unknown name succeeded")
	}
	for _, name := range Names() {
		if !strings.Contains(err.Error(), name) {
			t.Errorf("error %q does not list %q", err, name)
		}
	}
}
