//! Integration tests of the LLM client against a local chat-completions double.

mod double;
mod client;
mod offline;
