//! Integration tests of the conversation engine against a real PostgreSQL (testkit) and a local
//! chat-completions double.

mod support;

mod busy_database;
mod commands;
mod conversation;
mod input;
mod llm_failures;
mod logs;
mod offline;
mod payments;
mod quota;
mod traps;
