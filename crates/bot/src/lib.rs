//! The conversation engine: user events in, replies out, all state in PostgreSQL.
//!
//! Transports (Telegram, the terminal chat) turn what users do into [`Event`]s, pass them to
//! [`Engine::handle`], and deliver the [`Replies`]. The engine keeps nothing in memory between
//! events, so any number of engines on one database behave as one.

mod callback;
pub mod config;
mod engine;
pub mod event;
mod payments;
pub mod reply;
mod texts;

pub use config::{Config, ConfigError};
pub use engine::{Engine, EngineError, Pending, Step};
pub use event::{split_command, Event, EventId, EventKind, Lang, Media, Profile};
pub use payments::{invoice_payload, PreCheckout, PreCheckoutRefusal, SuccessfulPayment};
pub use reply::{escape_html, split_paragraphs, Button, Invoice, OutMessage, Replies, Signal};
