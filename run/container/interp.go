package container

import (
	"bufio"
	"bytes"
	"fmt"
	"os"
	"path/filepath"
	"strings"
)

// CommandError means the command cannot run in the container: not found
// (exit 127, as shells and docker say) or not executable (126). It is
// raised before the container starts, so nothing runs and nothing is left.
type CommandError struct {
	NotFound bool   // false: found but not executable
	Msg      string // what is wrong, naming no flag (cmd adds how to fix it)
	Bind     string // a host path that, bound in, would make it visible; "" if none
}

func (e *CommandError) Error() string {
	if e.Bind != "" {
		return e.Msg + ": bind " + e.Bind + " into the container"
	}
	return e.Msg
}

// Program is what a command line actually runs, as the container will see it.
type Program struct {
	Args []string // the command line to exec: Args[0] resolved, a script made absolute
	// Path is the program that decides the run's behaviour: the script an
	// interpreter runs (python3 tap.py, a venv's bin/tap-x), else the executable.
	Path string
	// Binds are host paths the container must see at the same place, read-only:
	// the executable or script, a virtualenv, an interpreter prefix, a Node
	// project holding node_modules.
	Binds []string
	// System says Path is in the system directories every container
	// shares (/usr): one program per path there, whatever the host.
	System bool
}

// Inspect resolves args the way the container will exec them and works out
// what of the host it needs: a script outside /usr, its #! interpreter, the
// virtualenv named by the interpreter (pyvenv.cfg) and the Python home that
// venv was made from, the Node project whose node_modules a script loads.
// What cannot be made visible safely is refused here, with the path and the
// bind to add, instead of the connector dying with "no such file".
// binds are the user's binds: what they cover is visible already.
func Inspect(args []string, binds []Bind) (*Program, error) {
	if len(args) == 0 || args[0] == "" {
		return nil, &CommandError{NotFound: true, Msg: "empty command"}
	}
	in := inspector{binds: binds}
	exe, err := in.resolve(args[0])
	if err != nil {
		return nil, err
	}
	// A link outside /usr (pipx's ~/.local/bin/tap-x -> its venv's
	// bin/tap-x) runs as its target: the container has the target, bound
	// at its real path, not the link. A venv's bin/python stays as named:
	// the venv is found from that path.
	if !in.visible(exe) && !(interpreterKind(exe) == "python" && isVenvPython(exe)) {
		if real, err := filepath.EvalSymlinks(exe); err == nil {
			exe = real
		}
	}
	p := &Program{Args: append([]string{exe}, args[1:]...), Path: exe}
	interp, iarg, err := shebang(exe)
	if err != nil {
		return nil, err
	}
	kind := ""
	if interp != "" {
		// A script: its interpreter (and venv) first, then the script,
		// which the venv may already cover.
		if kind, err = in.interpreter(exe, interp, iarg); err != nil {
			return nil, err
		}
		in.need(exe)
		in.project(kind, exe)
	} else if kind = interpreterKind(exe); kind != "python" || !in.venv(exe) {
		in.need(exe)
	}
	// An interpreter given a script (python3 tap.py, node dest.js): the
	// script is the program, made absolute and bound in, since the
	// container's working directory is not the runner's.
	if kind != "" && interp == "" {
		if i := scriptArg(args); i > 0 {
			abs, err := filepath.Abs(args[i])
			if err == nil {
				if real, err := filepath.EvalSymlinks(abs); err == nil {
					if fi, err := os.Stat(real); err == nil && fi.Mode().IsRegular() {
						p.Args[i], p.Path = real, real
						in.need(real)
						in.project(kind, real)
					}
				}
			}
		}
	}
	if in.err != nil {
		return nil, in.err
	}
	p.Binds, p.System = in.auto, underSystemDirs(p.Path)
	return p, nil
}

// inspector collects the host paths a program needs and the first refusal.
type inspector struct {
	binds []Bind
	auto  []string
	err   error
}

// visible reports whether the container sees host path p at the same place.
func (in *inspector) visible(p string) bool {
	if underSystemDirs(p) {
		return true
	}
	for _, b := range in.binds {
		if within(p, b.Destination) && within(p, b.Source) && filepath.Clean(b.Source) == filepath.Clean(b.Destination) {
			return true
		}
	}
	for _, a := range in.auto {
		if within(p, a) {
			return true
		}
	}
	return false
}

func within(p, dir string) bool {
	dir = filepath.Clean(dir)
	return p == dir || strings.HasPrefix(p, dir+"/") || dir == "/"
}

// need makes host path p visible, bound read-only where needed. A path
// whose real location differs (a symlink on the way) or that is a home or
// the root directory is refused: binding it would show the connector more
// than the program.
func (in *inspector) need(p string) {
	if in.err != nil || in.visible(p) {
		return
	}
	real, err := filepath.EvalSymlinks(p)
	if err != nil {
		in.err = &CommandError{NotFound: true, Msg: fmt.Sprintf("%s: %v", p, err)}
		return
	}
	if real != filepath.Clean(p) {
		in.err = &CommandError{NotFound: true, Bind: p, Msg: fmt.Sprintf("%s goes through a symlink (to %s), which the container does not have: use the real path", p, real)}
		return
	}
	if tooBroad(p) {
		in.err = &CommandError{NotFound: true, Msg: fmt.Sprintf("%s is outside the container and too broad to show it automatically: bind in the directory the program needs", p)}
		return
	}
	in.auto = append(in.auto, p)
}

// tooBroad reports whether binding p would show the connector far more
// than a program: a top-level directory (/tmp over the container's own,
// /opt, /home), a home directory, or kernel and syncbox paths.
func tooBroad(p string) bool {
	if filepath.Dir(p) == "/" || p == "/" || filepath.Dir(p) == "/home" || p == "/var/tmp" || p == "/var/lib" {
		return true
	}
	for _, d := range []string{"/proc", "/sys", "/dev", "/etc", "/run"} {
		if within(p, d) {
			return true
		}
	}
	return false
}

// resolve finds name as the container will: a bare name in DefaultPath,
// anything else as a host path (bound in when outside /usr).
func (in *inspector) resolve(name string) (string, error) {
	if !strings.Contains(name, "/") {
		for _, dir := range filepath.SplitList(DefaultPath) {
			p := filepath.Join(dir, name)
			if fi, err := os.Stat(p); err == nil && !fi.IsDir() {
				if fi.Mode().Perm()&0o111 == 0 {
					return "", &CommandError{Msg: fmt.Sprintf("command %q (%s) is not executable", name, p)}
				}
				return p, nil
			}
		}
		return "", &CommandError{NotFound: true, Msg: fmt.Sprintf("command %q not found in the container's PATH (%s); give an absolute path to bind it in", name, DefaultPath)}
	}
	abs, err := filepath.Abs(name)
	if err != nil {
		return "", &CommandError{NotFound: true, Msg: fmt.Sprintf("command %q: %v", name, err)}
	}
	fi, err := os.Stat(abs)
	if err != nil {
		return "", &CommandError{NotFound: true, Msg: fmt.Sprintf("command %q not found: %v", name, err)}
	}
	if fi.IsDir() || fi.Mode().Perm()&0o111 == 0 {
		return "", &CommandError{Msg: fmt.Sprintf("command %q is not an executable file (the container's PATH is %s)", abs, DefaultPath)}
	}
	return abs, nil
}

// shebang returns the interpreter and its one optional argument of a script's
// #! line ("" when exe is not a script).
func shebang(exe string) (interp, arg string, err error) {
	f, err := os.Open(exe)
	if err != nil {
		return "", "", &CommandError{Msg: fmt.Sprintf("command %s: %v", exe, err)}
	}
	defer f.Close()
	line, _ := bufio.NewReaderSize(f, 256).ReadSlice('\n')
	if !bytes.HasPrefix(line, []byte("#!")) {
		return "", "", nil
	}
	fields := strings.Fields(string(line[2:]))
	if len(fields) == 0 {
		return "", "", &CommandError{Msg: fmt.Sprintf("%s: empty #! line", exe)}
	}
	// The kernel passes everything after the interpreter as one argument.
	return fields[0], strings.Join(fields[1:], " "), nil
}

// interpreter checks a script's #! interpreter as the container will see
// it, binds a virtualenv it belongs to, and returns its kind ("python",
// "node" or "" for others).
func (in *inspector) interpreter(script, interp, arg string) (string, error) {
	if !filepath.IsAbs(interp) {
		return "", &CommandError{NotFound: true, Msg: fmt.Sprintf("%s: #! interpreter %q is not an absolute path", script, interp)}
	}
	if filepath.Base(interp) == "env" && arg != "" {
		// #!/usr/bin/env [-S] NAME [ARGS]: NAME is looked up in the
		// container's PATH, never the runner's.
		f := strings.Fields(arg)
		if f[0] == "-S" && len(f) > 1 {
			f = f[1:]
		}
		p, err := in.resolve(f[0])
		if err != nil {
			return "", &CommandError{NotFound: true, Msg: fmt.Sprintf("%s: its #! line runs %q via %s, which is not in the container's PATH (%s)", script, f[0], interp, DefaultPath)}
		}
		return interpreterKind(p), nil
	}
	fi, err := os.Stat(interp)
	if err != nil {
		return "", &CommandError{NotFound: true, Msg: fmt.Sprintf("%s: #! interpreter %s: %v", script, interp, err)}
	}
	if fi.IsDir() || fi.Mode().Perm()&0o111 == 0 {
		return "", &CommandError{Msg: fmt.Sprintf("%s: #! interpreter %s is not executable", script, interp)}
	}
	kind := interpreterKind(interp)
	if !in.visible(interp) && !in.venv(interp) {
		// Not a virtualenv: we do not guess which prefix an arbitrary
		// interpreter needs (its libraries, its own config), the user says.
		return "", &CommandError{NotFound: true, Bind: prefixOf(interp), Msg: fmt.Sprintf("%s: #! interpreter %s is outside the container (which sees /usr, a minimal /etc and your binds)", script, interp)}
	}
	if real, err := filepath.EvalSymlinks(interp); err == nil && !in.visible(real) {
		return "", &CommandError{NotFound: true, Bind: prefixOf(real), Msg: fmt.Sprintf("%s: #! interpreter %s is %s, outside the container", script, interp, real)}
	}
	return kind, nil
}

// venv binds the virtualenv interp belongs to (bin/python beside a
// pyvenv.cfg), and the Python installation it was made from when that is
// outside /usr (pyenv, a /opt build). It reports whether interp was a venv.
func (in *inspector) venv(interp string) bool {
	if !isVenvPython(interp) {
		return false
	}
	root := filepath.Dir(filepath.Dir(interp))
	cfg, err := os.ReadFile(filepath.Join(root, "pyvenv.cfg"))
	if err != nil {
		return false
	}
	in.need(root)
	for _, line := range strings.Split(string(cfg), "\n") {
		k, v, ok := strings.Cut(line, "=")
		if !ok || strings.TrimSpace(k) != "home" {
			continue
		}
		home := strings.TrimSpace(v)
		if filepath.IsAbs(home) && !in.visible(home) {
			in.need(prefixOf(filepath.Join(home, "python")))
		}
	}
	if real, err := filepath.EvalSymlinks(interp); err == nil && !in.visible(real) {
		in.need(prefixOf(real))
	}
	return true
}

// isVenvPython reports whether interp is a virtualenv's bin/python*.
func isVenvPython(interp string) bool {
	if filepath.Base(filepath.Dir(interp)) != "bin" {
		return false
	}
	_, err := os.Stat(filepath.Join(filepath.Dir(filepath.Dir(interp)), "pyvenv.cfg"))
	return err == nil
}

// project binds the Node project a script belongs to: the nearest
// directory above it holding node_modules, where require() will look.
func (in *inspector) project(kind, script string) {
	if kind != "node" {
		return
	}
	for d := filepath.Dir(script); d != "/" && d != "."; d = filepath.Dir(d) {
		if fi, err := os.Stat(filepath.Join(d, "node_modules")); err == nil && fi.IsDir() {
			in.need(d)
			return
		}
	}
}

// prefixOf is the installation prefix of an executable: /opt/py/bin/python
// -> /opt/py; else its directory.
func prefixOf(exe string) string {
	d := filepath.Dir(exe)
	if filepath.Base(d) == "bin" {
		return filepath.Dir(d)
	}
	return d
}

// interpreterKind names the interpreters whose scripts and libraries
// Inspect knows how to find.
func interpreterKind(exe string) string {
	b := filepath.Base(exe)
	switch {
	case b == "python" || strings.HasPrefix(b, "python3") || strings.HasPrefix(b, "python2"):
		return "python"
	case b == "node" || b == "nodejs":
		return "node"
	case b == "ruby" || b == "perl" || b == "sh" || b == "bash" || b == "dash":
		return "script"
	}
	return ""
}

// scriptArg returns the index of the script file in an interpreter's
// command line (python3 -u tap.py), or 0 when there is none (python3 -c
// CODE, python3 -m MOD, node -e CODE).
func scriptArg(args []string) int {
	for i := 1; i < len(args); i++ {
		a := args[i]
		switch {
		case a == "-c" || a == "-m" || a == "-e" || a == "--eval" || a == "-p" || a == "--print" || a == "--":
			return 0
		case strings.HasPrefix(a, "-"):
			continue
		}
		return i
	}
	return 0
}
