//! `soprovod serve` as operators run it: configuration errors exit 2 with a clear message; the
//! bot answers through TELEGRAM_API_URL and stops cleanly (exit 0) on SIGTERM.

use std::process::{Command, Stdio};
use std::time::Duration;

use testkit::doubles::bot_api::{message_containing, FakeBotApi, TgUser};
use testkit::doubles::llm::LlmDouble;
use testkit::doubles::texts::{RESUME, VACANCY};

#[test]
fn serve_without_a_bot_token_says_so_and_exits_2() {
    let out = Command::new(env!("CARGO_BIN_EXE_soprovod"))
        .arg("serve")
        .env_remove("TELEGRAM_BOT_TOKEN")
        .env("DATABASE_URL", "postgres://nobody@127.0.0.1:1/none")
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("TELEGRAM_BOT_TOKEN"));
}

#[test]
fn webhook_mode_without_a_secret_is_refused() {
    let out = Command::new(env!("CARGO_BIN_EXE_soprovod"))
        .args(["serve", "--webhook", "127.0.0.1:0"])
        .env("TELEGRAM_BOT_TOKEN", "1:x")
        .env_remove("TELEGRAM_WEBHOOK_SECRET")
        .env("DATABASE_URL", "postgres://nobody@127.0.0.1:1/none")
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("TELEGRAM_WEBHOOK_SECRET"));
}

#[tokio::test]
async fn serve_answers_start_through_the_configured_api_and_stops_on_sigterm() {
    let db = testkit::db_with("declared", &store::declared_sql()).await;
    let api = FakeBotApi::start().await;
    let child = tokio::process::Command::new(env!("CARGO_BIN_EXE_soprovod"))
        .arg("serve")
        .env("DATABASE_URL", &db.url)
        .env("TELEGRAM_BOT_TOKEN", &api.token)
        .env("TELEGRAM_API_URL", api.url())
        .env_remove("OPENAI_API_KEY")
        .env("SOPROVOD_LOG", "info")
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .unwrap();
    api.push(TgUser::new(424_242_001).text("/start"));
    let greeting = api.nth_message_to(424_242_001, 1).await;
    assert!(
        greeting.text().contains("Шаг 1 из 2"),
        "{}",
        greeting.text()
    );
    api.wait_all_confirmed().await;

    let pid = child.id().unwrap() as i32;
    nix::sys::signal::kill(
        nix::unistd::Pid::from_raw(pid),
        nix::sys::signal::Signal::SIGTERM,
    )
    .unwrap();
    let out = tokio::time::timeout(Duration::from_secs(60), child.wait_with_output())
        .await
        .expect("serve did not stop")
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(0), "{stderr}");
    assert!(stderr.contains("stopped"), "{stderr}");
    // The token never appears in what the process printed.
    assert!(
        !stderr.contains(&api.token) && !String::from_utf8_lossy(&out.stdout).contains(&api.token)
    );
}

/// One update followed through the real process's log: the resume that starts a generation is
/// found by its update id on the intake line, on the model call and on the messages sent, and
/// the model call and the sends also name the user's internal id; no text of the user's is there.
#[tokio::test]
async fn one_update_can_be_followed_through_the_log_by_its_id() {
    const TG: i64 = 424_242_077;
    let db = testkit::db_with("declared", &store::declared_sql()).await;
    let api = FakeBotApi::start().await;
    let llm = LlmDouble::start().await;
    let child = tokio::process::Command::new(env!("CARGO_BIN_EXE_soprovod"))
        .arg("serve")
        .env("DATABASE_URL", &db.url)
        .env("TELEGRAM_BOT_TOKEN", &api.token)
        .env("TELEGRAM_API_URL", api.url())
        .env("OPENAI_API_KEY", "sk-test-not-a-secret")
        .env("OPENAI_BASE_URL", llm.base_url())
        .env("OPENAI_FALLBACK_MODEL", "none")
        .env("OPENAI_CHECK_LETTERS", "off")
        .env("SOPROVOD_LOG", "info")
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .unwrap();
    let anna = TgUser::new(TG);
    api.push(anna.text("/start"));
    message_containing(&api, TG, 0, "Шаг 1 из 2").await;
    api.push(anna.text(VACANCY));
    message_containing(&api, TG, 1, "Шаг 2 из 2").await;
    let update = api.push(anna.text(RESUME));
    message_containing(&api, TG, 2, "Версия письма номер 1").await;
    api.wait_all_confirmed().await;
    let user: i64 = sqlx::query_scalar("SELECT id FROM users WHERE telegram_user_id = $1")
        .bind(TG)
        .fetch_one(&db.pool().await)
        .await
        .unwrap();

    let pid = child.id().unwrap() as i32;
    nix::sys::signal::kill(
        nix::unistd::Pid::from_raw(pid),
        nix::sys::signal::Signal::SIGTERM,
    )
    .unwrap();
    let out = tokio::time::timeout(Duration::from_secs(60), child.wait_with_output())
        .await
        .expect("serve did not stop")
        .unwrap();
    let log = String::from_utf8_lossy(&out.stderr);
    let of_update: Vec<&str> = log
        .lines()
        .filter(|l| l.contains(&format!("update_id={update}")))
        .collect();
    let with_user = format!("user=user#{user}}}");
    let line = |what: &str| {
        of_update
            .iter()
            .find(|l| l.contains(what))
            .unwrap_or_else(|| panic!("no {what:?} line for update {update}:\n{log}"))
            .to_string()
    };
    line("update recorded in the inbox");
    assert!(line("event handled").contains(&with_user), "{log}");
    assert!(line("model call finished").contains(&with_user), "{log}");
    assert!(line("message sent").contains(&with_user), "{log}");
    // The log names ids only: neither the texts nor the letter nor the token.
    let start = |text: &str| text.chars().take(40).collect::<String>();
    let letter = testkit::doubles::llm::letter(1);
    for secret in [
        start(VACANCY),
        start(RESUME),
        start(&letter),
        api.token.clone(),
    ] {
        assert!(!log.contains(&secret), "{secret:?} is in the log:\n{log}");
    }
}
