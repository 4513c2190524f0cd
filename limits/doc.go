// Package limits holds syncbox's policy: how sizes are read, how much memory
// a connector should get after an OOM, destination size profiles, memory
// forecasts from history, and the machine-wide memory budget (sub-packages).
//
// It decides; it never starts processes or touches cgroups. The mechanism
// that applies these decisions lives in package run.
package limits
