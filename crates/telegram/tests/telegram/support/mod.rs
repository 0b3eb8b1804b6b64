//! Test doubles for the services the bot talks to, and the harness that runs the bot on them.

pub mod fake_api;
pub mod llm_double;
