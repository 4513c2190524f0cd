package hostfs

import (
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"os"
	"path/filepath"

	"golang.org/x/sys/unix"
)

// Dir is a directory held open: names are created, replaced and removed
// relative to it, so swapping a parent directory after it was opened
// changes nothing.
type Dir struct {
	f    *os.File
	path string
}

// OpenDir opens the directory path by the path rule.
func OpenDir(path string) (*Dir, error) {
	f, err := openLast(path, unix.O_RDONLY|unix.O_DIRECTORY, 0, false)
	if err != nil {
		return nil, err
	}
	return &Dir{f: f, path: filepath.Clean(path)}, nil
}

// MkdirAll opens the directory path, creating what is missing with perm,
// by the path rule.
func MkdirAll(path string, perm os.FileMode) (*Dir, error) {
	d, err := OpenDir(path)
	if err == nil || !errors.Is(err, unix.ENOENT) {
		return d, err
	}
	parent := filepath.Dir(filepath.Clean(path))
	if parent == path {
		return nil, err
	}
	pd, err := MkdirAll(parent, perm)
	if err != nil {
		return nil, err
	}
	defer pd.Close()
	return pd.Mkdir(filepath.Base(path), perm)
}

// Path is the path the directory was opened by (for messages).
func (d *Dir) Path() string { return d.path }

// File is the open directory itself.
func (d *Dir) File() *os.File { return d.f }

// Close releases the directory.
func (d *Dir) Close() error { return d.f.Close() }

func (d *Dir) fd() int { return int(d.f.Fd()) }

func (d *Dir) join(name string) string { return filepath.Join(d.path, name) }

func checkName(name string) error {
	if name == "" || name == "." || name == ".." || filepath.Base(name) != name {
		return fmt.Errorf("%q is not a single file name", name)
	}
	return nil
}

// Mkdir creates (or opens an existing real directory) name in d.
func (d *Dir) Mkdir(name string, perm os.FileMode) (*Dir, error) {
	if err := checkName(name); err != nil {
		return nil, err
	}
	if err := unix.Mkdirat(d.fd(), name, uint32(perm.Perm())); err != nil && !errors.Is(err, unix.EEXIST) {
		return nil, &os.PathError{Op: "mkdir", Path: d.join(name), Err: err}
	}
	f, err := openFDMode(d.fd(), name, unix.O_RDONLY|unix.O_DIRECTORY|unix.O_NOFOLLOW, 0, d.join(name))
	if err != nil {
		return nil, &os.PathError{Op: "open", Path: d.join(name), Err: unwrapErrno(err)}
	}
	return &Dir{f: f, path: d.join(name)}, nil
}

// Create creates name in d, exclusively: an existing entry (a planted
// symlink included) is an error, never followed or reused.
func (d *Dir) Create(name string, perm os.FileMode) (*os.File, error) {
	if err := checkName(name); err != nil {
		return nil, err
	}
	f, err := openFDMode(d.fd(), name, unix.O_WRONLY|unix.O_CREAT|unix.O_EXCL|unix.O_NOFOLLOW|unix.O_NOCTTY,
		uint32(perm.Perm()), d.join(name))
	if err != nil {
		return nil, &os.PathError{Op: "create", Path: d.join(name), Err: unwrapErrno(err)}
	}
	return f, nil
}

// OpenFile opens name in d like the package's OpenFile: the name is never
// followed if it is a symlink, an existing file must be regular with one
// link, O_TRUNC comes after the checks.
func (d *Dir) OpenFile(name string, flag int, perm os.FileMode) (*os.File, error) {
	if err := checkName(name); err != nil {
		return nil, err
	}
	f, target, err := openIn(d.f, name, d.join(name), flag, perm, true)
	if err == nil && target != "" {
		return nil, &UntrustedLinkError{Path: d.join(name), Link: d.join(name), Target: target, Why: "as the file itself"}
	}
	return f, err
}

// WriteFileAtomic replaces name in d with data: a fresh temp file in d,
// fsync, renameat over name (a symlink planted at name is replaced, not
// followed), fsync of d. Readers see the old or the new file, whole.
func (d *Dir) WriteFileAtomic(name string, data []byte, perm os.FileMode) (err error) {
	if err := checkName(name); err != nil {
		return err
	}
	var rnd [6]byte
	_, _ = rand.Read(rnd[:])
	tmp := "." + name + ".tmp-" + hex.EncodeToString(rnd[:])
	f, err := d.Create(tmp, perm)
	if err != nil {
		return err
	}
	defer func() {
		if err != nil {
			_ = f.Close()
			_ = unix.Unlinkat(d.fd(), tmp, 0)
		}
	}()
	if _, err = f.Write(data); err != nil {
		return fmt.Errorf("write %s: %w", d.join(tmp), err)
	}
	// Create's mode went through the umask; outputs get what was asked.
	if err = f.Chmod(perm); err != nil {
		return fmt.Errorf("chmod %s: %w", d.join(tmp), err)
	}
	if err = f.Sync(); err != nil {
		return fmt.Errorf("sync %s: %w", d.join(tmp), err)
	}
	if err = f.Close(); err != nil {
		return fmt.Errorf("close %s: %w", d.join(tmp), err)
	}
	if err = unix.Renameat(d.fd(), tmp, d.fd(), name); err != nil {
		return &os.LinkError{Op: "rename", Old: d.join(tmp), New: d.join(name), Err: err}
	}
	// The rename itself must survive a crash.
	_ = d.f.Sync()
	return nil
}

// WriteFileAtomic replaces path with data (see Dir.WriteFileAtomic); its
// directory is resolved by the path rule.
func WriteFileAtomic(path string, data []byte, perm os.FileMode) error {
	d, err := OpenDir(filepath.Dir(path))
	if err != nil {
		return err
	}
	defer d.Close()
	return d.WriteFileAtomic(filepath.Base(path), data, perm)
}
