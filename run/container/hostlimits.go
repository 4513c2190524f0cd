package container

import (
	"os"
	"strconv"
	"strings"
)

// fileTableShare is the most of the host's file table (fs.file-max) one
// run's processes may hold together: pids x nofile <= file-max / 8, so
// eight runs at their limits still leave the host room. With the issue's
// old defaults (512 processes x 4096 files) one connector held 1.66M of
// this host's 2.47M file handles.
const fileTableShare = 8

// minNofile keeps a connector usable when many processes are allowed.
const minNofile = 64

// nofileFor is the open-file limit of each process of a run allowed pids
// processes: nofileLimit, lowered so that pids x nofile stays within the
// run's share of the host's file table.
func nofileFor(pids int64) uint64 {
	n := uint64(nofileLimit)
	if max := hostFileMax(); max > 0 && pids > 0 {
		if share := max / fileTableShare / uint64(pids); share < n {
			n = share
		}
	}
	return max(n, minNofile)
}

// hostFileMax reads fs.file-max; 0 if unknown.
func hostFileMax() uint64 {
	b, err := os.ReadFile("/proc/sys/fs/file-max")
	if err != nil {
		return 0
	}
	n, _ := strconv.ParseUint(strings.TrimSpace(string(b)), 10, 64)
	return n
}
