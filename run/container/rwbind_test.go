package container

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"

	"syncbox/testdata/testenv"
)

// A :rw bind the connector's uid cannot write is refused up front with the
// chown that fixes it (it used to start and fail with "Permission denied");
// after that chown the connector writes, and its files are its own.
func TestReadWriteBindIsWritableByTheConnectorOrRefused(t *testing.T) {
	testenv.RequireRoot(t)
	out := t.TempDir()
	os.Chmod(out, 0o755) // root's, as a directory made by an admin is
	const uid = 61234
	spec := Spec{UID: uid, Args: []string{"/bin/sh", "-c", "echo rows > /out/part-0 && stat -c '%u' /out/part-0"},
		Binds: []Bind{{Source: out, Destination: "/out", Writable: true}}}

	s := spec
	s.ID = fmt.Sprintf("rw%d", os.Getpid())
	_, err := Start(Paths{Root: t.TempDir()}, s, IO{})
	want := fmt.Sprintf("chown %d:%d %s", uid, uid, out)
	if err == nil || !strings.Contains(err.Error(), want) || !strings.Contains(err.Error(), fmt.Sprintf("uid %d", uid)) {
		t.Fatalf("want a refusal saying %q, got %v", want, err)
	}

	if err := os.Chown(out, uid, uid); err != nil {
		t.Fatal(err)
	}
	r := runIn(t, t.TempDir(), spec)
	if r.exit.Code != 0 || strings.TrimSpace(r.stdout) != fmt.Sprint(uid) {
		t.Fatalf("after chown: %v %q %q", r.exit, r.stdout, r.stderr)
	}
	fi, err := os.Stat(filepath.Join(out, "part-0"))
	if err != nil || fi.Sys().(*syscall.Stat_t).Uid != uid {
		t.Errorf("file on the host: %v %v", fi, err)
	}
}
