package history

import (
	"errors"
	"os"
	"path/filepath"
)

// Backend is what the runner and the history commands need of a run
// history: the embedded bbolt file (AtHome) or a store shared by many
// machines (package fleet).
type Backend interface {
	// Append stores one entry.
	Append(Entry) error
	// List returns the entries matching f, oldest first.
	List(Filter) ([]Entry, error)
	// ForConnector returns a connector's entries for one tenant and for
	// all its other tenants, each oldest first.
	ForConnector(name, tenant string) (own, others []Entry, err error)
}

// File is the history in a syncbox home directory as a Backend. Each call
// opens the file, acts and closes it again (see Record and Load), so the
// file lock is never held across a run; a missing file is empty.
type File string

// AtHome returns the bbolt history in dir as a Backend.
func AtHome(dir string) File { return File(dir) }

// Append implements Backend.
func (h File) Append(e Entry) error { return Record(string(h), e) }

// ForConnector implements Backend.
func (h File) ForConnector(name, tenant string) (own, others []Entry, err error) {
	return Load(string(h), name, tenant)
}

// List implements Backend.
func (h File) List(f Filter) ([]Entry, error) {
	if _, err := os.Stat(filepath.Join(string(h), FileName)); errors.Is(err, os.ErrNotExist) {
		return nil, nil
	}
	s, err := OpenWith(string(h), Options{ReadOnly: true})
	if err != nil {
		return nil, err
	}
	out, err := s.List(f)
	if cerr := s.Close(); err == nil {
		err = cerr
	}
	return out, err
}

var (
	_ Backend = (*Store)(nil)
	_ Backend = File("")
)
