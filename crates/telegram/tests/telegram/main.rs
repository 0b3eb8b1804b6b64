//! End-to-end tests of the Telegram bot: a fake Bot API and an LLM double on 127.0.0.1, and a
//! real PostgreSQL database per test.

mod conversation;
mod crash;
mod documents;
mod garbage;
mod payments;
mod restart;
mod support;
mod transport;
mod webhook;
