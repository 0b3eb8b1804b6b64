//! Integration tests of the schema engine against a real PostgreSQL.

mod support;

mod types;

mod aggregates_statistics;
mod check_renderings;
mod default_privileges;
mod dependent_views;
mod directives;
mod domains;
mod drift;
mod keyed_steps;
mod kinds;
mod live_writers;
mod lock_timeout;
mod online;
mod online_retype;
mod ordering;
mod partitions;
mod safety_nets;
mod scope;
mod signatures;
mod target_loading;
// Built only where the peer corpus exists (see build.rs).
#[cfg(peer_corpus)]
mod peer_suite;
mod preflight;
mod unmodelled;
