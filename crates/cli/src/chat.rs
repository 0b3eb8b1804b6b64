//! `soprovod chat`: the cover-letter conversation in the terminal, through the same engine and
//! database as the Telegram bot. Messages may span several lines and end with a line holding a
//! single "."; buttons are numbered choices; piped stdin works, so a conversation can be scripted.

use std::io::IsTerminal;
use std::sync::atomic::{AtomicU64, Ordering};

use anyhow::Context;
use bot::{Engine, Event, EventId, EventKind, Profile, Replies, Signal, Step};
use domain::TelegramUserId;
use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};
use tracing::Instrument;

use crate::dbsource::DbSource;
use crate::settings::Settings;
use crate::Outcome;

/// Talk to the bot in the terminal (same engine and database as `serve`).
#[derive(Debug, clap::Args)]
pub struct ChatArgs {
    /// Your user id in the bot; each id is a separate user with its own letters and quota.
    #[arg(long, default_value_t = 1, value_name = "ID")]
    user_id: i64,
    /// Language of the bot's texts: ru or en.
    #[arg(long, default_value = "ru", value_parser = ["ru", "en"])]
    lang: String,
    /// Do not send /start when the chat opens (continue the conversation where it was).
    #[arg(long)]
    no_start: bool,
}

const END_OF_MESSAGE: &str = ".";

static SEQ: AtomicU64 = AtomicU64::new(0);

fn event_id() -> EventId {
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_nanos())
        .unwrap_or(0);
    let n = SEQ.fetch_add(1, Ordering::Relaxed);
    EventId::parse(&format!("chat:{}:{nanos}:{n}", std::process::id())).expect("short id")
}

struct Terminal {
    engine: Engine,
    profile: Profile,
    /// Callback data of the numbered choices on screen, by number (index 0 is number 1); a gap
    /// is a number whose button is not shown now.
    choices: Vec<Option<String>>,
    out: tokio::io::Stdout,
    en: bool,
}

/// The fixed number of a letter's button, so a number never changes its meaning between letters
/// (✏️ stays 3 when improvements run out instead of 🔄 taking its place).
fn fixed_slot(data: &str) -> Option<usize> {
    if data.starts_with("fb:l:") {
        Some(1)
    } else if data.starts_with("fb:d:") {
        Some(2)
    } else if data.starts_with("imp:") {
        Some(3)
    } else if data.starts_with("var:") {
        Some(4)
    } else {
        None
    }
}

/// One line of stdin as text: UTF-8, or else Windows-1251 (a Russian .txt saved on Windows).
fn decode_line(bytes: &[u8]) -> (String, bool) {
    let bytes = bytes.strip_suffix(b"\n").unwrap_or(bytes);
    let bytes = bytes.strip_suffix(b"\r").unwrap_or(bytes);
    match std::str::from_utf8(bytes) {
        Ok(s) => (s.to_string(), false),
        Err(_) => {
            let (text, _, _) = encoding_rs::WINDOWS_1251.decode(bytes);
            (text.into_owned(), true)
        }
    }
}

impl Terminal {
    async fn print(&mut self, text: &str) -> anyhow::Result<()> {
        self.out.write_all(text.as_bytes()).await?;
        self.out.flush().await?;
        Ok(())
    }

    async fn show(&mut self, r: &Replies) -> anyhow::Result<()> {
        let mut text = String::new();
        for m in &r.messages {
            text += &bot::plain_text(&m.html);
            text += "\n";
            let mut any = false;
            for row in &m.buttons {
                let labels: Vec<String> = row
                    .iter()
                    .map(|b| {
                        let n = match fixed_slot(&b.data) {
                            Some(n) => n,
                            None => self.choices.len().max(4) + 1,
                        };
                        if self.choices.len() < n {
                            self.choices.resize(n, None);
                        }
                        self.choices[n - 1] = Some(b.data.clone());
                        format!("[{n}] {}", b.label)
                    })
                    .collect();
                text += &format!("    {}\n", labels.join("   "));
                any = true;
            }
            if any {
                text += "    (выбор — номером / choose by number)\n";
            }
            text += "\n";
        }
        if let Some(answer) = r.button_answer.as_deref().filter(|a| !a.is_empty()) {
            text += &format!("  » {}\n\n", bot::plain_text(answer));
        }
        for s in &r.signals {
            if let Signal::SendInvoice(invoice) = s {
                text += &format!(
                    "  » Счёт на {} ⭐ ({}) оплачивается в Telegram: `soprovod serve`. / Stars invoices are paid in Telegram.\n\n",
                    invoice.amount_stars,
                    invoice.title
                );
            }
        }
        self.print(&text).await
    }

    fn say_ru_en(&self, ru: &str, en: &str) -> String {
        if self.en {
            en.to_string()
        } else {
            ru.to_string()
        }
    }

    /// A typed number that is no button on screen: said so, and nothing is sent.
    async fn not_a_button(&mut self, n: usize) -> anyhow::Result<()> {
        let shown: Vec<String> = self
            .choices
            .iter()
            .enumerate()
            .filter(|(_, c)| c.is_some())
            .map(|(i, _)| (i + 1).to_string())
            .collect();
        let text = if shown.is_empty() {
            self.say_ru_en(
                &format!("  » Кнопки с номером {n} нет: сейчас на экране нет кнопок. Текст сообщения заканчивают строкой «.».\n\n"),
                &format!("  » There is no button {n}: no buttons are shown now. End a message with a line holding \".\".\n\n"),
            )
        } else {
            self.say_ru_en(
                &format!(
                    "  » Кнопки с номером {n} нет. Доступны: {}.\n\n",
                    shown.join(", ")
                ),
                &format!(
                    "  » There is no button {n}. Available: {}.\n\n",
                    shown.join(", ")
                ),
            )
        };
        self.print(&text).await
    }

    async fn send(&mut self, kind: EventKind) -> anyhow::Result<()> {
        if let EventKind::Text(text) = &kind {
            // PostgreSQL text cannot hold NUL; a NUL means a binary file was pasted.
            if text.contains('\0') {
                let msg = self.say_ru_en(
                    "  » В сообщении есть нулевой байт (NUL) — так выглядят двоичные файлы, а не текст. Ничего не отправлено: вставьте обычный текст.\n\n",
                    "  » The message holds a NUL byte, as binary files do; nothing was sent. Please paste plain text.\n\n",
                );
                return self.print(&msg).await;
            }
        }
        let id = event_id();
        // As in `serve`: the engine records the internal user id into the event's span.
        let span = tracing::info_span!("event", event = %id.as_str(), user = tracing::field::Empty);
        let event = Event {
            id,
            from: self.profile.clone(),
            kind,
        };
        self.run_event(event).instrument(span).await
    }

    async fn run_event(&mut self, event: Event) -> anyhow::Result<()> {
        let has_buttons = |r: &Replies| r.messages.iter().any(|m| !m.buttons.is_empty());
        match self.engine.handle(event).await {
            Step::Done(r) => {
                if has_buttons(&r) {
                    self.choices.clear();
                }
                self.show(&r).await?;
            }
            Step::Generating(pending) => {
                let progress = pending.progress.clone();
                self.show(&progress).await?;
                let r = self.engine.complete(pending).await;
                if has_buttons(&r) {
                    self.choices.clear();
                }
                self.show(&r).await?;
            }
        }
        Ok(())
    }
}

/// Said on leaving: the embedded database keeps running until it is stopped.
fn quit_note(en: bool, embedded: bool) -> String {
    match (en, embedded) {
        (true, true) => "Bye! The embedded database keeps running for the next chat; `soprovod db down` stops it.\n".into(),
        (false, true) => "До встречи! Встроенная база данных продолжает работать для следующего чата; остановить её — `soprovod db down`.\n".into(),
        (true, false) => "Bye!\n".into(),
        (false, false) => "До встречи!\n".into(),
    }
}

pub async fn run(args: ChatArgs, source: &DbSource, settings: Settings) -> anyhow::Result<Outcome> {
    let telegram_id = TelegramUserId::parse(args.user_id).context("--user-id")?;
    let (config, settings) = (settings.bot, settings.llm);
    let url = source.ensure_url().await?;
    let embedded = matches!(source, DbSource::Embedded(_));
    let pool = store::connect(&url, 4)
        .await
        .context("connecting to the database")?;
    crate::dbsource::ensure_product_schema(&pool).await?;
    // A conversation left mid-way (Ctrl-D while pasting the resume) is continued, not restarted:
    // /start would drop the vacancy already accepted.
    let left_mid_way = {
        let mut conn = pool.acquire().await.context("connecting to the database")?;
        matches!(
            store::conversation::state_of(&mut conn, telegram_id).await?,
            Some(
                store::conversation::State::AwaitingResume
                    | store::conversation::State::AwaitingImprovement
            )
        )
    };
    let writer = llm::Writer::from_settings(settings);
    let offline = writer.is_offline();
    let engine = Engine::new(pool, writer, config);
    let mut profile = Profile::bare(telegram_id);
    profile.language_code = Some(args.lang.clone());
    let mut term = Terminal {
        engine,
        profile,
        choices: Vec::new(),
        out: tokio::io::stdout(),
        en: args.lang == "en",
    };

    let interactive = std::io::stdin().is_terminal();
    let banner = if args.lang == "en" {
        format!(
            "Soprovod in the terminal. A message may span several lines: end it with a line holding a single \"{END_OF_MESSAGE}\".\nCommands (/new, /help, ...) go on one line. Press a button by typing its number. /quit or Ctrl-D to leave.\n"
        )
    } else {
        format!(
            "Сопровод в терминале. Сообщение может занимать несколько строк: закончите его строкой из одной точки «{END_OF_MESSAGE}».\nКоманды (/new, /help, …) — одной строкой. Кнопку нажимают её номером. Выход — /quit или Ctrl-D.\n"
        )
    };
    term.print(&banner).await?;
    if offline {
        term.print("(OPENAI_API_KEY не задан: письма пишет офлайн-составитель / no OPENAI_API_KEY: letters come from the offline composer)\n").await?;
    }
    term.print("\n").await?;
    if left_mid_way && !args.no_start {
        let note = term.say_ru_en(
            "Продолжаем с того места, где вы остановились (вакансия сохранена). /new — начать заново.\n\n",
            "Continuing where you left off (your vacancy is kept). /new starts over.\n\n",
        );
        term.print(&note).await?;
    } else if !args.no_start {
        term.send(EventKind::Text("/start".into())).await?;
    }

    let mut input = BufReader::new(tokio::io::stdin());
    let mut raw = Vec::new();
    let mut buffer: Vec<String> = Vec::new();
    let mut said_cp1251 = false;
    loop {
        if interactive && buffer.is_empty() {
            term.print("> ").await?;
        }
        raw.clear();
        if input
            .read_until(b'\n', &mut raw)
            .await
            .context("reading stdin")?
            == 0
        {
            break;
        }
        let (line, cp1251) = decode_line(&raw);
        if cp1251 && !said_cp1251 {
            said_cp1251 = true;
            let note = term.say_ru_en(
                "  » Текст не в UTF-8: читаю его как Windows-1251.\n",
                "  » The text is not UTF-8: reading it as Windows-1251.\n",
            );
            term.print(&note).await?;
        }
        let trimmed = line.trim();
        if buffer.is_empty() {
            if trimmed.is_empty() || trimmed == END_OF_MESSAGE {
                continue;
            }
            if trimmed == "/quit" || trimmed == "/exit" {
                term.print(&quit_note(term.en, embedded)).await?;
                return Ok(Outcome::Ok);
            }
            if trimmed.starts_with('/') {
                term.send(EventKind::Text(trimmed.to_string())).await?;
                continue;
            }
            if trimmed.len() <= 3 {
                if let Ok(n) = trimmed.parse::<usize>() {
                    match n.checked_sub(1).and_then(|i| term.choices.get(i)).cloned() {
                        Some(Some(data)) => term.send(EventKind::Button { data }).await?,
                        _ => term.not_a_button(n).await?,
                    }
                    continue;
                }
            }
        }
        if trimmed == END_OF_MESSAGE {
            let text = std::mem::take(&mut buffer).join("\n");
            term.send(EventKind::Text(text)).await?;
        } else {
            buffer.push(line);
        }
    }
    if !buffer.is_empty() {
        if interactive {
            // Ctrl-D in the middle of a paste: half a resume must not become a letter.
            let note = term.say_ru_en(
                "\n  » Недописанное сообщение не отправлено (его заканчивают строкой «.»). Вакансия и всё принятое раньше сохранены: `soprovod chat` продолжит отсюда.\n",
                "\n  » The unfinished message was not sent (end a message with a line \".\"). Everything accepted before is kept: `soprovod chat` continues from here.\n",
            );
            term.print(&note).await?;
        } else {
            let text = buffer.join("\n");
            term.send(EventKind::Text(text)).await?;
        }
    }
    term.print(&quit_note(term.en, embedded)).await?;
    Ok(Outcome::Ok)
}
