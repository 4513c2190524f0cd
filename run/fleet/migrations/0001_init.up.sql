-- Run history: one row per attempt. The indexed columns are what queries
-- select on; entry holds the whole history.Entry, so fields added to it
-- later round-trip without a migration.
CREATE TABLE syncbox.runs (
    id       bigserial   PRIMARY KEY,
    name     text        NOT NULL,
    tenant   text        NOT NULL,
    at       timestamptz NOT NULL,
    run_id   text        NOT NULL,
    attempt  integer     NOT NULL,
    machine  text        NOT NULL,
    entry    jsonb       NOT NULL,
    UNIQUE (name, tenant, run_id, attempt)
);
CREATE INDEX runs_name_tenant_at ON syncbox.runs (name, tenant, at);

-- The run lock's holder and fencing token. The lock itself is an advisory
-- lock held by the session whose pid is backend_pid; this row only says
-- who that is and which token is current.
CREATE TABLE syncbox.run_locks (
    tenant      text        NOT NULL,
    name        text        NOT NULL,
    token       bigint      NOT NULL,
    run_id      text        NOT NULL,
    machine     text        NOT NULL,
    pid         integer     NOT NULL,
    started_at  timestamptz NOT NULL,
    backend_pid integer     NOT NULL,
    PRIMARY KEY (tenant, name)
);

-- Each connector's checkpoint per tenant and name, with the token of the
-- lock it was written under. json, not jsonb: the state is kept exactly as
-- the connector printed it.
CREATE TABLE syncbox.checkpoints (
    tenant   text        NOT NULL,
    name     text        NOT NULL,
    value    json        NOT NULL,
    token    bigint      NOT NULL,
    run_id   text        NOT NULL,
    machine  text        NOT NULL,
    saved_at timestamptz NOT NULL,
    PRIMARY KEY (tenant, name)
);
