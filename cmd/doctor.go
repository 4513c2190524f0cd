package cmd

import (
	"context"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"

	"github.com/urfave/cli/v2"

	"syncbox/run"
	"syncbox/run/cgroup"
	"syncbox/run/report"
)

// check is one doctor finding; fatal ones mean `run` cannot work here.
type check struct {
	name  string
	ok    bool
	fatal bool
	info  string
	fix   string
}

func doctorCommand() *cli.Command {
	return &cli.Command{
		Name:  "doctor",
		Usage: "check that this host can run syncbox containers, with a fix for each problem",
		Flags: []cli.Flag{
			&cli.BoolFlag{Name: "no-trial", Usage: "skip starting a real trial container"},
		},
		Action: func(c *cli.Context) error {
			checks := hostChecks()
			if !c.Bool("no-trial") && allOK(checks) {
				checks = append(checks, trialCheck())
			}
			bad := 0
			for _, ch := range checks {
				mark := "ok  "
				if !ch.ok {
					mark = "WARN"
					if ch.fatal {
						mark = "FAIL"
						bad++
					}
				}
				fmt.Fprintf(c.App.Writer, "%s  %-22s %s\n", mark, ch.name, ch.info)
				if !ch.ok && ch.fix != "" {
					fmt.Fprintf(c.App.Writer, "      %-22s fix: %s\n", "", ch.fix)
				}
			}
			if bad > 0 {
				return &exitError{code: report.ExitSetupFailed, msg: fmt.Sprintf("%d check(s) failed: syncbox run cannot work on this host", bad)}
			}
			return nil
		},
	}
}

func allOK(cs []check) bool {
	for _, c := range cs {
		if !c.ok && c.fatal {
			return false
		}
	}
	return true
}

func hostChecks() []check {
	var cs []check
	cs = append(cs, check{name: "root", ok: os.Geteuid() == 0, fatal: true,
		info: fmt.Sprintf("euid %d", os.Geteuid()),
		fix:  "run syncbox as root (it creates namespaces and cgroups)"})

	var missing []string
	for _, ns := range []string{"pid", "mnt", "uts", "ipc", "net", "cgroup"} {
		if _, err := os.Stat("/proc/self/ns/" + ns); err != nil {
			missing = append(missing, ns)
		}
	}
	cs = append(cs, check{name: "namespaces", ok: len(missing) == 0, fatal: true,
		info: "pid mnt uts ipc net cgroup" + ifNot(len(missing) == 0, ": missing "+strings.Join(missing, " ")),
		fix:  "use a kernel built with CONFIG_*_NS for the missing namespaces"})

	if l, err := cgroup.Host(); err != nil {
		cs = append(cs, check{name: "cgroups", ok: false, fatal: true, info: err.Error(),
			fix: "mount the cgroup filesystems at /sys/fs/cgroup (systemd does)"})
	} else {
		var absent []string
		for _, ctl := range []string{"memory", "pids", "cpu"} {
			if !l.Available(ctl) {
				absent = append(absent, ctl)
			}
		}
		cs = append(cs, check{name: "cgroups", ok: len(absent) == 0, fatal: true,
			info: l.Mode.String() + ", controllers memory pids cpu" + ifNot(len(absent) == 0, ": missing "+strings.Join(absent, " ")),
			fix:  "enable the missing controllers (v2: in the parent's cgroup.subtree_control, or Delegate=yes with systemd; v1: mount them)"})
		cs = append(cs, check{name: "own cgroup", ok: true, info: "containers nest under: " + strings.Join(l.Dirs(""), " ")})
	}

	root := runPaths().Dir()
	err := os.MkdirAll(root, 0o700)
	if err == nil {
		var f *os.File
		f, err = os.CreateTemp(root, ".doctor-")
		if err == nil {
			f.Close()
			os.Remove(f.Name())
		}
	}
	cs = append(cs, check{name: "state dir", ok: err == nil, fatal: true,
		info: root + ifNot(err == nil, ": "+errString(err)),
		fix:  "make it writable by root, or set SYNCBOX_RUN_DIR to a directory that is"})

	if exe, err := os.Executable(); err == nil {
		inside := strings.HasPrefix(filepath.Clean(root)+"/", filepath.Dir(exe)+"/")
		cs = append(cs, check{name: "binary location", ok: !inside,
			info: exe + ifNot(!inside, " holds the state dir: every start copies the binary (slow)"),
			fix:  "install syncbox outside " + root})
	}
	if _, err := os.Stat("/usr/bin"); err != nil {
		cs = append(cs, check{name: "/usr", ok: false, fatal: true, info: err.Error(),
			fix: "syncbox shares the host's /usr read-only with connectors"})
	}
	return cs
}

// trialCheck starts a real container: the only proof that run works here.
func trialCheck() check {
	devnull, _ := os.OpenFile(os.DevNull, os.O_RDWR, 0)
	defer devnull.Close()
	res := run.Run(context.Background(), run.Options{Command: []string{"/bin/true"}, MemoryBytes: 64 << 20, Paths: runPaths(),
		Stdout: io.Discard, Stderr: devnull, Stdin: devnull, Quiet: true})
	ok := res.ExitCode == 0
	info := fmt.Sprintf("started and removed a container in %.0f ms", res.Report.DurationSeconds*1000)
	if !ok {
		info = fmt.Sprintf("exit %d: %v", res.ExitCode, res.Err)
	}
	return check{name: "trial container", ok: ok, fatal: true, info: info,
		fix: "see the error above; `syncbox run -- /bin/true` shows it in full"}
}

func ifNot(ok bool, s string) string {
	if ok {
		return ""
	}
	return s
}

func errString(err error) string {
	if err == nil {
		return ""
	}
	return err.Error()
}
