package limits

import (
	"strings"
	"testing"
)

func TestParseSizeAcceptsHumanForms(t *testing.T) {
	cases := map[string]int64{
		"512MiB": 512 << 20,
		"2GiB":   2 << 30,
		"1.5GB":  1500000000,
		"4096":   4096,
		"64kB":   64000,
		"2Gi":    2 << 30, // Kubernetes' spelling of GiB
		"2gb":    2000000000,
		"64KiB":  64 << 10,
		" 1 GiB": 1 << 30,
	}
	for in, want := range cases {
		got, err := ParseSize(in)
		if err != nil || got != want {
			t.Errorf("ParseSize(%q) = %d, %v; want %d", in, got, err, want)
		}
	}
}

func TestParseSizeRejectsNonsenseWithForms(t *testing.T) {
	for _, in := range []string{"", "abc", "-1", "0", "12XB", "1e400GiB", "0MiB"} {
		_, err := ParseSize(in)
		if err == nil {
			t.Errorf("ParseSize(%q) accepted", in)
			continue
		}
		if in != "0" && in != "0MiB" && !strings.Contains(err.Error(), "512MiB") && !strings.Contains(err.Error(), "too large") {
			t.Errorf("ParseSize(%q) error %q does not list the accepted forms", in, err)
		}
	}
}

// A lone unit letter means GiB to docker and GB to Kubernetes: 7% apart at
// 2G, enough to decide whether a connector is OOM-killed.
func TestParseSizeRefusesAmbiguousOneLetterUnitsNamingBothSpellings(t *testing.T) {
	for in, both := range map[string][2]string{
		"2G": {"2GiB", "2GB"}, "512m": {"512MiB", "512MB"}, "64k": {"64KiB", "64kB"},
		"1.5g": {"1.5GiB", "1.5GB"}, "2 T": {"2TiB", "2TB"},
	} {
		n, err := ParseSize(in)
		if err == nil {
			t.Errorf("ParseSize(%q) = %d, want refused as ambiguous", in, n)
			continue
		}
		for _, w := range append(both[:], "ambiguous", "docker", "Kubernetes") {
			if !strings.Contains(err.Error(), w) {
				t.Errorf("ParseSize(%q): %q does not say %q", in, err, w)
			}
		}
		for _, spelling := range both {
			if _, err := ParseSize(spelling); err != nil {
				t.Errorf("suggested spelling %q is refused: %v", spelling, err)
			}
		}
	}
}

func TestFormatExactShowsBytesWhenTheFigureIsRounded(t *testing.T) {
	for n, want := range map[int64]string{
		2 << 30:        "2.0 GiB",
		512 << 20:      "512 MiB",
		1536 << 20:     "1.5 GiB",
		2000000000:     "1.9 GiB (2000000000 bytes)",
		512000000:      "488 MiB (512000000 bytes)",
		(1 << 30) + 10: "1.0 GiB (1073741834 bytes)",
	} {
		if got := FormatExact(n); got != want {
			t.Errorf("FormatExact(%d) = %q, want %q", n, got, want)
		}
	}
}

func TestOOMBumpFollowsVPAAndRoundsTidy(t *testing.T) {
	cases := []struct{ peak, want int64 }{
		{0, 112 * mib},               // 100MiB rounded up to 16MiB steps
		{64 * mib, 176 * mib},        // +100MiB dominates
		{1 * gib, 1280 * mib},        // 1.2x = 1228.8MiB -> next 64MiB step
		{10 * gib, 12288 * mib},      // 1.2x = 12GiB exactly
		{500 * mib, 608 * mib},       // 600MiB (both equal) -> 608
		{8*gib - 1, 9984 * mib},      // 1.2x crosses into 256MiB steps
		{300 * mib, 400 * mib},       // 400MiB exactly
		{700 * mib, 840*mib + 8*mib}, // 840MiB -> 848
	}
	for _, c := range cases {
		got := OOMBump(c.peak)
		if got != c.want {
			t.Errorf("OOMBump(%d MiB) = %d MiB; want %d MiB", c.peak>>20, got>>20, c.want>>20)
		}
		if got < c.peak+BumpHeadroom || float64(got) < float64(c.peak)*BumpFactor {
			t.Errorf("OOMBump(%d) = %d is below the VPA minimum", c.peak, got)
		}
	}
}
