//! One update through the engine and back: Telegram updates become engine events, the engine's
//! replies become Bot API calls (messages split at 4096, inline keyboards, every button press
//! answered, invoices, refunds). A generation runs as a tracked task outside the user's lane
//! (the user can still press buttons and send commands), shows "typing…" until its letter is
//! sent, and the letter stays in the outbox until Telegram took it.

use std::time::Duration;

use serde_json::Value;
use tracing::Instrument;

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
use crate::sandbox::Extractor;
use crate::split::{split_html, MESSAGE_LIMIT};
use crate::tasks::Tasks;
use crate::typing::{Typing, REFRESH};
use store::delivery::{self, UpdateId};

/// Telegram waits 10 s for a pre-checkout answer; the engine gets most of that.
const PRE_CHECKOUT_BUDGET: Duration = Duration::from_secs(8);

/// What became of an update.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    /// Handled; its replies (kept under this outbox id, if any) were sent.
    Done(Option<String>),
    /// Not handled: the database failed under it (a payment); handle it again later.
    Retry,
}

/// The bot: the Bot API client, the engine, and the generations being written.
#[derive(Clone)]
pub struct App {
    bot: Bot,
    engine: Engine,
    generations: Tasks,
    extractor: Extractor,
}

impl App {
    pub fn new(bot: Bot, engine: Engine, extractor: Extractor) -> Self {
        Self {
            bot,
            engine,
            generations: Tasks::default(),
            extractor,
        }
    }

    pub fn engine(&self) -> &Engine {
        &self.engine
    }

    /// Generations being written (shutdown waits for them).
    pub fn generations(&self) -> &Tasks {
        &self.generations
    }

    /// Handles one update and records the outcome in the inbox. Never panics on input. Returns
    /// the later updates of the same user that waited for this one (another replica recorded
    /// them meanwhile), now this replica's: they go into the same lane, behind it.
    pub async fn handle_and_settle(&self, update: Update) -> Vec<(UpdateId, Value)> {
        let id = UpdateId::new(i64::from(update.id.0));
        async {
            let outcome = self.handle(update).await;
            self.settle(id, outcome).await
        }
        .instrument(crate::transport::update_span(id))
        .await
    }

    /// Records in the inbox that the update is done (or to be retried); returns the updates that
    /// waited for it (see [`handle_and_settle`](Self::handle_and_settle)).
    pub async fn settle(&self, id: UpdateId, outcome: Outcome) -> Vec<(UpdateId, Value)> {
        for attempt in 1..=5u64 {
            let written = async {
                let mut conn = self.engine.pool().acquire().await?;
                match &outcome {
                    Outcome::Done(outbox) => {
                        let owner = self.engine.owner();
                        delivery::update_done(&mut conn, id, outbox.as_deref(), owner).await
                    }
                    Outcome::Retry => {
                        let wait = Duration::from_secs(2);
                        delivery::update_retry_later(&mut conn, id, wait)
                            .await
                            .map(|()| Vec::new())
                    }
                }
            }
            .await;
            match written {
                Ok(next) => return next,
                Err(e) => {
                    tracing::warn!(update = id.get(), error = %e, "update outcome not recorded yet");
                    tokio::time::sleep(Duration::from_millis(200 * attempt)).await;
                }
            }
        }
        // The row stays this replica's; the next start takes it over (its replies are kept).
        tracing::error!(update = id.get(), "update outcome not recorded");
        Vec::new()
    }

    /// Handles one update; a generation it starts goes on as a tracked task.
    pub async fn handle(&self, update: Update) -> Outcome {
        let event_id = EventId::telegram_update(i64::from(update.id.0));
        match update.kind {
            UpdateKind::Message(msg) => self.message(event_id, msg).await,
            UpdateKind::CallbackQuery(q) => self.button(event_id, q).await,
            UpdateKind::PreCheckoutQuery(q) => {
                self.pre_checkout(q).await;
                Outcome::Done(None)
            }
            // Not asked for (see `transport::allowed_updates`); nothing to do.
            _ => Outcome::Done(None),
        }
    }

    async fn message(&self, event_id: EventId, msg: Message) -> Outcome {
        // A private-chat bot: groups and channels it may have been added to get nothing.
        if !msg.chat.is_private() {
            return Outcome::Done(None);
        }
        let Some(from) = msg.from.as_ref().filter(|u| !u.is_bot).and_then(profile) else {
            return Outcome::Done(None);
        };
        let chat = msg.chat.id;
        if let Some(p) = msg.successful_payment() {
            let payment = bot::SuccessfulPayment {
                event_id: event_id.clone(),
                from,
                currency: p.currency.clone(),
                total_amount: i64::from(p.total_amount),
                payload: p.invoice_payload.clone(),
                telegram_payment_charge_id: p.telegram_payment_charge_id.0.clone(),
                provider_payment_charge_id: Some(p.provider_payment_charge_id.clone())
                    .filter(|s| !s.is_empty()),
            };
            let charge = payment.telegram_payment_charge_id.clone();
            let replies = self.engine.payment_succeeded(payment).await;
            if replies.signals.contains(&Signal::Unavailable) {
                tracing::warn!(charge_id = %charge, "payment to be recorded on a later attempt");
                return Outcome::Retry;
            }
            let outbox = replies.outbox.clone();
            self.deliver(chat, replies, None).await;
            return Outcome::Done(outbox);
        }
        let kind = if let Some(text) = msg.text() {
            EventKind::Text(text.to_string())
        } else if let Some(doc) = msg.document() {
            self.document(doc).await
        } else {
            EventKind::Unsupported(media_of(&msg))
        };
        let event = Event {
            id: event_id.clone(),
            from,
            kind,
        };
        self.run(chat, event, None).await
    }

    async fn button(&self, event_id: EventId, q: CallbackQuery) -> Outcome {
        let Some(from) = profile(&q.from) else {
            self.answer_button(q.id, None).await;
            return Outcome::Done(None);
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
                    id: event_id.clone(),
                    from,
                    kind: EventKind::Button { data },
                };
                self.run(chat, event, Some(q.id)).await
            }
            None => {
                self.answer_button(q.id, None).await;
                Outcome::Done(None)
            }
        }
    }

    /// An event through the engine. A generation it starts goes on in a tracked task, with
    /// "typing…" shown from the progress message to the letter; the update is done once the
    /// progress message is out.
    async fn run(&self, chat: ChatId, event: Event, callback: Option<CallbackQueryId>) -> Outcome {
        match self.engine.handle(event).await {
            Step::Done(replies) => {
                let outbox = replies.outbox.clone();
                self.deliver(chat, replies, callback).await;
                Outcome::Done(outbox)
            }
            Step::Generating(pending) => {
                let outbox = pending.progress.outbox.clone();
                let typing = self.typing(chat);
                self.deliver(chat, pending.progress.clone(), callback).await;
                let app = self.clone();
                self.generations.spawn(async move {
                    let replies = app.engine.complete(pending).await;
                    typing.stop().await;
                    app.deliver_kept(chat, replies).await;
                });
                Outcome::Done(outbox)
            }
        }
    }

    /// Sends replies kept in the outbox (a letter, a notice) and records whether Telegram took
    /// them; what it did not take goes out with the answer to the user's next message.
    pub async fn deliver_kept(&self, chat: ChatId, replies: Replies) {
        let outbox = replies.outbox.clone();
        let sent = self.deliver(chat, replies, None).await;
        let Some(id) = outbox else { return };
        let recorded = if sent {
            self.engine.delivered(&id).await
        } else {
            tracing::warn!("a letter was not delivered; it is kept for the user's next message");
            self.engine.undelivered(&id).await
        };
        if let Err(e) = recorded {
            tracing::warn!(error = %e, "delivery not recorded; the letter may be sent again");
        }
    }

    /// Takes over what dead replicas left: interrupted generations (the user is told and gets
    /// the letter back) and letters they stored but did not send.
    pub async fn take_over(&self) {
        let found = match self.engine.recover_dead_generations().await {
            Ok(mut list) => match self.engine.orphaned_replies().await {
                Ok(more) => {
                    list.extend(more);
                    list
                }
                Err(e) => {
                    tracing::warn!(error = %e, "orphaned letters not looked for");
                    list
                }
            },
            Err(e) => {
                tracing::warn!(error = %e, "interrupted generations not looked for");
                return;
            }
        };
        for orphan in found {
            let app = self.clone();
            self.generations.spawn(async move {
                app.deliver_kept(ChatId(orphan.chat.get()), orphan.replies)
                    .await;
            });
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
    /// messages, then invoices and refunds. False when a message did not get through.
    async fn deliver(
        &self,
        chat: ChatId,
        replies: Replies,
        callback: Option<CallbackQueryId>,
    ) -> bool {
        if let Some(id) = callback {
            self.answer_button(id, replies.button_answer.clone()).await;
        }
        let mut all = true;
        for m in &replies.messages {
            if let Err(e) = self.send(chat, m).await {
                tracing::warn!(error = %describe(&e), "a reply was not delivered");
                all = false;
                if matches!(e, RequestError::Api(teloxide::ApiError::BotBlocked)) {
                    return false;
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
                Signal::RefundStars {
                    user,
                    charge_id,
                    lang,
                } => self.refund(chat, user, charge_id, lang).await,
                Signal::GenerationStarted | Signal::Unavailable => {}
            }
        }
        all
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
        tracing::info!(parts = last + 1, "message sent");
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

    async fn refund(&self, chat: ChatId, user: TelegramUserId, charge_id: String, lang: Lang) {
        let Ok(uid) = u64::try_from(user.get()) else {
            return;
        };
        let req = self.bot.refund_star_payment(
            teloxide::types::UserId(uid),
            TelegramTransactionId(charge_id.clone()),
        );
        let outcome = match retry::send(req).await {
            Ok(_) => Ok(()),
            // Refunded before (our record of it failed then): finish the record now.
            Err(e) if retry::already_refunded(&e) => {
                tracing::info!(charge_id = %charge_id, "Telegram says the payment is already refunded");
                Ok(())
            }
            Err(e) => Err(e),
        };
        match outcome {
            Ok(()) => {
                // Only messages come back for the admin; no signals to act on.
                let replies = self.engine.refund_completed(&charge_id, lang).await;
                for m in &replies.messages {
                    if let Err(e) = self.send(chat, m).await {
                        tracing::warn!(error = %describe(&e), "refund confirmation not delivered");
                    }
                }
            }
            Err(e) => {
                tracing::warn!(charge_id = %charge_id, error = %describe(&e), "refund refused by Telegram");
                let text = bot::texts::refund_refused(lang, &charge_id, &describe(&e));
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
                    Err(_) => Err(bot::texts::payment_check_busy(lang)),
                }
            }
            None => Err(bot::texts::payment_check_busy(lang)),
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
        // In a child process within a memory and time budget (see `sandbox`): a hostile file
        // can cost that child, never the bot.
        match self.extractor.extract(kind, bytes).await {
            Ok(text) => EventKind::Document {
                file_name: doc.file_name.clone().unwrap_or_default(),
                text,
            },
            Err(e) => {
                // The reason only: a parser's message can quote the document.
                tracing::info!(reason = e.reason(), "document text not extracted");
                EventKind::Unsupported(Media::UnreadableDocument)
            }
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
