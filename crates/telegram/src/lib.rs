//! The Telegram adapter over the conversation engine: the only crate that imports teloxide.
//!
//! Updates come by long polling or a webhook ([`transport`]), go through per-user lanes
//! ([`lanes`]) to the engine, and the engine's replies go back through the Bot API with flood
//! control obeyed ([`retry`]), long texts split ([`split`]), "typing…" shown during generations
//! ([`typing`]) and resume documents read ([`documents`]) in a child process within a
//! memory and time budget ([`sandbox`]).

pub mod app;
pub mod documents;
pub mod lanes;
pub mod retry;
pub mod sandbox;
pub mod serve;
pub mod shutdown;
pub mod split;
pub mod tasks;
pub mod transport;
pub mod typing;

pub use app::App;
pub use serve::{serve, serve_on, Mode, Options, ServeError};
pub use shutdown::{shutdown_signal, Shutdown};
