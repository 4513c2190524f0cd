package cgroup

import (
	"bytes"
	"errors"
	"fmt"
	"strconv"
	"strings"
)

// The parsers take bytes, not paths, so every format is tested on fixtures
// copied from real hosts (testdata/cgroup/proc). Each names the line and
// what is wrong with it, and never panics on what a kernel never writes.

// ProcEntry is one line of /proc/PID/cgroup: "ID:CONTROLLERS:PATH".
type ProcEntry struct {
	ID int
	// Controllers of a v1 hierarchy ("memory"; "cpu", "cpuacct";
	// "name=systemd"); none for the v2 hierarchy (ID 0).
	Controllers []string
	Path        string // the process's cgroup, relative to the hierarchy's root
}

// ParseProcCgroup parses /proc/PID/cgroup.
func ParseProcCgroup(b []byte) ([]ProcEntry, error) {
	var out []ProcEntry
	err := eachLine(b, func(n int, line string) error {
		id, rest, ok := strings.Cut(line, ":")
		ctl, path, ok2 := strings.Cut(rest, ":")
		if !ok || !ok2 {
			return fmt.Errorf("line %d %s: want ID:CONTROLLERS:PATH", n, quote(line))
		}
		e := ProcEntry{Path: path}
		var err error
		if e.ID, err = strconv.Atoi(id); err != nil || e.ID < 0 {
			return fmt.Errorf("line %d %s: hierarchy id %s is not a number", n, quote(line), quote(id))
		}
		if !strings.HasPrefix(path, "/") {
			return fmt.Errorf("line %d %s: path %s is not absolute", n, quote(line), quote(path))
		}
		if ctl != "" {
			e.Controllers = strings.Split(ctl, ",")
		}
		out = append(out, e)
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("/proc/PID/cgroup: %w", err)
	}
	return out, nil
}

// Mount is one cgroup filesystem mount from /proc/PID/mountinfo.
type Mount struct {
	V2 bool // cgroup2, else a v1 hierarchy
	// Root is the directory of the hierarchy mounted ("/" unless only a
	// subtree is, as a container runtime may).
	Root  string
	Point string // where it is mounted
	// Options are the super options: a v1 hierarchy's controllers
	// ("memory", "name=systemd") among "rw" and the like.
	Options []string
}

// Has reports whether a v1 mount holds controller c.
func (m Mount) Has(c string) bool {
	for _, o := range m.Options {
		if o == c {
			return true
		}
	}
	return false
}

// ParseCgroupMounts parses /proc/PID/mountinfo and returns its cgroup and
// cgroup2 mounts, in order. Every line is checked, not only cgroup ones:
// a line this cannot read is a sign of reading the wrong file.
func ParseCgroupMounts(b []byte) ([]Mount, error) {
	var out []Mount
	err := eachLine(b, func(n int, line string) error {
		// ID PARENT MAJ:MIN ROOT POINT OPTIONS [OPTIONAL...] - FSTYPE SOURCE SUPER
		pre, post, ok := strings.Cut(line, " - ")
		if !ok {
			return fmt.Errorf("line %d %s: no \" - \" separator", n, quote(line))
		}
		mf, sf := strings.Fields(pre), strings.Fields(post)
		if len(mf) < 6 {
			return fmt.Errorf("line %d %s: %d fields before \" - \", want at least 6", n, quote(line), len(mf))
		}
		if len(sf) < 2 {
			return fmt.Errorf("line %d %s: %d fields after \" - \", want at least 2", n, quote(line), len(sf))
		}
		if sf[0] != "cgroup" && sf[0] != "cgroup2" {
			return nil
		}
		m := Mount{V2: sf[0] == "cgroup2"}
		var err error
		if m.Root, err = unescapeOctal(mf[3]); err != nil {
			return fmt.Errorf("line %d: root: %w", n, err)
		}
		if m.Point, err = unescapeOctal(mf[4]); err != nil {
			return fmt.Errorf("line %d: mount point: %w", n, err)
		}
		if len(sf) > 2 {
			m.Options = strings.Split(sf[2], ",")
		}
		out = append(out, m)
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("mountinfo: %w", err)
	}
	return out, nil
}

// unescapeOctal undoes the kernel's \ooo escaping of space, tab, newline
// and backslash in mountinfo paths.
func unescapeOctal(s string) (string, error) {
	if !strings.Contains(s, `\`) {
		return s, nil
	}
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		if s[i] != '\\' {
			b.WriteByte(s[i])
			continue
		}
		if i+4 > len(s) {
			return "", fmt.Errorf("%s: truncated escape at byte %d", quote(s), i)
		}
		v, err := strconv.ParseUint(s[i+1:i+4], 8, 8)
		if err != nil {
			return "", fmt.Errorf("%s: bad escape %q at byte %d", quote(s), s[i:i+4], i)
		}
		b.WriteByte(byte(v))
		i += 3
	}
	return b.String(), nil
}

// ParseKeyed calls fn for each "KEY VALUE" line of a flat-keyed cgroup
// file (memory.stat, memory.events, memory.oom_control, pids.events,
// cpu.stat). A line that is not a key and a decimal integer that fits in
// int64 is an error naming it; the kernel writes none.
func ParseKeyed(b []byte, fn func(key string, v int64)) error {
	return eachLine(b, func(n int, line string) error {
		k, v, ok := strings.Cut(line, " ")
		if !ok || k == "" {
			return fmt.Errorf("line %d %s: want KEY VALUE", n, quote(line))
		}
		x, err := strconv.ParseInt(strings.TrimSpace(v), 10, 64)
		if err != nil {
			return fmt.Errorf("line %d %s: value: %w", n, quote(line), numErr(err))
		}
		fn(k, x)
		return nil
	})
}

// ParseValue parses a single-value cgroup file (memory.current, pids.max):
// a decimal integer, or "max" (v2's "no limit"), which reads as 0.
func ParseValue(b []byte) (int64, error) {
	b = bytes.TrimSpace(b)
	if string(b) == "max" {
		return 0, nil
	}
	if len(b) == 0 {
		return 0, errors.New("empty")
	}
	n, err := strconv.ParseInt(string(b), 10, 64)
	if err != nil {
		return 0, numErr(err)
	}
	return n, nil
}

// numErr shortens strconv's error (which repeats the whole input, however
// long) to what went wrong.
func numErr(err error) error {
	var ne *strconv.NumError
	if errors.As(err, &ne) {
		if errors.Is(ne.Err, strconv.ErrRange) {
			return errors.New("out of range for int64")
		}
		return errors.New("not a decimal integer")
	}
	return err
}

// quote quotes s for an error, cut to its first 80 bytes: a malformed
// line can be of any length.
func quote(s string) string {
	if len(s) > 80 {
		return strconv.Quote(s[:80]) + fmt.Sprintf("... (%d bytes)", len(s))
	}
	return strconv.Quote(s)
}

// eachLine calls fn with each non-empty line of b (1-based numbers) until
// fn fails.
func eachLine(b []byte, fn func(n int, line string) error) error {
	for n := 1; len(b) > 0; n++ {
		line := b
		if i := bytes.IndexByte(b, '\n'); i >= 0 {
			line, b = b[:i], b[i+1:]
		} else {
			b = nil
		}
		if len(line) == 0 {
			continue
		}
		if err := fn(n, string(line)); err != nil {
			return err
		}
	}
	return nil
}
