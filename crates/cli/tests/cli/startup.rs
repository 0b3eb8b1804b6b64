//! SIGTERM while `soprovod serve` is starting (before the polling loop or the webhook server
//! runs): the real process exits 0 having taken nothing, Telegram still holds the update that
//! was waiting, nothing is half-written, and the next start answers the update once.

use testkit::doubles::bot_api::{message_containing, TgUser};

use crate::kill_nine::bot_process::World;
use sqlx::Connection;

use crate::kill_nine::{count, hold_the_gate, until, until_someone_waits_at_the_gate, GATE_KEY};

/// Stopped while the Bot API's getMe, the first call of the start, is held.
async fn stopped_while_connecting_to_the_bot_api(w: &World, telegram_id: i64) {
    let u = TgUser::new(telegram_id);
    let waiting = w.api.push(u.text("/start"));
    let get_me = w.api.hold_call("getMe");
    let starting = w.start();
    get_me.reached().await;
    let (status, log) = starting.terminate().await;
    get_me.release();
    assert_eq!(status.code(), Some(0), "{log}");
    assert!(log.contains("no update was taken"), "{log}");
    assert_eq!(w.api.unconfirmed(), 1, "Telegram still holds the update");
    assert_eq!(w.scalar("SELECT count(*) FROM update_inbox").await, 0);
    if w.is_webhook() {
        assert!(
            w.api
                .webhook_posts()
                .iter()
                .all(|p| p.update_id != waiting || !p.accepted()),
            "nothing was accepted while starting"
        );
    }

    let next = w.start();
    message_containing(&w.api, u.id, 0, "Шаг 1 из 2").await;
    if w.is_webhook() {
        // The answer can come before Telegram hears the 200 for it.
        w.api.wait_accepted(waiting).await;
    }
    next.stop().await;
    assert_eq!(count(w, u.id, "Шаг 1 из 2"), 1);
    assert_eq!(w.api.unconfirmed(), 0);
}

#[tokio::test]
async fn sigterm_while_serve_connects_to_the_bot_api_exits_0_and_loses_no_polled_update() {
    stopped_while_connecting_to_the_bot_api(&World::polling().await, 820_000_001).await;
}

#[tokio::test]
async fn sigterm_while_a_webhook_replica_connects_to_the_bot_api_exits_0_and_loses_no_update() {
    stopped_while_connecting_to_the_bot_api(&World::webhook().await, 820_000_002).await;
}

/// Stopped while the declared schema is being created in an empty database: every DDL
/// statement waits at a gate (an event trigger on an advisory lock the test holds).
#[tokio::test]
async fn sigterm_while_serve_creates_the_schema_exits_0_and_the_next_start_creates_it_whole() {
    let w = &World::polling_on_an_empty_database().await;
    sqlx::raw_sql(&format!(
        "CREATE FUNCTION test_gate_ddl() RETURNS event_trigger LANGUAGE plpgsql AS
           $$ BEGIN PERFORM pg_advisory_xact_lock_shared({GATE_KEY}); END $$;
         CREATE EVENT TRIGGER test_gate_ddl ON ddl_command_start EXECUTE FUNCTION test_gate_ddl();"
    ))
    .execute(&w.pool)
    .await
    .unwrap();
    let gate = hold_the_gate(w).await;
    let u = TgUser::new(820_000_003);
    w.api.push(u.text("/start"));
    let starting = w.start();
    until_someone_waits_at_the_gate(w).await;
    let (status, log) = starting.terminate().await;
    assert_eq!(status.code(), Some(0), "{log}");
    assert!(log.contains("stopped before it started"), "{log}");
    assert_eq!(w.api.unconfirmed(), 1, "Telegram still holds the update");
    assert_eq!(
        w.api.calls_of("getMe").len(),
        0,
        "stopped before the Bot API"
    );
    // The dead process's transaction goes on past the gate (DDL after DDL through the trigger,
    // now free) and is rolled back when its session finds the client gone: it never commits.
    gate.close().await.unwrap();
    until(
        w,
        "the dead process's session ended",
        "SELECT count(*) = 0 FROM pg_stat_activity
         WHERE datname = current_database() AND pid <> pg_backend_pid() AND state <> 'idle'
           AND backend_type = 'client backend'",
    )
    .await;
    assert_eq!(
        w.scalar("SELECT count(*) FROM pg_class WHERE relnamespace = 'public'::regnamespace")
            .await,
        0,
        "nothing of the schema was left half-written"
    );

    let next = w.start();
    message_containing(&w.api, u.id, 0, "Шаг 1 из 2").await;
    next.stop().await;
    assert_eq!(count(w, u.id, "Шаг 1 из 2"), 1);
    let declared = testkit::db_with("declared", &store::declared_sql()).await;
    let relations = |pool: sqlx::PgPool| async move {
        sqlx::query_scalar::<_, i64>(
            "SELECT count(*) FROM pg_class WHERE relnamespace = 'public'::regnamespace",
        )
        .fetch_one(&pool)
        .await
        .unwrap()
    };
    assert_eq!(
        relations(w.pool.clone()).await,
        relations(declared.pool().await).await,
        "the whole declared schema, once"
    );
}
