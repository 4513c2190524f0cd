package run

import "context"

// StateStore keeps a connector's checkpoint somewhere other than a local
// --state-file (e.g. a store shared by a fleet, see package fleet). Save
// must return only once the value is durable, and fail if the run may no
// longer write it (its lock was lost). If the store implements
// fmt.Stringer, the report names it as where the state was persisted.
type StateStore interface {
	Load(ctx context.Context) ([]byte, error)
	Save(ctx context.Context, value []byte) error
}
