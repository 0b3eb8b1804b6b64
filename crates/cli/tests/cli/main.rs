//! Integration tests of the `soprovod` binary, run as a process the way operators run it.

mod analytics;
mod blockers;
mod chat;
mod check_renderings;
mod documents;
mod embedded_db;
mod errors;
mod kill_nine;
mod online;
mod readme;
mod report;
mod schema_engine;
mod scope;
mod serve;
mod startup;
mod support;
#[cfg(legacy_corpus)]
mod takeover;
#[cfg(legacy_corpus)]
mod takeover_apply;
#[cfg(legacy_corpus)]
mod takeover_values;
