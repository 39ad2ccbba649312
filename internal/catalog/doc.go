// Package catalog is the DMA's record of agents, backups (with their
// environment, dump date tokens and tape locations), the files of every
// backup from NDMP file history, media, jobs and job logs.
//
// Two backends implement the Catalog interface with one schema, applied
// by versioned goose migrations embedded in the binary: SQLite
// (modernc.org/sqlite, pure Go; STATE/catalog.db in WAL mode with a busy
// timeout, so several ferry processes share it) and PostgreSQL (a DSN,
// for several DMAs). Package catalogtest is the conformance suite both
// pass.
//
// File history goes in through an Ingester: a bounded queue of batches
// drained by one writer goroutine into big transactions (multi-row
// INSERTs on SQLite, COPY on PostgreSQL), so the NDMP connection that
// delivers the history does not wait for the database.
//
// docs/catalog.md describes the schema and the query plans.
package catalog
