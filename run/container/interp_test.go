package container

import (
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"syncbox/testdata/testenv"
)

// makeVenv builds a virtualenv the way Meltano installs a tap (Debian's
// python3-venv), with a console script whose #! is the venv's python and a
// library only the venv has.
func makeVenv(t *testing.T) (venv, tap string) {
	t.Helper()
	testenv.RequireFile(t, "/usr/lib/python3.11/ensurepip/__init__.py", "python3-venv") // its python3.11-venv
	venv = filepath.Join(t.TempDir(), "tap-orders-venv")
	if out, err := exec.Command("/usr/bin/python3", "-m", "venv", "--without-pip", venv).CombinedOutput(); err != nil {
		t.Fatalf("python3 -m venv: %v\n%s", err, out)
	}
	site, _ := filepath.Glob(filepath.Join(venv, "lib", "python3*", "site-packages"))
	if len(site) != 1 {
		t.Fatalf("no site-packages in %s", venv)
	}
	os.WriteFile(filepath.Join(site[0], "taporders.py"), []byte(`import json, sys
def main():
    print(json.dumps({"type": "RECORD", "stream": "orders", "record": {"prefix": sys.prefix}}))
`), 0o644)
	tap = filepath.Join(venv, "bin", "tap-orders")
	os.WriteFile(tap, []byte("#!"+filepath.Join(venv, "bin", "python")+"\nimport taporders\ntaporders.main()\n"), 0o755)
	return venv, tap
}

// A Python tap installed in a virtualenv runs as it does on the host: its
// #! interpreter and its library come from the venv, bound read-only.
func TestVirtualenvTapRuns(t *testing.T) {
	testenv.RequireRoot(t)
	venv, tap := makeVenv(t)
	r := runIn(t, t.TempDir(), Spec{Args: []string{tap}})
	if r.exit.Code != 0 || !strings.Contains(r.stdout, `"prefix": "`+venv+`"`) {
		t.Fatalf("%v: stdout %q stderr %q", r.exit, r.stdout, r.stderr)
	}
	// pipx's layout: a link on the PATH of a user into the venv.
	link := filepath.Join(t.TempDir(), "tap-orders")
	if err := os.Symlink(tap, link); err != nil {
		t.Fatal(err)
	}
	r = runIn(t, t.TempDir(), Spec{Args: []string{link}})
	if r.exit.Code != 0 || !strings.Contains(r.stdout, venv) {
		t.Fatalf("through a link: %v: stdout %q stderr %q", r.exit, r.stdout, r.stderr)
	}
	// The venv's python given a script directly is the same program.
	script := filepath.Join(t.TempDir(), "tap.py")
	os.WriteFile(script, []byte("import taporders\ntaporders.main()\n"), 0o644)
	r = runIn(t, t.TempDir(), Spec{Args: []string{filepath.Join(venv, "bin", "python"), script}})
	if r.exit.Code != 0 || !strings.Contains(r.stdout, venv) {
		t.Fatalf("venv python + script: %v: stdout %q stderr %q", r.exit, r.stdout, r.stderr)
	}
	// Read-only, even for a connector that tries to change its own venv.
	os.Chmod(venv, 0o777)
	r = runIn(t, t.TempDir(), Spec{Args: []string{filepath.Join(venv, "bin", "python"), "-c",
		"import sys; open(sys.prefix + '/probe', 'w')"}})
	if _, err := os.Stat(filepath.Join(venv, "probe")); err == nil || r.exit.Code == 0 || !strings.Contains(r.stderr, "Read-only") {
		t.Errorf("the venv is writable from inside: %v %q", r.exit, r.stderr)
	}
}

// An interpreter outside the container that is not a virtualenv is refused
// before anything starts, naming the path and the bind to add; with that
// bind the script runs.
func TestForeignInterpreterIsRefusedWithTheBindToAdd(t *testing.T) {
	testenv.RequireRoot(t)
	prefix := filepath.Join(t.TempDir(), "opt-tool")
	os.MkdirAll(filepath.Join(prefix, "bin"), 0o755)
	interp := filepath.Join(prefix, "bin", "tool")
	os.WriteFile(interp, []byte("#!/bin/sh\necho interpreted \"$1\"\n"), 0o755)
	script := filepath.Join(t.TempDir(), "job")
	os.WriteFile(script, []byte("#!"+interp+"\n"), 0o755)

	_, err := Start(Paths{Root: t.TempDir()}, Spec{ID: "foreign", Args: []string{script}}, IO{})
	var ce *CommandError
	if !errors.As(err, &ce) || !ce.NotFound || ce.Bind != prefix {
		t.Fatalf("want a not-found error naming %s to bind, got %v (bind %q)", prefix, err, ce.Bind)
	}
	r := runIn(t, t.TempDir(), Spec{Args: []string{script}, Binds: []Bind{{Source: prefix, Destination: prefix}}})
	if r.exit.Code != 0 || !strings.Contains(r.stdout, "interpreted "+script) {
		t.Fatalf("with the bind: %v %q %q", r.exit, r.stdout, r.stderr)
	}
}

// A Node connector loads its packages from the node_modules of its project.
func TestNodeScriptFindsItsNodeModules(t *testing.T) {
	testenv.RequireRoot(t)
	testenv.RequireFile(t, "/usr/bin/node", "nodejs")
	proj := filepath.Join(t.TempDir(), "destination")
	os.MkdirAll(filepath.Join(proj, "node_modules", "greeter"), 0o755)
	os.MkdirAll(filepath.Join(proj, "bin"), 0o755)
	os.WriteFile(filepath.Join(proj, "node_modules", "greeter", "index.js"), []byte(`module.exports = () => "from node_modules";`), 0o644)
	main := filepath.Join(proj, "bin", "main.js")
	os.WriteFile(main, []byte("#!/usr/bin/env node\nconsole.log(require('greeter')())\n"), 0o755)
	for _, args := range [][]string{{main}, {"node", main}} {
		r := runIn(t, t.TempDir(), Spec{Args: args})
		if r.exit.Code != 0 || strings.TrimSpace(r.stdout) != "from node_modules" {
			t.Fatalf("%v: %v %q %q", args, r.exit, r.stdout, r.stderr)
		}
	}
}

func TestMissingAndNonExecutableCommands(t *testing.T) {
	testenv.RequireRoot(t)
	plain := filepath.Join(t.TempDir(), "notes.txt")
	os.WriteFile(plain, []byte("x"), 0o644)
	noInterp := filepath.Join(t.TempDir(), "tap")
	os.WriteFile(noInterp, []byte("#!/usr/bin/env tap-runtime-nowhere\n"), 0o755)
	for _, c := range []struct {
		args     []string
		notFound bool
		says     string
	}{
		{[]string{"tap-nowhere-to-be-found"}, true, DefaultPath},
		{[]string{"/nonexistent/tap"}, true, "/nonexistent/tap"},
		{[]string{plain}, false, "not an executable"},
		{[]string{noInterp}, true, "tap-runtime-nowhere"},
	} {
		_, err := Start(Paths{Root: t.TempDir()}, Spec{ID: "missing", Args: c.args}, IO{})
		var ce *CommandError
		if !errors.As(err, &ce) || ce.NotFound != c.notFound || !strings.Contains(err.Error(), c.says) {
			t.Errorf("%v: got %v, want a CommandError (not found: %v) saying %q", c.args, err, c.notFound, c.says)
		}
	}
}

// What Inspect may bind on its own is a program's directory, never a
// directory that would show the connector much more than that.
func TestInspectNeverBindsBroadDirectories(t *testing.T) {
	for _, p := range []string{"/", "/tmp", "/opt", "/home", "/root", "/home/alice", "/var/tmp", "/etc/cron.d", "/proc/1", "/run/syncbox/x"} {
		if !tooBroad(p) {
			t.Errorf("%s would be bound automatically", p)
		}
	}
	for _, p := range []string{"/opt/taps/tap-x/venv", "/home/alice/taps/venv", "/tmp/TestX/001/proj", "/srv/connectors/dest"} {
		if tooBroad(p) {
			t.Errorf("%s refused, but it is a program's directory", p)
		}
	}
}

// A venv made from a Python outside /usr (pyenv's, as on this CI image)
// brings that Python's prefix along, read-only, and nothing else of /root.
func TestVirtualenvFromAPythonOutsideUsr(t *testing.T) {
	testenv.RequireRoot(t)
	pys, _ := filepath.Glob("/root/.pyenv/versions/3.1*/bin/python3")
	if len(pys) == 0 {
		t.Skip("no pyenv Python under /root/.pyenv")
	}
	venv := filepath.Join(t.TempDir(), "venv")
	if out, err := exec.Command(pys[0], "-m", "venv", "--without-pip", venv).CombinedOutput(); err != nil {
		t.Fatalf("%s -m venv: %v\n%s", pys[0], err, out)
	}
	r := runIn(t, t.TempDir(), Spec{Args: []string{filepath.Join(venv, "bin", "python"), "-c",
		"import sys, os; print(sys.prefix, sys.base_prefix, os.path.exists('/root/.bashrc'))"}})
	base := filepath.Dir(filepath.Dir(pys[0]))
	if r.exit.Code != 0 || strings.TrimSpace(r.stdout) != venv+" "+base+" False" {
		t.Fatalf("%v: stdout %q stderr %q", r.exit, r.stdout, r.stderr)
	}
}
