package container

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
)

// DefaultPath is the PATH a connector sees. It is fixed, never inherited, so
// a bare command name resolves the same way inside and out.
const DefaultPath = "/usr/local/bin:/usr/local/sbin:/usr/bin:/usr/sbin:/bin:/sbin"

// Resolve finds the executable for name as the container will see it.
// A bare name is looked up in DefaultPath on the host's /usr (which the
// container shares read-only), not in the runner's PATH: that may point into
// /root or a home directory the container cannot see. A name with a slash
// is made absolute; if it lies outside the shared system directories it is
// bound into the container at the same path (needsBind).
func Resolve(name string) (path string, needsBind bool, err error) {
	if name == "" {
		return "", false, fmt.Errorf("empty command")
	}
	if !strings.Contains(name, "/") {
		for _, dir := range filepath.SplitList(DefaultPath) {
			p := filepath.Join(dir, name)
			if isExecutable(p) {
				return p, false, nil
			}
		}
		return "", false, fmt.Errorf("command %q not found in the container's PATH (%s); give an absolute path to bind it in", name, DefaultPath)
	}
	abs, err := filepath.Abs(name)
	if err != nil {
		return "", false, fmt.Errorf("command %q: %w", name, err)
	}
	fi, err := os.Stat(abs)
	if err != nil {
		return "", false, fmt.Errorf("command %q: %w", name, err)
	}
	if fi.IsDir() || fi.Mode().Perm()&0o111 == 0 {
		return "", false, fmt.Errorf("command %q is not an executable file", abs)
	}
	return abs, !underSystemDirs(abs), nil
}

func isExecutable(p string) bool {
	fi, err := os.Stat(p)
	return err == nil && !fi.IsDir() && fi.Mode().Perm()&0o111 != 0
}

// underSystemDirs reports whether p is inside what every container already
// sees: /usr and the merged-usr symlinks that point into it.
func underSystemDirs(p string) bool {
	for _, d := range []string{"/usr/", "/bin/", "/sbin/", "/lib/", "/lib64/"} {
		if strings.HasPrefix(p, d) {
			return true
		}
	}
	return false
}
