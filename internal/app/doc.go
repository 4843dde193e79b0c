// Package app assembles one Sluice instance from a Config: the ClickHouse client and
// its migrations, the consumer group, the dead-letter producer and the pipeline, and
// runs it until its context is done. `sluice run`, `sluice demo` and the end-to-end
// tests all start instances through it, so they exercise the same wiring.
//
// New serves the admin endpoints (package admin) before it connects to anything, so
// that /healthz answers and /readyz says what start-up waits for from the first
// second.
//
// The event types an instance runs come from EventTypes: the documents of
// SLUICE_SCHEMA_DIR, or the built-in payments and shipments. Their tables are
// brought up to date by Plan (schemas.Evolve against system.columns: ALTER TABLE …
// ADD COLUMN for compatible changes, a SchemaChangeError for the others, then the
// idempotent CREATE set of Migrations), at `sluice migrate` and at start.
//
// An Instance is started once with Run, which owns every goroutine it starts (the
// lag and group-member polls among them) and returns only after they stopped;
// Stats and Assigned are safe to call concurrently.
package app
