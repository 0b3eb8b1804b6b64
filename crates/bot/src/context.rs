//! What every part of the engine works with (the pool, the writer, the settings, the clock, this
//! replica's key), shared by the conversation, the payments and the delivery code, so none of them
//! has to reach into another.

use std::sync::Arc;

use chrono::{DateTime, Utc};
use domain::{Clock, TelegramUserId};
use sqlx::PgPool;

use crate::config::Config;
use crate::event::Lang;
use crate::reply::{Replies, Signal};
use crate::texts;

pub(crate) struct Context {
    pub(crate) pool: PgPool,
    pub(crate) writer: llm::Writer,
    pub(crate) config: Config,
    pub(crate) clock: Arc<dyn Clock>,
    /// This replica's key on the rows it works on (see `store::delivery`).
    pub(crate) owner: store::delivery::Owner,
}

impl Context {
    pub(crate) fn now(&self) -> DateTime<Utc> {
        self.clock.now()
    }
}

/// Where a generation's letter goes when it is not given to the caller directly.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Destination {
    /// The Telegram chat, when the event came from a transport that re-delivers.
    pub chat: Option<TelegramUserId>,
}

/// The "try again later" reply (a button press is answered too, so its spinner stops).
pub(crate) fn unavailable(lang: Lang, button: bool) -> Replies {
    let mut r = Replies::default();
    r.say(texts::unavailable(lang));
    r.signals.push(Signal::Unavailable);
    if button {
        r.button_answer = Some(String::new());
    }
    r
}
