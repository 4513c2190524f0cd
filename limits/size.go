package limits

import (
	"fmt"
	"math"
	"strings"

	"github.com/dustin/go-humanize"
)

// SizeForms lists the spellings ParseSize accepts, for error messages.
const SizeForms = "a byte count such as 1048576, or a size with a unit such as 512MiB, 2GiB, 1.5GB"

// MinMemoryLimit is the lowest container memory limit that can start at
// all. Measured with runc 1.5.2 on cgroup v2: below 4 MiB the limit cannot
// even be set (runc's init already uses 3.1-3.6 MB when it applies it:
// "unable to set memory limit to 2097152 (current usage: 3125248)"); a
// container of /bin/sh peaks at 3.8-4.3 MB. Docker's floor is the same 6 MiB.
const MinMemoryLimit = 6 << 20

// ParseSize reads a size as people write it: plain bytes, SI (kB, MB, GB) or
// IEC (KiB, MiB, GiB; Ki, Mi, Gi as Kubernetes writes them) units, fractions
// allowed. It refuses zero-or-negative and absurd values so a typo cannot
// become "no limit", and a bare one-letter unit ("2G", "512m"): docker reads
// 2g as 2 GiB, Kubernetes reads 2G as 2 GB, and a limit must not depend on
// which of them the writer had in mind.
func ParseSize(s string) (int64, error) {
	t := strings.TrimSpace(s)
	if t == "" {
		return 0, fmt.Errorf("empty size; expected %s", SizeForms)
	}
	if strings.HasPrefix(t, "-") {
		return 0, fmt.Errorf("negative size %q; expected %s", s, SizeForms)
	}
	if num, letter, ok := bareLetterUnit(t); ok {
		u := strings.ToUpper(letter)
		if u == "K" {
			u = "k" // kB, as SI writes it
		}
		return 0, fmt.Errorf("size %q is ambiguous: docker reads %s%s as %s%siB, Kubernetes as %s%sB; write %s%siB or %s%sB",
			s, num, strings.ToLower(letter), num, strings.ToUpper(letter), num, u, num, strings.ToUpper(letter), num, u)
	}
	n, err := humanize.ParseBigBytes(t)
	if err != nil {
		return 0, fmt.Errorf("cannot read size %q; expected %s", s, SizeForms)
	}
	if !n.IsInt64() || n.Int64() > math.MaxInt64/2 {
		return 0, fmt.Errorf("size %q is too large", s)
	}
	if n.Int64() <= 0 {
		return 0, fmt.Errorf("size %q must be greater than zero", s)
	}
	return n.Int64(), nil
}

// bareLetterUnit splits "2G" or "512 m" into number and unit letter when
// the unit is a lone k, m, g, t, p or e in either case.
func bareLetterUnit(t string) (num, letter string, ok bool) {
	if len(t) < 2 {
		return "", "", false
	}
	last := t[len(t)-1:]
	if !strings.ContainsAny(last, "kKmMgGtTpPeE") {
		return "", "", false
	}
	num = strings.TrimSpace(t[:len(t)-1])
	if num == "" || strings.Trim(num, "0123456789.") != "" {
		return "", "", false
	}
	return num, last, true
}

// FormatExact renders n as read back to the user: the rounded IEC figure,
// with the byte count when the figure is not exact ("1.9 GiB (2000000000
// bytes)"), so what a size flag was understood as is never in doubt.
func FormatExact(n int64) string {
	f := FormatSize(n)
	if back, err := humanize.ParseBytes(f); err == nil && int64(back) == n {
		return f
	}
	return fmt.Sprintf("%s (%d bytes)", f, n)
}

// FormatSize renders bytes in IEC units ("1.5 GiB"), the units limits are set in.
func FormatSize(n int64) string {
	if n < 0 {
		return "-" + humanize.IBytes(uint64(-n))
	}
	return humanize.IBytes(uint64(n))
}
