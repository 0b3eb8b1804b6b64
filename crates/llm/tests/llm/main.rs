//! Integration tests of the LLM client against a local chat-completions double, and of the
//! offline composer's letters.

mod client;
mod double;
mod letters;
mod offline;
