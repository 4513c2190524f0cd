package fleet

import (
	"context"
	"embed"
	"errors"
	"fmt"

	"github.com/golang-migrate/migrate/v4"
	pgxmigrate "github.com/golang-migrate/migrate/v4/database/pgx/v5"
	"github.com/golang-migrate/migrate/v4/source/iofs"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/stdlib"
)

//go:embed migrations/*.sql
var migrations embed.FS

// schema holds every table of the store, so it can share a database.
const schema = "syncbox"

// schemaLockID serialises the creation of the schema itself: concurrent
// CREATE SCHEMA IF NOT EXISTS can fail with a unique violation, and cron
// starts many runners at once against a fresh database.
const schemaLockID = 0x73796e63626f78 // "syncbox"

// migrateSchema brings the database to the newest schema version. Many
// runners may do this at once: golang-migrate serialises them with an
// advisory lock, and all but the first find nothing to do.
func migrateSchema(ctx context.Context, cfg *pgx.ConnConfig) error {
	conn, err := pgx.ConnectConfig(ctx, cfg)
	if err != nil {
		return fmt.Errorf("connect: %w", err)
	}
	err = pgx.BeginFunc(ctx, conn, func(tx pgx.Tx) error {
		if _, err := tx.Exec(ctx, "SELECT pg_advisory_xact_lock($1)", int64(schemaLockID)); err != nil {
			return err
		}
		_, err := tx.Exec(ctx, "CREATE SCHEMA IF NOT EXISTS "+schema)
		return err
	})
	conn.Close(ctx)
	if err != nil {
		return fmt.Errorf("create schema %s (the store's user needs CREATE on the database): %w", schema, err)
	}

	db := stdlib.OpenDB(*cfg)
	defer db.Close()
	drv, err := pgxmigrate.WithInstance(db, &pgxmigrate.Config{SchemaName: schema, MigrationsTable: "schema_migrations"})
	if err != nil {
		return fmt.Errorf("schema migrations: %w", err)
	}
	src, err := iofs.New(migrations, "migrations")
	if err != nil {
		return fmt.Errorf("schema migrations: %w", err)
	}
	m, err := migrate.NewWithInstance("iofs", src, "pgx5", drv)
	if err != nil {
		return fmt.Errorf("schema migrations: %w", err)
	}
	defer m.Close()
	if err := m.Up(); err != nil && !errors.Is(err, migrate.ErrNoChange) {
		var dirty migrate.ErrDirty
		if errors.As(err, &dirty) {
			return fmt.Errorf("schema %s is at version %d, marked dirty by a migration that failed: fix it by hand and clear the flag in %s.schema_migrations: %w", schema, dirty.Version, schema, err)
		}
		return fmt.Errorf("migrate schema %s: %w", schema, err)
	}
	return nil
}
