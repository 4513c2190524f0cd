package cmd

import (
	"os"

	"syncbox/limits/history"
	"syncbox/run/container"
)

// Where syncbox keeps its files. Resolved here, once, from the environment:
// packages run and limits take directories as arguments and read no
// environment of their own.

// homeDir is SYNCBOX_HOME: the history, budget ledger, locks and tenant
// dirs (default /var/lib/syncbox).
func homeDir() string {
	if h := os.Getenv("SYNCBOX_HOME"); h != "" {
		return h
	}
	return history.DefaultHome
}

// runPaths is SYNCBOX_RUN_DIR: per-run state (default /run/syncbox, a
// tmpfs on most hosts, so a reboot leaves nothing behind).
func runPaths() container.Paths {
	return container.Paths{Root: os.Getenv("SYNCBOX_RUN_DIR")}
}
