package budget

import (
	"bufio"
	"fmt"
	"io"
	"os"
	"strconv"
	"strings"

	"syncbox/limits"
)

// MinReserve is the least memory DefaultBudget leaves to the kernel, page
// cache, sshd, cron and syncbox itself; ReserveFraction is the share it
// leaves on big machines, where kernel and cache overhead scale with RAM.
const (
	MinReserve      = int64(1) << 30
	ReserveFraction = 0.10
)

// DefaultBudget is the budget when neither --host-memory-budget nor
// SYNCBOX_HOST_MEMORY_BUDGET is set: MemTotal from /proc/meminfo minus
// max(MinReserve, ReserveFraction of MemTotal).
func DefaultBudget() (int64, error) {
	const p = "/proc/meminfo"
	f, err := os.Open(p)
	if err != nil {
		return 0, fmt.Errorf("default host memory budget: %w", err)
	}
	defer f.Close()
	total, err := memTotal(f)
	if err != nil {
		return 0, fmt.Errorf("default host memory budget: read %s: %w", p, err)
	}
	return budgetFor(total)
}

// budgetFor applies the default reserve to a machine with memTotal bytes.
func budgetFor(memTotal int64) (int64, error) {
	reserve := max(MinReserve, int64(float64(memTotal)*ReserveFraction))
	if memTotal <= reserve {
		return 0, fmt.Errorf("default host memory budget: the machine has %s, not more than the %s reserve; set the budget explicitly",
			limits.FormatSize(memTotal), limits.FormatSize(reserve))
	}
	return memTotal - reserve, nil
}

// memTotal reads the MemTotal line ("MemTotal:  24684092 kB"; kB means KiB).
func memTotal(r io.Reader) (int64, error) {
	sc := bufio.NewScanner(r)
	for sc.Scan() {
		rest, ok := strings.CutPrefix(sc.Text(), "MemTotal:")
		if !ok {
			continue
		}
		f := strings.Fields(rest)
		if len(f) != 2 || f[1] != "kB" {
			return 0, fmt.Errorf("unexpected MemTotal line %q", sc.Text())
		}
		kib, err := strconv.ParseInt(f[0], 10, 64)
		if err != nil || kib <= 0 {
			return 0, fmt.Errorf("unexpected MemTotal line %q", sc.Text())
		}
		return kib << 10, nil
	}
	if err := sc.Err(); err != nil {
		return 0, err
	}
	return 0, fmt.Errorf("no MemTotal line")
}
