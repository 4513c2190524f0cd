// Package profiles is syncbox's built-in table of destination size limits:
// the largest single field (value) and the largest record (row, message,
// document) each destination accepts, with the documentation each figure
// comes from.
//
// Several of these limits moved recently (Snowflake, BigQuery streaming), so
// every profile names the documented figure it uses. The table only informs
// a size policy; it never enforces anything, and a user can always override
// a figure with an explicit size.
package profiles

import (
	"fmt"
	"sort"
	"strings"
)

// Profile is the size limits of one destination. A zero size means the
// destination documents no limit of that kind.
type Profile struct {
	Name          string `json:"name"`
	MaxFieldSize  int64  `json:"max_field_size_bytes"`
	MaxRecordSize int64  `json:"max_record_size_bytes"`
	FieldSource   string `json:"field_source"`
	RecordSource  string `json:"record_source"`
	Note          string `json:"note"`
}

const (
	mib = int64(1) << 20
	gib = int64(1) << 30
)

// builtin returns a fresh table each call so no caller can alter another's
// copy (the package keeps no mutable state).
func builtin() []Profile {
	return []Profile{
		{
			Name:          "bigquery",
			MaxFieldSize:  0,
			MaxRecordSize: 10 * mib, // 10,485,760 B
			FieldSource:   "cloud.google.com/bigquery/quotas: no separate per-value limit documented",
			RecordSource:  "cloud.google.com/bigquery/quotas: streaming inserts / Storage Write API request size 10 MB (10,485,760 B)",
			Note: "Uses the 10 MB streaming/Storage Write API request limit as the record limit, because a " +
				"streaming loader hits it first; load jobs accept rows up to 100 MB. No per-value limit, " +
				"so a field is bounded only by the record limit.",
		},
		{
			Name:          "clickhouse",
			MaxFieldSize:  0,
			MaxRecordSize: 0,
			FieldSource:   "clickhouse.com/docs/en/data_types/string: String length is not limited",
			RecordSource:  "no documented row limit",
			Note:          "No documented field or row limit; memory of the server and client is the practical bound.",
		},
		{
			Name:          "elasticsearch",
			MaxFieldSize:  32766, // Lucene's maximum term length
			MaxRecordSize: 100 * mib,
			FieldSource:   "elastic.co docs (ignore-above): keyword term at most 32,766 B (Lucene limit)",
			RecordSource:  "elastic.co docs (modules-http): http.max_content_length default 100 MB per request",
			Note: "The field limit applies to keyword (indexed) values; text fields may be longer. The record " +
				"limit is the default whole-request size, so one document must fit well inside it.",
		},
		{
			Name:          "kafka",
			MaxFieldSize:  0,
			MaxRecordSize: 1048576,
			FieldSource:   "no per-field limit: Kafka messages are opaque bytes",
			RecordSource:  "kafka.apache.org documentation: producer max.request.size default 1,048,576 B (broker message.max.bytes default 1,048,588 B; KAFKA-4203)",
			Note:          "Uses the producer default, the smaller of the two defaults; both are configurable per cluster.",
		},
		{
			Name:          "mongodb",
			MaxFieldSize:  0,
			MaxRecordSize: 16 * mib, // 16,777,216 B
			FieldSource:   "no separate field limit; a value is bounded by the document limit",
			RecordSource:  "mongodb.com/docs/manual/reference/limits: BSON document 16 MiB (16,777,216 B)",
			Note:          "Larger payloads need GridFS, which a record loader does not use.",
		},
		{
			Name:          "mysql",
			MaxFieldSize:  4 * gib,
			MaxRecordSize: 64 * mib, // 67,108,864 B
			FieldSource:   "dev.mysql.com/doc/refman/8.4/en/json.html: LONGTEXT up to 4 GiB; JSON bounded by max_allowed_packet",
			RecordSource:  "dev.mysql.com/doc/refman/8.4/en/packet-too-large.html: max_allowed_packet default 64 MB",
			Note: "A row travels in one packet, so the record limit is the max_allowed_packet default (64 MB), " +
				"which also bounds any single value in practice. The 65,535 B row limit excludes BLOB/TEXT.",
		},
		{
			Name:          "postgres",
			MaxFieldSize:  1 * gib,
			MaxRecordSize: 0,
			FieldSource:   "postgresql.org/docs/current/limits.html: any field 1 GB",
			RecordSource:  "postgresql.org/docs/current/limits.html: no fixed row maximum (1,600 columns)",
			Note:          "jsonb values are limited to about 255 MB, below the 1 GB field limit used here.",
		},
		{
			Name:          "redshift",
			MaxFieldSize:  65535,
			MaxRecordSize: 4 * mib, // 4,194,304 B
			FieldSource:   "docs.aws.amazon.com/redshift/latest/dg/r_Character_types.html: VARCHAR 65,535 B",
			RecordSource:  "docs.aws.amazon.com/redshift (COPY): input row 4 MB",
			Note: "SUPER holds up to 16 MB per object but strings inside SUPER are 65,535 B (16,000,000 B with " +
				"enable_large_strings_opt_in); the VARCHAR figure is used.",
		},
		{
			Name:          "snowflake",
			MaxFieldSize:  128 * mib, // 134,217,728 B
			MaxRecordSize: 0,
			FieldSource:   "docs.snowflake.com/user-guide/binary; release notes bcr-1942: VARCHAR 128 MB (134,217,728 B) since behaviour change 2025_03",
			RecordSource:  "no documented row limit",
			Note: "Uses the 128 MB limit of behaviour change 2025_03; before it the limit was 16 MB (still the " +
				"default VARCHAR length). VARIANT/OBJECT/ARRAY: 128 MB uncompressed (16 MB before); BINARY 64 MB.",
		},
	}
}

// All returns every built-in profile, sorted by name.
func All() []Profile {
	ps := builtin()
	sort.Slice(ps, func(i, j int) bool { return ps[i].Name < ps[j].Name })
	return ps
}

// Names returns the names of the built-in profiles, sorted.
func Names() []string {
	ps := All()
	names := make([]string, len(ps))
	for i, p := range ps {
		names[i] = p.Name
	}
	return names
}

// Lookup returns the profile for a destination name (case-insensitive). The
// error lists the known names so a typo is easy to fix.
func Lookup(name string) (Profile, error) {
	key := strings.ToLower(strings.TrimSpace(name))
	for _, p := range builtin() {
		if p.Name == key {
			return p, nil
		}
	}
	return Profile{}, fmt.Errorf("unknown destination %q; known destinations: %s", name, strings.Join(Names(), ", "))
}
