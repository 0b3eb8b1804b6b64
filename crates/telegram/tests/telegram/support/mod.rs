//! The harness that runs the bot on the test doubles of `testkit::doubles`, and the readers of
//! what the fake Bot API saw.

#![allow(dead_code)]

pub mod harness;

#[allow(unused_imports)]
pub use testkit::doubles::bot_api::{button, message_containing, sent_to};
