//! Soprovod's domain types: identities, user input, plans and events, with no I/O.
//!
//! Every type here is built by parsing (`X::parse(raw) -> Result<X, XError>`), so code that holds
//! one never has to check it again.

pub mod ids;

pub use ids::{IdError, SessionId, TelegramUserId, UserId};
