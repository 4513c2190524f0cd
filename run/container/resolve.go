package container

import "strings"

// DefaultPath is the PATH a connector sees. It is fixed, never inherited, so
// a bare command name resolves the same way inside and out.
const DefaultPath = "/usr/local/bin:/usr/local/sbin:/usr/bin:/usr/sbin:/bin:/sbin"

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
