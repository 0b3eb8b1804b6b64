//! `soprovod chat`: the cover-letter conversation in the terminal, through the same engine and
//! database as the Telegram bot. Messages may span several lines and end with a line holding a
//! single "."; buttons are numbered choices; piped stdin works, so a conversation can be scripted.

use std::io::IsTerminal;
use std::sync::atomic::{AtomicU64, Ordering};

use anyhow::Context;
use bot::{Engine, Event, EventId, EventKind, Profile, Replies, Signal, Step};
use domain::TelegramUserId;
use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};

use crate::dbsource::DbSource;
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
    /// Callback data of the numbered choices on screen.
    choices: Vec<String>,
    out: tokio::io::Stdout,
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
                        self.choices.push(b.data.clone());
                        format!("[{}] {}", self.choices.len(), b.label)
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

    async fn send(&mut self, kind: EventKind) -> anyhow::Result<()> {
        let event = Event {
            id: event_id(),
            from: self.profile.clone(),
            kind,
        };
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

pub async fn run(args: ChatArgs, source: &DbSource) -> anyhow::Result<Outcome> {
    let telegram_id = TelegramUserId::parse(args.user_id).context("--user-id")?;
    let config = bot::Config::from_env().context("reading the bot configuration")?;
    let settings = llm::Settings::from_env().context("reading the LLM configuration")?;
    let url = source.ensure_url().await?;
    let pool = store::connect(&url, 4)
        .await
        .context("connecting to the database")?;
    crate::dbsource::ensure_product_schema(&pool).await?;
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
    if !args.no_start {
        term.send(EventKind::Text("/start".into())).await?;
    }

    let mut lines = BufReader::new(tokio::io::stdin()).lines();
    let mut buffer: Vec<String> = Vec::new();
    loop {
        if interactive && buffer.is_empty() {
            term.print("> ").await?;
        }
        let Some(line) = lines.next_line().await.context("reading stdin")? else {
            break;
        };
        let trimmed = line.trim();
        if buffer.is_empty() {
            if trimmed.is_empty() || trimmed == END_OF_MESSAGE {
                continue;
            }
            if trimmed == "/quit" || trimmed == "/exit" {
                return Ok(Outcome::Ok);
            }
            if trimmed.starts_with('/') {
                term.send(EventKind::Text(trimmed.to_string())).await?;
                continue;
            }
            if let Ok(n) = trimmed.parse::<usize>() {
                if (1..=term.choices.len()).contains(&n) {
                    let data = term.choices[n - 1].clone();
                    term.send(EventKind::Button { data }).await?;
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
        let text = buffer.join("\n");
        term.send(EventKind::Text(text)).await?;
    }
    Ok(Outcome::Ok)
}
