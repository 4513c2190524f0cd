package cmd

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"os/exec"
	"path/filepath"
	"strings"

	"syncbox/run/container"
)

// defaultName is the connector name when --name is not given. It comes
// from the program that actually runs, since the name keys the memory
// history and forecast: `python3 a.py` and `python3 b.py`, or two venvs'
// bin/tap-x, are different programs and must not share a forecast.
//   - a program in the system directories the container shares (/usr, so
//     also whatever the container's PATH finds): its base name (tap-x, sh);
//   - anything else, such as a script an interpreter runs or a venv's
//     bin/tap-x: its base name and a short hash of its absolute path
//     (tap.py-3f9a1c), so equal base names in two places stay apart.
func defaultName(args []string, binds []container.Bind) string {
	prog, err := container.Inspect(args, binds)
	if err != nil {
		// The run will refuse the command and say why; the name only
		// has to be valid for the report.
		return sanitizeName(filepath.Base(args[0]))
	}
	if prog.System {
		return sanitizeName(filepath.Base(prog.Path))
	}
	sum := sha256.Sum256([]byte(prog.Path))
	return sanitizeName(filepath.Base(prog.Path)) + "-" + hex.EncodeToString(sum[:3])
}

// sanitizeName replaces what names may not contain.
func sanitizeName(base string) string {
	b := []rune(base)
	for i, r := range b {
		if !identRune(r) {
			b[i] = '-'
		}
	}
	if len(b) == 0 || base == "." || base == ".." || base == "/" {
		return "connector"
	}
	if len(b) > 100 {
		b = b[:100]
	}
	return string(b)
}

// pathNote warns when a bare command means a different program here than
// in the container, whose PATH is fixed (a pyenv shim or a venv activated
// in this shell is not what the connector runs). Empty when they agree.
func pathNote(args []string, binds []container.Bind) string {
	if len(args) == 0 || strings.Contains(args[0], "/") {
		return ""
	}
	here, err := exec.LookPath(args[0])
	if err != nil {
		return ""
	}
	prog, err := container.Inspect(args, binds)
	if err != nil {
		return ""
	}
	a, errA := filepath.EvalSymlinks(here)
	b, errB := filepath.EvalSymlinks(prog.Args[0])
	if errA != nil || errB != nil || a == b {
		return ""
	}
	return fmt.Sprintf("note: %s runs %s in the container (its PATH is %s), not %s from this shell's PATH; give the full path to run that one", args[0], prog.Args[0], container.DefaultPath, here)
}
