package cmd

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"syncbox/run/container"
)

// parseBind reads SRC[:DST[:ro|rw]]; DST defaults to SRC, mode to ro.
func parseBind(s string) (container.Bind, error) {
	parts := strings.Split(s, ":")
	if len(parts) > 3 || parts[0] == "" {
		return container.Bind{}, fmt.Errorf("--bind %q: expected SRC[:DST[:ro|rw]]", s)
	}
	src, err := filepath.Abs(parts[0])
	if err != nil {
		return container.Bind{}, fmt.Errorf("--bind %q: %w", s, err)
	}
	b := container.Bind{Source: src, Destination: src}
	if len(parts) >= 2 && parts[1] != "" {
		if !filepath.IsAbs(parts[1]) {
			return container.Bind{}, fmt.Errorf("--bind %q: destination %q must be absolute", s, parts[1])
		}
		b.Destination = filepath.Clean(parts[1])
	}
	if len(parts) == 3 {
		switch parts[2] {
		case "ro":
		case "rw":
			b.Writable = true
		default:
			return container.Bind{}, fmt.Errorf("--bind %q: mode must be ro or rw, not %q", s, parts[2])
		}
	}
	if _, err := os.Stat(b.Source); err != nil {
		return container.Bind{}, fmt.Errorf("--bind %q: %w", s, err)
	}
	return b, nil
}
