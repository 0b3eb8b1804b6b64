//! Doubles of the services the bot talks to, on 127.0.0.1 and speaking their real wire format:
//! the Telegram Bot API (`bot_api`) and an OpenAI-compatible chat-completions endpoint (`llm`).
//! Behind the `doubles` feature, so crates that only need a database do not build axum.

pub mod bot_api;
pub mod llm;
pub mod texts;
