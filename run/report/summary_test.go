package report

import (
	"bytes"
	"strings"
	"testing"
)

// "--memory 2GB" is 2,000,000,000 bytes, not 2 GiB: the summary says so.
func TestSummarySaysTheLimitExactlyAndInOneUnitSystem(t *testing.T) {
	r := New("r1", "tap", "", nil)
	r.Outcome, r.DurationSeconds = Succeeded, 1
	r.Records = Records{Total: 10, Bytes: 995_000, ByStream: map[string]StreamCount{"a": {}}}
	r.Memory = Memory{LimitBytes: 2_000_000_000, PeakBytes: 300 << 20}
	var b bytes.Buffer
	r.Summary(&b)
	line := strings.SplitN(b.String(), "\n", 2)[0]
	for _, want := range []string{"1.9 GiB (2000000000 bytes) limit", "(972 KiB)", "peak memory 300 MiB (16%)"} {
		if !strings.Contains(line, want) {
			t.Errorf("summary %q does not say %q", line, want)
		}
	}
	for _, si := range []string{" kB", " MB", " GB"} {
		if strings.Contains(line, si) {
			t.Errorf("summary %q mixes SI units (%q) with IEC", line, si)
		}
	}
}
