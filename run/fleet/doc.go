// Package fleet is what syncbox runners on many machines share through
// PostgreSQL: the run history (so a forecast learned on one machine serves
// the others), each connector's checkpoint per tenant and name, and the
// one-run-per-connector-and-tenant lock.
//
// The lock is a session-level advisory lock on a connection of its own,
// so it dies with its runner or with the connection; every acquisition
// also advances a fencing token, and a checkpoint is written only by the
// session that holds the lock and only under the current token. A runner
// that lost its lock therefore cannot move the checkpoint.
//
// The schema lives in the "syncbox" schema and is created and migrated by
// golang-migrate from the versioned files in migrations/. The package must
// not decide anything about limits, budgets or exit codes: the machine-wide
// memory budget stays local to each machine (package budget).
package fleet
