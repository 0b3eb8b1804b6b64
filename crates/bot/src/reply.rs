//! What comes out of the engine: messages in Telegram HTML with inline buttons, and signals for
//! the transport (typing, invoices, refunds, button answers).

use domain::TelegramUserId;
use serde::{Deserialize, Serialize};

use crate::event::Lang;

/// An inline button; `data` is at most 64 bytes (Telegram's limit for callback data).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Button {
    pub label: String,
    pub data: String,
}

/// One message to send.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct OutMessage {
    /// Telegram HTML; every piece of user or model text in it is escaped.
    pub html: String,
    /// Rows of inline buttons.
    pub buttons: Vec<Vec<Button>>,
    /// The body is a letter (escaped model text only, no tags): the transport may split it on
    /// paragraph boundaries if it is too long (Telegram's adapter: `telegram::split_html`).
    pub letter: bool,
}

/// A Telegram Stars invoice to send.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Invoice {
    pub title: String,
    pub description: String,
    /// Names the user and the price; checked again at pre-checkout.
    pub payload: String,
    /// Always "XTR".
    pub currency: String,
    pub amount_stars: u32,
}

/// Something the transport does besides sending messages.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum Signal {
    /// A generation started: show "typing…" until the letter is sent.
    GenerationStarted,
    SendInvoice(Invoice),
    /// An admin asked to refund this Stars payment: call the Bot API, then
    /// [`crate::Engine::refund_completed`].
    RefundStars {
        user: TelegramUserId,
        charge_id: String,
        /// The admin's language, for the messages about the refund.
        #[serde(default)]
        lang: Lang,
    },
    /// The database is unreachable; the reply says to try again later.
    Unavailable,
}

/// Everything to do in answer to one event.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct Replies {
    pub messages: Vec<OutMessage>,
    pub signals: Vec<Signal>,
    /// For a button press: the text of the callback answer (empty = answer without a text). The
    /// transport must answer every press, even when this is None.
    pub button_answer: Option<String>,
    /// Where these replies are kept until sent: once Telegram took them, the transport calls
    /// [`crate::Engine::delivered`] with it (or [`crate::Engine::undelivered`]).
    #[serde(skip)]
    pub outbox: Option<String>,
}

impl Replies {
    pub fn say(&mut self, html: impl Into<String>) -> &mut OutMessage {
        self.messages.push(OutMessage {
            html: html.into(),
            ..Default::default()
        });
        self.messages.last_mut().expect("just pushed")
    }

    /// All message texts joined, for tests and the terminal.
    pub fn text(&self) -> String {
        self.messages
            .iter()
            .map(|m| m.html.as_str())
            .collect::<Vec<_>>()
            .join("\n")
    }

    /// Every button of every message, in order.
    pub fn buttons(&self) -> Vec<&Button> {
        self.messages
            .iter()
            .flat_map(|m| m.buttons.iter().flatten())
            .collect()
    }
}

/// The text a reader sees in a message of ours: tags dropped, the entities `escape_html` makes undone.
/// For plain-text surfaces (a terminal, Telegram's callback answers).
pub fn plain_text(html: &str) -> String {
    let mut out = String::with_capacity(html.len());
    let mut in_tag = false;
    for c in html.chars() {
        match c {
            '<' => in_tag = true,
            '>' if in_tag => in_tag = false,
            _ if !in_tag => out.push(c),
            _ => {}
        }
    }
    html_escape::decode_html_entities(&out).into_owned()
}

/// Escapes text for Telegram HTML.
pub fn escape_html(text: &str) -> String {
    // `&`, `<`, `>` and `"` as `&amp;`, `&lt;`, `&gt;`, `&quot;`: the named entities Telegram knows.
    html_escape::encode_double_quoted_attribute(text).into_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn plain_text_drops_tags_and_undoes_escaping() {
        assert_eq!(
            plain_text("<b>Шаг 1</b> R&amp;D &lt;x&gt; &quot;q&quot;"),
            "Шаг 1 R&D <x> \"q\""
        );
        assert_eq!(plain_text(&escape_html("a < b & \"c\"")), "a < b & \"c\"");
    }

    #[test]
    fn html_special_characters_are_escaped() {
        assert_eq!(
            escape_html("<b>R&D</b> \"x\""),
            "&lt;b&gt;R&amp;D&lt;/b&gt; &quot;x&quot;"
        );
    }
}
