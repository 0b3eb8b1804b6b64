//! `kill -9` of the real `soprovod serve` process at each step of an update's life: received
//! (its insert into the inbox waits), recorded (the engine's transaction waits), generation
//! started (the model holds the request), letter stored (the letter's sendMessage is held before
//! Telegram takes it) and letter sent (Telegram took it, the bot died before hearing back), by
//! long polling and through the webhook. After a restart every update is answered exactly once —
//! except the last case, where the bot cannot know Telegram took the letter and sends it again
//! (at least once, never lost) — and the quota counts exactly the letters delivered. Payments:
//! an insert that fails once, and a kill between the payment's record and its confirmation.

pub mod bot_process;
mod letters;
mod payments;
mod updates;

use std::sync::Arc;
use std::time::{Duration, Instant};

use serde_json::Value;
use sqlx::{Connection, PgConnection};
use testkit::doubles::bot_api::{message_containing, sent_to, Hold, HoldAt, TgUser};
use testkit::doubles::texts::VACANCY;
use tokio::sync::Semaphore;

use bot_process::{Serve, World};

/// The advisory lock a gate trigger waits on while the test holds it.
pub const GATE_KEY: i64 = 424_242;

/// Where an update's life is stopped for the kill.
#[derive(Debug, Clone, Copy)]
pub enum Point {
    /// Inserts into this table wait at a gate (a trigger waiting on an advisory lock the test
    /// holds).
    InsertInto(&'static str),
    /// The model holds the next request.
    ModelCall,
    /// The fake Bot API holds the first message containing the text, before Telegram would
    /// have taken it or after.
    Message(&'static str, HoldAt),
}

/// A point set up before the update is sent.
enum Armed {
    Gate(&'static str, PgConnection),
    Model { gate: Arc<Semaphore>, before: usize },
    Message(Hold),
}

impl Point {
    async fn arm(self, w: &World) -> Armed {
        match self {
            Self::InsertInto(table) => Armed::Gate(table, gate_inserts(w, table).await),
            Self::ModelCall => Armed::Model {
                before: w.llm.requests().len(),
                gate: w.llm.hold(),
            },
            Self::Message(needle, at) => Armed::Message(w.api.hold_message(needle, at)),
        }
    }
}

impl Armed {
    /// Waits until the process stands at the point.
    async fn reached(&self, w: &World) {
        match self {
            Self::Gate(..) => until_someone_waits_at_the_gate(w).await,
            Self::Model { before, .. } => w.llm.wait_requests(before + 1).await,
            Self::Message(hold) => hold.reached().await,
        }
    }

    /// Lets whatever waits there go on (a dead process's session may still finish its
    /// statement, a held request its answer to nobody: that is part of what is tested).
    async fn release(self, w: &World) {
        match self {
            Self::Gate(table, holder) => open_gate(w, table, holder).await,
            Self::Model { gate, .. } => {
                w.llm.release_hold();
                gate.add_permits(1);
            }
            Self::Message(hold) => hold.release(),
        }
    }
}

/// Sends `update` to the running process `doomed`, `kill -9`s it once the update stands at
/// `point`, and lets the point go. Returns the update's id.
pub async fn kill_at(w: &World, doomed: Serve, point: Point, update: Value) -> i64 {
    let armed = point.arm(w).await;
    let id = w.api.push(update);
    armed.reached(w).await;
    doomed.kill().await;
    armed.release(w).await;
    id
}

/// Makes every insert into `table` wait while the returned connection holds the gate.
pub async fn gate_inserts(w: &World, table: &str) -> PgConnection {
    let sql = format!(
        "CREATE OR REPLACE FUNCTION test_gate() RETURNS trigger LANGUAGE plpgsql AS
           $$ BEGIN PERFORM pg_advisory_xact_lock_shared({GATE_KEY}); RETURN NEW; END $$;
         CREATE TRIGGER test_gate BEFORE INSERT ON {table} FOR EACH ROW EXECUTE FUNCTION test_gate();"
    );
    sqlx::raw_sql(&sql).execute(&w.pool).await.unwrap();
    hold_the_gate(w).await
}

/// A connection holding the gate's advisory lock.
pub async fn hold_the_gate(w: &World) -> PgConnection {
    let mut holder = PgConnection::connect(&w.db.url).await.unwrap();
    sqlx::query("SELECT pg_advisory_lock($1)")
        .bind(GATE_KEY)
        .execute(&mut holder)
        .await
        .unwrap();
    holder
}

/// Waits until some session waits at the gate.
pub async fn until_someone_waits_at_the_gate(w: &World) {
    let sql = format!(
        "SELECT count(*) > 0 FROM pg_locks WHERE locktype = 'advisory' AND NOT granted AND objid = {GATE_KEY}
           AND database = (SELECT oid FROM pg_database WHERE datname = current_database())"
    );
    until(w, "somebody waits at the gate", &sql).await;
}

/// Waits until `condition` (an SQL boolean) holds: for what other sessions do (wait for a lock,
/// end), which sends no signal a test can await.
pub async fn until(w: &World, what: &str, condition: &str) {
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let holds: bool = sqlx::query_scalar(condition)
            .fetch_one(&w.pool)
            .await
            .unwrap();
        if holds {
            return;
        }
        assert!(Instant::now() < deadline, "never: {what}");
        // Polling the condition itself: the catalog is read again; the pause only spaces the
        // reads.
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

/// Lets whatever waits at the gate through and removes the gate.
async fn open_gate(w: &World, table: &str, holder: PgConnection) {
    holder.close().await.unwrap();
    sqlx::raw_sql(&format!("DROP TRIGGER test_gate ON {table}"))
        .execute(&w.pool)
        .await
        .unwrap();
}

/// How many messages the user got that contain `needle`.
pub fn count(w: &World, chat: i64, needle: &str) -> usize {
    sent_to(&w.api.calls(), chat)
        .iter()
        .filter(|c| c.text().contains(needle))
        .count()
}

/// /start and the vacancy, answered once each; the user is asked for the resume.
async fn up_to_the_resume(w: &World, u: &TgUser) {
    w.api.push(u.text("/start"));
    w.api.push(u.text(VACANCY));
    message_containing(&w.api, u.id, 1, "Шаг 2 из 2").await;
}

fn assert_steps_answered_once(w: &World, chat: i64) {
    assert_eq!(count(w, chat, "Шаг 1 из 2"), 1);
    assert_eq!(count(w, chat, "Шаг 2 из 2"), 1);
}

/// Webhook mode: Telegram posted `update` once and heard 200 for it (it was recorded before the
/// kill, so it was acknowledged and never posted again).
fn assert_posted_once_and_accepted(w: &World, update: i64) {
    let posts: Vec<_> = w
        .api
        .webhook_posts()
        .into_iter()
        .filter(|p| p.update_id == update)
        .collect();
    assert_eq!(posts.len(), 1, "{posts:?}");
    assert!(posts[0].accepted(), "{posts:?}");
}
