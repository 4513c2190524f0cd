package cmd

import (
	"errors"
	"fmt"
	"path/filepath"
	"strings"

	"syncbox/run/container"
	"syncbox/run/hostfs"
)

// parseBind reads flag's value SRC[:DST[:ro|rw]]; DST defaults to SRC,
// mode to ro.
func parseBind(flag, s string) (container.Bind, error) {
	parts := strings.Split(s, ":")
	if len(parts) > 3 || parts[0] == "" {
		return container.Bind{}, fmt.Errorf("%s %q: expected SRC[:DST[:ro|rw]]", flag, s)
	}
	src, err := filepath.Abs(parts[0])
	if err != nil {
		return container.Bind{}, fmt.Errorf("%s %q: %w", flag, s, err)
	}
	b := container.Bind{Source: src, Destination: src}
	if len(parts) >= 2 && parts[1] != "" {
		if !filepath.IsAbs(parts[1]) {
			return container.Bind{}, fmt.Errorf("%s %q: destination %q must be absolute", flag, s, parts[1])
		}
		b.Destination = filepath.Clean(parts[1])
	}
	if len(parts) == 3 {
		switch parts[2] {
		case "ro":
		case "rw":
			b.Writable = true
		default:
			return container.Bind{}, fmt.Errorf("%s %q: mode must be ro or rw, not %q", flag, s, parts[2])
		}
	}
	// By the path rule, as the container pins it: a link the tenant could
	// have planted is this flag's mistake to name now, not a failed start.
	f, err := hostfs.OpenPath(b.Source)
	if err != nil {
		var ul *hostfs.UntrustedLinkError
		if errors.As(err, &ul) {
			return container.Bind{}, fmt.Errorf("%s %q: %s is a symlink (to %s) %s, a path the tenant can write: such a link is never followed; give the real path",
				flag, s, ul.Link, ul.Target, ul.Why)
		}
		return container.Bind{}, fmt.Errorf("%s %q: %w", flag, s, err)
	}
	f.Close()
	return b, nil
}
