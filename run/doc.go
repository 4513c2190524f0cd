// Package run is syncbox's mechanism: it runs one connector invocation in
// its own container (package container), streams its stdout through the
// record scanner (package stream), samples its cgroup (packages cgroup and
// cgstats) and produces the run report (package report).
//
// It takes plain option structs and never parses flags: the CLI surface is
// package cmd; the policy (sizes, forecasts, budgets) is package limits.
package run
