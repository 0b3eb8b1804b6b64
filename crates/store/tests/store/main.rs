//! Integration tests of the product's SQL, each on a fresh database of the test cluster.

mod analytics;
mod commit_note;
mod contract;
mod conversation;
mod funnel;
mod locks;
mod quota;
