//! The commands as the engine dispatches them: every command in the menu (and so in /help) is
//! understood, in both languages; anything else, and an admin command from a user, is not.

use bot::{Command, EventKind, Lang};

use crate::support::*;

const UNKNOWN_RU: &str = "Не знаю такой команды";
const UNKNOWN_EN: &str = "I do not know that command";

#[tokio::test]
async fn every_menu_command_is_dispatched_to_an_answer_in_both_languages() {
    let h = Harness::new().await;
    let engine = h.engine();
    let mut tg = 7100;
    for lang in [Lang::Ru, Lang::En] {
        for (name, _) in bot::commands::menu(lang) {
            tg += 1;
            let user = match lang {
                Lang::Ru => User::new(tg),
                Lang::En => User::english(tg),
            };
            let r = send(&engine, user.text(&format!("/{name}"))).await;
            let text = r.text();
            assert!(!text.trim().is_empty(), "/{name} ({lang:?}) got no answer");
            assert!(
                !text.contains(UNKNOWN_RU) && !text.contains(UNKNOWN_EN),
                "/{name} ({lang:?}) was not understood: {text}"
            );
        }
    }
}

#[tokio::test]
async fn a_command_event_with_a_bot_mention_and_capitals_is_the_same_command() {
    let h = Harness::new().await;
    let engine = h.engine();
    let user = User::english(7201);
    let r = send(
        &engine,
        user.event(EventKind::Command {
            name: "/Help@SoprovodBot".into(),
            args: String::new(),
        }),
    )
    .await;
    for (name, description) in bot::commands::menu(Lang::En) {
        assert!(
            r.text().contains(&format!("/{name} — {description}")),
            "{}",
            r.text()
        );
    }
}

#[tokio::test]
async fn an_unknown_command_and_refund_from_a_user_get_the_unknown_command_hint() {
    let h = Harness::new().await;
    let engine = h.engine();
    let user = User::new(7301);
    for text in ["/nonsense", "/refund abc"] {
        let r = send(&engine, user.text(text)).await;
        assert!(r.text().contains(UNKNOWN_RU), "{text}: {}", r.text());
    }
    assert!(!Command::public().any(|c| c == Command::Refund));
}
