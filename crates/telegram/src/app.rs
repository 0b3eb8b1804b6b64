//! One update through the engine and back: Telegram updates become engine events, the engine's
//! replies become Bot API calls (messages split at 4096, inline keyboards, every button press
//! answered, invoices, refunds), and a generation shows "typing…" until its letter is sent.

use std::time::Duration;

use bot::{
    Engine, Event, EventId, EventKind, Lang, Media, OutMessage, PreCheckout, Profile, Replies,
    Signal, Step,
};
use domain::TelegramUserId;
use teloxide::payloads::{
    AnswerCallbackQuerySetters, AnswerPreCheckoutQuerySetters, SendMessageSetters,
};
use teloxide::requests::Requester;
use teloxide::types::{
    CallbackQuery, CallbackQueryId, ChatAction, ChatId, Document, InlineKeyboardButton,
    InlineKeyboardMarkup, LabeledPrice, LinkPreviewOptions, Message, ParseMode, PreCheckoutQuery,
    TelegramTransactionId, Update, UpdateKind, User,
};
use teloxide::{Bot, RequestError};

use crate::documents::{self, DocumentKind};
use crate::retry::{self, describe};
use crate::split::{split_html, MESSAGE_LIMIT};
use crate::typing::{Typing, REFRESH};

/// Telegram waits 10 s for a pre-checkout answer; the engine gets most of that.
const PRE_CHECKOUT_BUDGET: Duration = Duration::from_secs(8);

/// The bot: the Bot API client and the engine.
#[derive(Clone)]
pub struct App {
    bot: Bot,
    engine: Engine,
}

impl App {
    pub fn new(bot: Bot, engine: Engine) -> Self {
        Self { bot, engine }
    }

    pub fn engine(&self) -> &Engine {
        &self.engine
    }

    /// Handles one update to the end, including a generation it starts. Never panics on input.
    pub async fn handle(&self, update: Update) {
        let update_id = i64::from(update.id.0);
        match update.kind {
            UpdateKind::Message(msg) => self.message(update_id, msg).await,
            UpdateKind::CallbackQuery(q) => self.button(update_id, q).await,
            UpdateKind::PreCheckoutQuery(q) => self.pre_checkout(q).await,
            // Not asked for (see `transport::allowed_updates`); nothing to do.
            _ => {}
        }
    }

    async fn message(&self, update_id: i64, msg: Message) {
        // A private-chat bot: groups and channels it may have been added to get nothing.
        if !msg.chat.is_private() {
            return;
        }
        let Some(from) = msg.from.as_ref().filter(|u| !u.is_bot).and_then(profile) else {
            return;
        };
        let chat = msg.chat.id;
        if let Some(p) = msg.successful_payment() {
            let payment = bot::SuccessfulPayment {
                event_id: EventId::telegram_update(update_id),
                from,
                currency: p.currency.clone(),
                total_amount: i64::from(p.total_amount),
                payload: p.invoice_payload.clone(),
                telegram_payment_charge_id: p.telegram_payment_charge_id.0.clone(),
                provider_payment_charge_id: Some(p.provider_payment_charge_id.clone())
                    .filter(|s| !s.is_empty()),
            };
            let replies = self.engine.payment_succeeded(payment).await;
            self.deliver(chat, replies, None).await;
            return;
        }
        let kind = if let Some(text) = msg.text() {
            EventKind::Text(text.to_string())
        } else if let Some(doc) = msg.document() {
            self.document(doc).await
        } else {
            EventKind::Unsupported(media_of(&msg))
        };
        let event = Event {
            id: EventId::telegram_update(update_id),
            from,
            kind,
        };
        self.run(chat, event, None).await;
    }

    async fn button(&self, update_id: i64, q: CallbackQuery) {
        let Some(from) = profile(&q.from) else {
            self.answer_button(q.id, None).await;
            return;
        };
        // Buttons only exist in the private chat with the user, whose id is the chat's id.
        let chat = q
            .message
            .as_ref()
            .map(|m| m.chat().id)
            .unwrap_or(ChatId(from.telegram_id.get()));
        match q.data {
            Some(data) => {
                let event = Event {
                    id: EventId::telegram_update(update_id),
                    from,
                    kind: EventKind::Button { data },
                };
                self.run(chat, event, Some(q.id)).await;
            }
            None => self.answer_button(q.id, None).await,
        }
    }

    /// An event through the engine; a generation it starts is completed here, with "typing…"
    /// shown from the progress message to the letter.
    async fn run(&self, chat: ChatId, event: Event, callback: Option<CallbackQueryId>) {
        match self.engine.handle(event).await {
            Step::Done(replies) => self.deliver(chat, replies, callback).await,
            Step::Generating(pending) => {
                let typing = self.typing(chat);
                self.deliver(chat, pending.progress.clone(), callback).await;
                let replies = self.engine.complete(pending).await;
                typing.stop().await;
                self.deliver(chat, replies, None).await;
            }
        }
    }

    fn typing(&self, chat: ChatId) -> Typing {
        let bot = self.bot.clone();
        Typing::start(REFRESH, move || {
            let bot = bot.clone();
            async move {
                // One try: a late or lost indicator is not worth delaying the letter for.
                if let Err(e) = bot.send_chat_action(chat, ChatAction::Typing).await {
                    tracing::debug!(error = %describe(&e), "typing indicator not sent");
                }
            }
        })
    }

    /// Sends what the engine answered: the button answer first (it stops the spinner), then the
    /// messages, then invoices and refunds.
    async fn deliver(&self, chat: ChatId, replies: Replies, callback: Option<CallbackQueryId>) {
        if let Some(id) = callback {
            self.answer_button(id, replies.button_answer.clone()).await;
        }
        for m in &replies.messages {
            if let Err(e) = self.send(chat, m).await {
                tracing::warn!(error = %describe(&e), "a reply was not delivered");
                if matches!(e, RequestError::Api(teloxide::ApiError::BotBlocked)) {
                    return;
                }
            }
        }
        for signal in replies.signals {
            match signal {
                Signal::SendInvoice(invoice) => {
                    let prices = vec![LabeledPrice {
                        label: invoice.title.clone(),
                        amount: invoice.amount_stars,
                    }];
                    // Stars: currency XTR and no provider token.
                    let req = self.bot.send_invoice(
                        chat,
                        invoice.title,
                        invoice.description,
                        invoice.payload,
                        invoice.currency,
                        prices,
                    );
                    if let Err(e) = retry::send(req).await {
                        tracing::warn!(error = %describe(&e), "invoice not sent");
                    }
                }
                Signal::RefundStars { user, charge_id } => self.refund(chat, user, charge_id).await,
                Signal::GenerationStarted | Signal::Unavailable => {}
            }
        }
    }

    async fn send(&self, chat: ChatId, m: &OutMessage) -> Result<(), RequestError> {
        if m.html.trim().is_empty() {
            return Ok(());
        }
        let parts = split_html(&m.html, MESSAGE_LIMIT);
        let last = parts.len() - 1;
        for (i, part) in parts.into_iter().enumerate() {
            let mut req = self
                .bot
                .send_message(chat, part)
                .parse_mode(ParseMode::Html)
                .link_preview_options(no_preview());
            if i == last && !m.buttons.is_empty() {
                req = req.reply_markup(keyboard(&m.buttons));
            }
            retry::send(req).await?;
        }
        Ok(())
    }

    async fn answer_button(&self, id: CallbackQueryId, text: Option<String>) {
        let mut req = self.bot.answer_callback_query(id);
        if let Some(t) = text.filter(|t| !t.is_empty()) {
            req = req.text(bot::plain_text(&t));
        }
        if let Err(e) = retry::send(req).await {
            tracing::debug!(error = %describe(&e), "button press not answered");
        }
    }

    async fn refund(&self, chat: ChatId, user: TelegramUserId, charge_id: String) {
        let Ok(uid) = u64::try_from(user.get()) else {
            return;
        };
        let req = self.bot.refund_star_payment(
            teloxide::types::UserId(uid),
            TelegramTransactionId(charge_id.clone()),
        );
        match retry::send(req).await {
            Ok(_) => {
                // Only messages come back for the admin; no signals to act on.
                let replies = self.engine.refund_completed(&charge_id).await;
                for m in &replies.messages {
                    if let Err(e) = self.send(chat, m).await {
                        tracing::warn!(error = %describe(&e), "refund confirmation not delivered");
                    }
                }
            }
            Err(e) => {
                let text = format!(
                    "Telegram did not refund {}: {}",
                    bot::escape_html(&charge_id),
                    bot::escape_html(&describe(&e))
                );
                let _ = self
                    .send(
                        chat,
                        &OutMessage {
                            html: text,
                            ..Default::default()
                        },
                    )
                    .await;
            }
        }
    }

    /// Validates within Telegram's 10 s; a slow or failed check refuses (never accepts blindly).
    async fn pre_checkout(&self, q: PreCheckoutQuery) {
        let lang = Lang::from_code(q.from.language_code.as_deref());
        let verdict = match telegram_id(&q.from) {
            Some(from) => {
                let check = PreCheckout {
                    from,
                    language_code: q.from.language_code.clone(),
                    currency: q.currency.clone(),
                    total_amount: i64::from(q.total_amount),
                    payload: q.invoice_payload.clone(),
                };
                match tokio::time::timeout(PRE_CHECKOUT_BUDGET, self.engine.pre_checkout(&check))
                    .await
                {
                    Ok(Ok(())) => Ok(()),
                    Ok(Err(refusal)) => Err(bot::plain_text(&refusal.message)),
                    Err(_) => Err(busy(lang).to_string()),
                }
            }
            None => Err(busy(lang).to_string()),
        };
        let req = match verdict {
            Ok(()) => self.bot.answer_pre_checkout_query(q.id, true),
            Err(message) => self
                .bot
                .answer_pre_checkout_query(q.id, false)
                .error_message(message),
        };
        if let Err(e) = retry::send(req).await {
            tracing::warn!(error = %describe(&e), "pre-checkout not answered");
        }
    }

    /// A resume document: its text if it is a readable .txt/.pdf/.docx of at most 5 MB,
    /// otherwise an unsupported document (the engine answers with what it accepts).
    async fn document(&self, doc: &Document) -> EventKind {
        let mime = doc.mime_type.as_ref().map(|m| m.essence_str().to_string());
        let unsupported = EventKind::Unsupported(Media::Document);
        let kind = match DocumentKind::detect(doc.file_name.as_deref(), mime.as_deref()) {
            Ok(k) => k,
            Err(_) => return unsupported,
        };
        if doc.file.size as usize > documents::MAX_DOCUMENT_BYTES {
            return unsupported;
        }
        let bytes = match self.download(&doc.file.id.0).await {
            Ok(b) => b,
            Err(e) => {
                tracing::warn!(error = %e, "document not downloaded");
                return unsupported;
            }
        };
        match tokio::task::spawn_blocking(move || documents::extract_text(kind, &bytes)).await {
            Ok(Ok(text)) => EventKind::Document {
                file_name: doc.file_name.clone().unwrap_or_default(),
                text,
            },
            Ok(Err(e)) => {
                tracing::info!(error = %e, "document text not extracted");
                unsupported
            }
            Err(_) => unsupported,
        }
    }

    /// getFile, then the file itself, refusing anything over the size limit while reading.
    async fn download(&self, file_id: &str) -> Result<Vec<u8>, String> {
        let file = retry::send(
            self.bot
                .get_file(teloxide::types::FileId(file_id.to_string())),
        )
        .await
        .map_err(|e| describe(&e))?;
        if file.meta.size as usize > documents::MAX_DOCUMENT_BYTES {
            return Err("over the size limit".into());
        }
        let mut url = self.bot.api_url();
        {
            let mut segments = url
                .path_segments_mut()
                .map_err(|_| "the API URL cannot take a path".to_string())?;
            segments
                .pop_if_empty()
                .push("file")
                .push(&format!("bot{}", self.bot.token()));
            for part in file.path.split('/').filter(|p| !p.is_empty()) {
                segments.push(part);
            }
        }
        let mut response = self
            .bot
            .client()
            .get(url)
            .send()
            .await
            .map_err(|e| retry::describe_reqwest(&e))?;
        if !response.status().is_success() {
            return Err(format!("file download answered {}", response.status()));
        }
        let mut bytes = Vec::new();
        while let Some(chunk) = response
            .chunk()
            .await
            .map_err(|e| retry::describe_reqwest(&e))?
        {
            bytes.extend_from_slice(&chunk);
            if bytes.len() > documents::MAX_DOCUMENT_BYTES {
                return Err("over the size limit".into());
            }
        }
        Ok(bytes)
    }
}

fn telegram_id(user: &User) -> Option<TelegramUserId> {
    i64::try_from(user.id.0)
        .ok()
        .and_then(|n| TelegramUserId::parse(n).ok())
}

fn profile(user: &User) -> Option<Profile> {
    Some(Profile {
        telegram_id: telegram_id(user)?,
        username: user.username.clone(),
        first_name: Some(user.first_name.clone()).filter(|n| !n.is_empty()),
        last_name: user.last_name.clone(),
        language_code: user.language_code.clone(),
    })
}

fn media_of(msg: &Message) -> Media {
    if msg.photo().is_some() {
        Media::Photo
    } else if msg.sticker().is_some() {
        Media::Sticker
    } else if msg.voice().is_some() {
        Media::Voice
    } else if msg.video().is_some() || msg.video_note().is_some() || msg.animation().is_some() {
        Media::Video
    } else if msg.audio().is_some() {
        Media::Audio
    } else {
        Media::Other
    }
}

fn keyboard(rows: &[Vec<bot::Button>]) -> InlineKeyboardMarkup {
    InlineKeyboardMarkup::new(rows.iter().map(|row| {
        row.iter()
            // Telegram rejects the whole message over one oversized callback; drop the button.
            .filter(|b| !b.data.is_empty() && b.data.len() <= 64)
            .map(|b| InlineKeyboardButton::callback(b.label.clone(), b.data.clone()))
            .collect::<Vec<_>>()
    }))
}

fn no_preview() -> LinkPreviewOptions {
    LinkPreviewOptions {
        is_disabled: true,
        url: None,
        prefer_small_media: false,
        prefer_large_media: false,
        show_above_text: false,
    }
}

fn busy(lang: Lang) -> &'static str {
    match lang {
        Lang::Ru => "Не получилось проверить оплату. Попробуйте ещё раз через минуту.",
        Lang::En => "The payment could not be checked. Please try again in a minute.",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn oversized_callback_data_never_reaches_telegram() {
        let rows = vec![vec![
            bot::Button {
                label: "ok".into(),
                data: "x".repeat(64),
            },
            bot::Button {
                label: "too long".into(),
                data: "y".repeat(65),
            },
        ]];
        let kb = keyboard(&rows);
        assert_eq!(kb.inline_keyboard[0].len(), 1);
        assert_eq!(kb.inline_keyboard[0][0].text, "ok");
    }
}
