// Command syncbox runs one data-pipeline connector invocation inside its own
// Linux container, scans its record stream and reports on its memory.
package main

import (
	"os"

	"github.com/opencontainers/runc/libcontainer"
	// nsenter's cgo constructor runs before the Go runtime in the re-executed
	// "init" child and joins the namespaces libcontainer prepared.
	_ "github.com/opencontainers/runc/libcontainer/nsenter"

	"syncbox/cmd"
	"syncbox/run/container"
)

func init() {
	// libcontainer re-executes this binary as "syncbox init" inside the new
	// namespaces; that path must reach Init before anything else runs.
	if len(os.Args) > 1 && os.Args[1] == "init" {
		container.PrepareInit()
		libcontainer.Init()
	}
}

func main() {
	os.Exit(cmd.Main(os.Args))
}
