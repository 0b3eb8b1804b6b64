//! The Telegram adapter over the conversation engine: the only crate that imports teloxide.
