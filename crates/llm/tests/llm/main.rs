//! Integration tests of the LLM client against a local chat-completions double.

mod client;
mod double;
mod offline;
