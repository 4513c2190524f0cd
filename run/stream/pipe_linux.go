package stream

import (
	"io"
	"os"

	"golang.org/x/sys/unix"
)

// growPipe asks for a 1 MiB pipe buffer when src is a pipe (best effort:
// the limit is /proc/sys/fs/pipe-max-size), so that one read can return
// that much of a producer that is ahead, and the producer blocks less.
func growPipe(src io.Reader) {
	f, ok := src.(*os.File)
	if !ok {
		return
	}
	rc, err := f.SyscallConn()
	if err != nil {
		return
	}
	rc.Control(func(fd uintptr) {
		if sz, err := unix.FcntlInt(fd, unix.F_GETPIPE_SZ, 0); err == nil && sz < 1<<20 {
			unix.FcntlInt(fd, unix.F_SETPIPE_SZ, 1<<20)
		}
	})
}
