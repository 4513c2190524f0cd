package container

import (
	"fmt"
	"os"

	"golang.org/x/sys/unix"

	"syncbox/run/hostfs"
)

// checkWritableBind refuses a read-write bind the connector could not write
// anyway, before anything starts. The connector runs as the tenant's own
// unprivileged uid, and a bind shows the host's ownership unchanged: an
// idmapped mount could translate it, but libcontainer only supports those
// together with a user namespace, which syncbox does not use (its uids are
// real host uids, so tenants' files stay apart on the host too). So the
// rule is ownership: the source directory must be writable by the
// connector's uid or gid through its mode bits (owner, group or other), and
// the message says the chown that makes it so. ACLs are not consulted: a
// directory writable only through an ACL is refused too.
func checkWritableBind(b Bind, uid, gid int) error {
	if !b.Writable {
		return nil
	}
	// By the path rule, as the mount itself will be: a tenant's link must
	// be refused as a link, not followed to judge its target.
	f, err := hostfs.OpenPath(b.Source)
	if err != nil {
		return fmt.Errorf("bind source: %w", err)
	}
	defer f.Close()
	var st unix.Stat_t
	if err := unix.Fstat(int(f.Fd()), &st); err != nil {
		return fmt.Errorf("bind source %s: %w", b.Source, err)
	}
	m := os.FileMode(st.Mode).Perm()
	switch {
	case int(st.Uid) == uid && m&0o200 != 0,
		int(st.Gid) == gid && m&0o020 != 0,
		m&0o002 != 0:
		return nil
	}
	what := "directory"
	if st.Mode&unix.S_IFMT != unix.S_IFDIR {
		what = "file"
	}
	return fmt.Errorf("read-write bind %s: the connector runs as uid %d, which cannot write this %s (owner %d, group %d, mode %04o); make it the connector's: chown %d:%d %s",
		b.Source, uid, what, st.Uid, st.Gid, m, uid, gid, b.Source)
}
