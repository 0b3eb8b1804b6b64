//! The conversation engine: user events in, replies out, all state in PostgreSQL.
//!
//! Transports (Telegram, the terminal chat) turn what users do into [`Event`]s, pass them to
//! [`Engine::handle`], and deliver the [`Replies`]. The engine keeps nothing in memory between
//! events, so any number of engines on one database behave as one.
//!
//! For a transport:
//! - build an [`Event`] per update: a unique [`EventId`] (`EventId::telegram_update`), the sender's
//!   [`Profile`] and an [`EventKind`] (text, command, button data, extracted document text, or
//!   unsupported media);
//! - [`Engine::handle`] returns [`Step::Done`] with the replies, or [`Step::Generating`]: send its
//!   `progress` (it carries [`Signal::GenerationStarted`]: show "typing…"), then await
//!   [`Engine::complete`] and send what it returns;
//! - answer every button press (with `Replies::button_answer`, possibly empty), send
//!   [`Signal::SendInvoice`] as a Stars invoice, and on [`Signal::RefundStars`] refund through the
//!   provider, then call [`Engine::refund_completed`];
//! - payments: [`Engine::pre_checkout`] and [`Engine::payment_succeeded`].

mod callback;
pub mod commands;
pub mod config;
mod context;
mod delivery;
mod engine;
mod error;
pub mod event;
mod payments;
pub mod reply;
pub mod texts;

pub use commands::Command;
pub use config::{Config, ConfigError};
pub use delivery::{Liveness, Orphan, LEASE_RENEWAL};
pub use engine::{Engine, Pending, Step};
pub use error::EngineError;
pub use event::{split_command, Event, EventId, EventKind, Lang, Media, Profile};
pub use payments::{PreCheckout, PreCheckoutRefusal, SuccessfulPayment};
pub use reply::{escape_html, plain_text, Button, Invoice, OutMessage, Replies, Signal};
