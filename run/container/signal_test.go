package container

import (
	"bytes"
	"io"
	"os"
	"strconv"
	"syscall"
	"testing"
	"time"

	"syncbox/testdata/testenv"
)

func TestSignalMasksAreParsedFromProcStatus(t *testing.T) {
	status := []byte("Name:\tsh\nState:\tS (sleeping)\nSigQ:\t0/95171\nSigPnd:\t0000000000000000\n" +
		"ShdPnd:\t0000000000000000\nSigBlk:\t0000000000000000\nSigIgn:\t0000000000000004\nSigCgt:\t0000000000010002\n")
	ign, cgt, err := signalMasks(status)
	if err != nil || ign != 0x4 || cgt != 0x10002 {
		t.Fatalf("got %x %x %v", ign, cgt, err)
	}
	for _, c := range []struct {
		sig  syscall.Signal
		want bool
	}{{syscall.SIGTERM, true}, {syscall.SIGINT, false}, {syscall.SIGQUIT, false}, {syscall.SIGHUP, true}, {syscall.SIGUSR1, true}} {
		// As sh has it: SIGINT (bit 1) and SIGCHLD (bit 16) caught, SIGQUIT
		// (bit 2) ignored; SIGTERM, SIGHUP and SIGUSR1 have no handler.
		if got := droppedByPID1(ign, cgt, c.sig); got != c.want {
			t.Errorf("%v dropped: %v, want %v", c.sig, got, c.want)
		}
	}
	for _, bad := range []string{"", "SigIgn:\tzz\nSigCgt:\t0\n", "SigIgn:\t0\n", "SigCgt:\t0\n"} {
		if _, _, err := signalMasks([]byte(bad)); err == nil {
			t.Errorf("%q: no error", bad)
		}
	}
}

// A connector's PID 1 that has no handler for SIGTERM would ignore it in
// its pid namespace (the kernel drops it): a stop would then wait out the
// whole grace period while records and checkpoints kept flowing. Signal
// ends it as the signal's default action would; a handler still runs, and
// a signal the program ignores stays ignored.
func TestSignalEndsAPID1WithoutAHandlerAndLetsAHandlerRun(t *testing.T) {
	testenv.RequireRoot(t)
	root := t.TempDir()
	cases := []struct {
		name, script string
		wantCode     int  // exit code once signalled; -1: still running after 500 ms
		killed       bool // ended by SIGKILL
	}{
		{"no handler", "echo ready; while :; do sleep 0.05; done", 0, true},
		{"handler", "trap 'exit 3' TERM; echo ready; while :; do sleep 0.05; done", 3, false},
		{"ignored", "trap '' TERM; echo ready; while :; do sleep 0.05; done", -1, false},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			var errBuf bytes.Buffer
			ct, err := Start(Paths{Root: root}, Spec{ID: "sig" + c.name[:2] + strconv.Itoa(os.Getpid()), Args: []string{"/bin/sh", "-c", c.script},
				Env: []string{"PATH=" + DefaultPath}}, IO{Stderr: &errBuf})
			if err != nil {
				t.Fatal(err)
			}
			defer ct.Destroy()
			line := make([]byte, 6)
			if _, err := io.ReadFull(ct.Stdout, line); err != nil || string(line) != "ready\n" {
				t.Fatalf("ready: %q %v", line, err)
			}
			go io.Copy(io.Discard, ct.Stdout)
			t0 := time.Now()
			if err := ct.Signal(syscall.SIGTERM); err != nil {
				t.Fatal(err)
			}
			select {
			case <-ct.Done():
				exit, _ := ct.Wait()
				if c.wantCode < 0 {
					t.Fatalf("an ignored SIGTERM ended the connector: %v", exit)
				}
				if c.killed != (exit.Signaled && exit.Signal == syscall.SIGKILL) || !c.killed && exit.Code != c.wantCode {
					t.Fatalf("exit %+v, want code %d killed %v", exit, c.wantCode, c.killed)
				}
				if d := time.Since(t0); d > 2*time.Second {
					t.Errorf("stopped after %v", d)
				}
			case <-time.After(500 * time.Millisecond):
				if c.wantCode >= 0 {
					t.Fatalf("still running 500 ms after SIGTERM (stderr %q)", errBuf.String())
				}
				_ = ct.Kill()
				<-ct.Done()
			}
		})
	}
}
