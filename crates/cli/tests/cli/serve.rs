//! `soprovod serve` as operators run it: configuration errors exit 2 with a clear message; the
//! bot answers through TELEGRAM_API_URL and stops cleanly (exit 0) on SIGTERM.

use std::process::{Command, Stdio};
use std::time::Duration;

use testkit::doubles::bot_api::{FakeBotApi, TgUser};

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
