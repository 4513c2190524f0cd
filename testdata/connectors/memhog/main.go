// Command memhog is a test connector that uses memory on purpose: it
// allocates and touches --mib MiB in --step-mib steps, printing a Singer
// RECORD per step and STATE every --state-every steps, optionally from a
// child process (--child) so an OOM of a non-PID-1 process can be tested.
package main

import (
	"flag"
	"fmt"
	"os"
	"os/exec"
	"time"
)

func main() {
	mib := flag.Int("mib", 100, "MiB to allocate in total")
	step := flag.Int("step-mib", 8, "MiB per step")
	delay := flag.Duration("delay", 20*time.Millisecond, "pause between steps")
	hold := flag.Duration("hold", 0, "keep the memory this long at the end")
	stateEvery := flag.Int("state-every", 4, "STATE after this many steps")
	child := flag.Bool("child", false, "allocate in a child process, not in PID 1")
	stream := flag.String("stream", "blobs", "stream name for the records")
	flag.Parse()

	if *child {
		args := []string{"-mib", fmt.Sprint(*mib), "-step-mib", fmt.Sprint(*step), "-delay", delay.String(),
			"-hold", hold.String(), "-state-every", fmt.Sprint(*stateEvery), "-stream", *stream}
		cmd := exec.Command("/proc/self/exe", args...)
		cmd.Stdout, cmd.Stderr = os.Stdout, os.Stderr
		err := cmd.Run()
		fmt.Fprintln(os.Stderr, "memhog parent: child ended:", err)
		// The parent survives its child's OOM kill; exit non-zero like a
		// connector whose worker died.
		if err != nil {
			os.Exit(1)
		}
		return
	}
	fmt.Printf(`{"type":"SCHEMA","stream":%q,"schema":{"type":"object"},"key_properties":["n"]}`+"\n", *stream)
	var keep [][]byte
	for n := 1; n*(*step) <= *mib; n++ {
		b := make([]byte, *step<<20)
		for i := 0; i < len(b); i += 4096 {
			b[i] = byte(n)
		}
		keep = append(keep, b)
		fmt.Printf(`{"type":"RECORD","stream":%q,"record":{"n":%d,"mib":%d}}`+"\n", *stream, n, n*(*step))
		if n%*stateEvery == 0 {
			fmt.Printf(`{"type":"STATE","value":{"bookmarks":{%q:{"n":%d}}}}`+"\n", *stream, n)
		}
		time.Sleep(*delay)
	}
	time.Sleep(*hold)
	fmt.Fprintf(os.Stderr, "memhog: held %d MiB\n", len(keep)*(*step))
}
