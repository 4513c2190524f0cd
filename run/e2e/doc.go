// Package e2e holds end-to-end tests of syncbox against real systems: a
// PostgreSQL server started by the test on a unix socket, the bundled
// tap-postgres and target-postgres connectors, each in its own container
// under the built syncbox binary, piped together as in production
// (syncbox run -- tap | syncbox run -- target).
//
// The tests need root (containers), the built binaries (make build; found
// through SYNCBOX_BIN and SYNCBOX_CONNECTORS, as make test sets them) and
// PostgreSQL 15's server binaries (Debian's postgresql-15 package, or
// SYNCBOX_PG_BIN). Without them they skip, except in CI (CI set), where
// they fail. -short skips them: they move about a gigabyte of data.
package e2e
