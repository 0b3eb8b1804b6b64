//! Kills while an update is received (not yet in the inbox, so not acknowledged) and right after
//! it is recorded (acknowledged, not yet handled).

use testkit::doubles::bot_api::{message_containing, sent_to, TgUser};

use super::bot_process::World;
use super::{assert_posted_once_and_accepted, assert_steps_answered_once, count, kill_at};
use super::{up_to_the_resume, Point};

/// Kill while the update's insert into the inbox waits: not recorded, so not acknowledged.
async fn killed_while_an_update_is_received(w: &World) -> i64 {
    let u = TgUser::new(810_000_001);
    let bot = w.start();
    up_to_the_resume(w, &u).await;
    let help = kill_at(w, bot, Point::InsertInto("update_inbox"), u.text("/help")).await;
    // Not recorded, so not acknowledged: Telegram still holds it.
    assert!(w.api.unconfirmed() >= 1);

    let next = w.start();
    message_containing(&w.api, u.id, 2, "Как это работает").await;
    if w.is_webhook() {
        // The answer can come before Telegram hears the 200 for it.
        w.api.wait_accepted(help).await;
    }
    next.stop().await;
    assert_eq!(count(w, u.id, "Как это работает"), 1);
    assert_eq!(
        sent_to(&w.api.calls(), u.id).len(),
        3,
        "start, vacancy and help: each answered once"
    );
    assert_steps_answered_once(w, u.id);
    assert_eq!(
        w.scalar(&format!(
            "SELECT count(*) FROM update_inbox WHERE update_id = {help}"
        ))
        .await,
        1
    );
    help
}

/// Kill while the engine's transaction for a recorded update waits.
async fn killed_after_an_update_is_recorded(w: &World) -> i64 {
    let u = TgUser::new(810_000_002);
    let bot = w.start();
    up_to_the_resume(w, &u).await;
    let help = kill_at(
        w,
        bot,
        Point::InsertInto("processed_events"),
        u.text("/help"),
    )
    .await;
    assert_eq!(
        w.scalar("SELECT count(*) FROM update_inbox WHERE done_at IS NULL")
            .await,
        1,
        "recorded, not handled"
    );

    let next = w.start();
    message_containing(&w.api, u.id, 2, "Как это работает").await;
    next.stop().await;
    assert_eq!(
        sent_to(&w.api.calls(), u.id).len(),
        3,
        "start, vacancy and help: each answered once"
    );
    assert_steps_answered_once(w, u.id);
    assert_eq!(
        w.scalar("SELECT count(*) FROM update_inbox WHERE done_at IS NULL")
            .await,
        0
    );
    help
}

#[tokio::test]
async fn kill_nine_while_an_update_is_received_by_polling_loses_nothing() {
    killed_while_an_update_is_received(&World::polling().await).await;
}

#[tokio::test]
async fn kill_nine_while_an_update_is_received_by_the_webhook_loses_nothing() {
    let w = &World::webhook().await;
    let help = killed_while_an_update_is_received(w).await;
    // Telegram's post of /help got no answer from the killed process and was posted again
    // until the restarted one took it.
    let posts: Vec<_> = w
        .api
        .webhook_posts()
        .into_iter()
        .filter(|p| p.update_id == help)
        .collect();
    assert!(!posts[0].accepted(), "{posts:?}");
    assert_eq!(
        posts.iter().filter(|p| p.accepted()).count(),
        1,
        "{posts:?}"
    );
}

#[tokio::test]
async fn kill_nine_after_an_update_is_recorded_by_polling_answers_it_once_after_the_restart() {
    killed_after_an_update_is_recorded(&World::polling().await).await;
}

#[tokio::test]
async fn kill_nine_after_an_update_is_recorded_by_the_webhook_answers_it_once_after_the_restart() {
    let w = &World::webhook().await;
    let help = killed_after_an_update_is_recorded(w).await;
    assert_posted_once_and_accepted(w, help);
}
