package limits

import (
	"fmt"
	"math"
	"strings"

	"github.com/dustin/go-humanize"
)

// SizeForms lists the spellings ParseSize accepts, for error messages.
const SizeForms = "a byte count such as 1048576, or a size with a unit such as 512MiB, 2GiB, 1.5GB, 64k"

// ParseSize reads a size as people write it: plain bytes, SI (kB, MB, GB) or
// IEC (KiB, MiB, GiB) units, fractions allowed. It refuses zero-or-negative
// and absurd values so a typo cannot become "no limit".
func ParseSize(s string) (int64, error) {
	t := strings.TrimSpace(s)
	if t == "" {
		return 0, fmt.Errorf("empty size; expected %s", SizeForms)
	}
	if strings.HasPrefix(t, "-") {
		return 0, fmt.Errorf("negative size %q; expected %s", s, SizeForms)
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

// FormatSize renders bytes in IEC units ("1.5 GiB"), the units limits are set in.
func FormatSize(n int64) string {
	if n < 0 {
		return "-" + humanize.IBytes(uint64(-n))
	}
	return humanize.IBytes(uint64(n))
}
