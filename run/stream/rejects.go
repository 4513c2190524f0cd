package stream

// This file writes rejects: the original bytes of every changed value,
// dropped record and bad line, one file each, in Config.RejectsDir. The
// directory is resolved once by the path rule (run/hostfs), held open (os.Root) and every file is created in it with
// O_EXCL (a planted symlink is never followed), so nothing is written
// outside it. Files and bytes are bounded (Config.MaxRejectFiles,
// MaxRejectBytes); what does not fit is counted, not written.

import (
	"errors"
	"fmt"
	"hash/fnv"
	"os"
	"strconv"
	"syscall"

	"syncbox/run/hostfs"
)

type rejects struct {
	root     *os.Root
	used     map[string]int // next duplicate number per base name
	files    int64
	bytes    int64
	maxFiles int64
	maxBytes int64
}

// openRejects creates dir if needed and holds it open.
func openRejects(dir string, maxFiles, maxBytes int64) (*rejects, error) {
	// By the path rule: a link a tenant planted on the way is refused, not
	// followed (MkdirAll alone would create directories through it).
	d, err := hostfs.MkdirAll(dir, 0o755)
	if err != nil {
		return nil, &OutputError{Output: "rejects", Op: "create dir", Err: err}
	}
	defer d.Close()
	// The directory just resolved, by its descriptor: not a second lookup.
	root, err := os.OpenRoot(fmt.Sprintf("/proc/self/fd/%d", d.File().Fd()))
	if err != nil {
		return nil, &OutputError{Output: "rejects", Op: "open dir", Err: err}
	}
	return &rejects{root: root, used: map[string]int{}, maxFiles: maxFiles, maxBytes: maxBytes}, nil
}

func (r *rejects) close() {
	if r != nil {
		r.root.Close()
	}
}

// write copies line bytes [start,end) to a new file named after base. It
// returns the file name, or "" if the bounds leave no room (skipped).
func (r *rejects) write(base string, ld lineData, start, end int64) (name string, skipped bool, err error) {
	size := end - start
	if r.maxFiles >= 0 && r.files >= r.maxFiles || r.maxBytes >= 0 && r.bytes+size > r.maxBytes {
		return "", true, nil
	}
	// Numbered by a counter per base: no retries over this run's own
	// names; only files left by an earlier run cost a retry.
	for {
		i := r.used[base]
		r.used[base] = i + 1
		name = base + ".json"
		if i > 0 {
			name = base + "." + strconv.Itoa(i+1) + ".json"
		}
		f, err := r.root.OpenFile(name, os.O_WRONLY|os.O_CREATE|os.O_EXCL|syscall.O_NOFOLLOW, 0o644)
		if errors.Is(err, os.ErrExist) {
			continue
		}
		if err != nil {
			return "", false, &OutputError{Output: "rejects", Op: "create " + name, Err: err}
		}
		err = ld.copyTo(f, start, end)
		if cerr := f.Close(); err == nil {
			err = cerr
		}
		if err != nil {
			r.root.Remove(name) // no partial rejects file
			return "", false, &OutputError{Output: "rejects", Op: "write " + name, Err: err}
		}
		r.files++
		r.bytes += size
		return name, false, nil
	}
}

// reject writes the original bytes [start,end) of a record's value.
func (rc *recordCtx) reject(path []byte, start, end int64) (string, error) {
	return rc.s.writeReject(sanitize(rc.si.display)+"."+strconv.FormatInt(rc.recNo, 10)+"."+sanitize(string(path)), rc.ld, start, end)
}

func (s *Scanner) writeReject(base string, ld lineData, start, end int64) (string, error) {
	if s.rej == nil {
		return "", nil
	}
	name, skipped, err := s.rej.write(base, ld, start, end)
	s.mu.Lock()
	s.st.RejectFiles, s.st.RejectBytes = s.rej.files, s.rej.bytes
	if skipped {
		s.st.RejectsSkipped++
	}
	s.mu.Unlock()
	return name, err
}

// sanitize makes a file name component: [A-Za-z0-9_-] kept, the rest '_';
// if anything changed or it was cut, a hash of the original is appended.
func sanitize(s string) string {
	b := make([]byte, 0, min(len(s), 64)+9)
	changed := len(s) > 64 || s == ""
	for i := 0; i < len(s) && i < 64; i++ {
		c := s[i]
		if 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' || c == '_' || c == '-' {
			b = append(b, c)
		} else {
			b = append(b, '_')
			changed = true
		}
	}
	if changed {
		h := fnv.New32a()
		h.Write([]byte(s))
		b = fmt.Appendf(b, "-%08x", h.Sum32())
	}
	return string(b)
}
