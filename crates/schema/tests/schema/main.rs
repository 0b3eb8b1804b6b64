//! Integration tests of the schema engine against a real PostgreSQL.

mod support;

mod dependent_views;
mod drift;
mod lock_timeout;
mod peer_suite;
