//! Conversation rows and processed event ids.

use chrono::{DateTime, Utc};
use domain::{EventId, TelegramUserId, UserId};
use sqlx::PgPool;
use store::conversation::{self, State};
use store::sessions::NewIteration;
use store::{quota, sessions, users};

async fn setup() -> (PgPool, UserId) {
    let pool = testkit::db_with("declared", &store::declared_sql())
        .await
        .pool()
        .await;
    let mut conn = pool.acquire().await.unwrap();
    let u = users::upsert(
        &mut conn,
        &users::Profile::bare(TelegramUserId::parse(77).unwrap()),
        Utc::now(),
    )
    .await
    .unwrap();
    assert!(u.created);
    (pool, u.id)
}

#[tokio::test]
async fn an_event_id_is_processed_once() {
    let (pool, _) = setup().await;
    let mut conn = pool.acquire().await.unwrap();
    assert!(
        conversation::mark_processed(&mut conn, &EventId::parse("tg:1").unwrap())
            .await
            .unwrap()
    );
    assert!(
        !conversation::mark_processed(&mut conn, &EventId::parse("tg:1").unwrap())
            .await
            .unwrap()
    );
    assert!(
        conversation::mark_processed(&mut conn, &EventId::parse("tg:2").unwrap())
            .await
            .unwrap()
    );
    // Rolled back with its transaction: the event counts as not processed.
    let mut tx = pool.begin().await.unwrap();
    assert!(
        conversation::mark_processed(&mut tx, &EventId::parse("tg:3").unwrap())
            .await
            .unwrap()
    );
    tx.rollback().await.unwrap();
    assert!(
        conversation::mark_processed(&mut conn, &EventId::parse("tg:3").unwrap())
            .await
            .unwrap()
    );
}

#[tokio::test]
async fn a_conversation_round_trips_through_its_row() {
    let (pool, user) = setup().await;
    let mut conn = pool.acquire().await.unwrap();
    let fresh = conversation::lock(&mut conn, user).await.unwrap();
    assert_eq!(fresh.state, State::Idle);
    let sid = sessions::create(&mut conn, user, "вакансия", None, 2, Utc::now())
        .await
        .unwrap();
    let now: DateTime<Utc> = "2026-03-01T10:00:00Z".parse().unwrap();
    let grant = quota::take_letter(&mut conn, user, &domain::QuotaRules::default(), now)
        .await
        .unwrap()
        .unwrap();
    let mut c = fresh.clone();
    c.state = State::Generating;
    c.session = Some(sid);
    c.grant = Some(grant);
    c.generation_started_at = Some(now);
    c.command_times = vec![now];
    conversation::save(&mut conn, user, &c, now).await.unwrap();
    let back = conversation::lock(&mut conn, user).await.unwrap();
    assert_eq!(back.state, State::Generating);
    assert_eq!(back.session, Some(sid));
    assert_eq!(
        back.grant.map(|g| (g.subscription_id, g.window_start)),
        Some((grant.subscription_id, grant.window_start))
    );
    assert_eq!(back.command_times, vec![now]);
}

#[tokio::test]
async fn improvements_stop_at_the_limit_and_the_latest_version_wins() {
    let (pool, user) = setup().await;
    let mut conn = pool.acquire().await.unwrap();
    let now = Utc::now();
    let sid = sessions::create(&mut conn, user, "вакансия", Some("резюме"), 2, now)
        .await
        .unwrap();
    sessions::complete(&mut conn, sid, "первое", 1.25, "m", now)
        .await
        .unwrap();
    assert_eq!(
        sessions::latest_version(&mut conn, sid).await.unwrap(),
        Some((0, "первое".to_string()))
    );
    assert_eq!(
        sessions::add_iteration(
            &mut conn,
            sid,
            user,
            NewIteration {
                request: "короче",
                letter: "второе",
                generation_time_seconds: 0.5,
                model: "m"
            },
            now
        )
        .await
        .unwrap(),
        Some(1)
    );
    assert_eq!(
        sessions::add_iteration(
            &mut conn,
            sid,
            user,
            NewIteration {
                request: "ещё",
                letter: "третье",
                generation_time_seconds: 0.5,
                model: "m"
            },
            now
        )
        .await
        .unwrap(),
        Some(2)
    );
    assert_eq!(
        sessions::add_iteration(
            &mut conn,
            sid,
            user,
            NewIteration {
                request: "и ещё",
                letter: "четвёртое",
                generation_time_seconds: 0.5,
                model: "m"
            },
            now
        )
        .await
        .unwrap(),
        None
    );
    assert_eq!(
        sessions::latest_version(&mut conn, sid).await.unwrap(),
        Some((2, "третье".to_string()))
    );
    sessions::upsert_feedback(&mut conn, sid, user, 2, sessions::Feedback::Like, now)
        .await
        .unwrap();
    sessions::upsert_feedback(&mut conn, sid, user, 2, sessions::Feedback::Dislike, now)
        .await
        .unwrap();
    let rows: Vec<(i32, String)> =
        sqlx::query_as("SELECT iteration_number, feedback_type FROM letter_feedback")
            .fetch_all(&pool)
            .await
            .unwrap();
    assert_eq!(rows, vec![(2, "dislike".to_string())]);
    let secs: f64 = sqlx::query_scalar("SELECT generation_time_seconds FROM letter_sessions")
        .fetch_one(&pool)
        .await
        .unwrap();
    assert_eq!(secs, 1.25);
}

#[tokio::test]
async fn a_telegram_id_becomes_a_user_id_only_through_the_users_table() {
    let (pool, user) = setup().await;
    let mut conn = pool.acquire().await.unwrap();
    assert_eq!(
        users::find(&mut conn, TelegramUserId::parse(77).unwrap())
            .await
            .unwrap(),
        Some(user)
    );
    assert_eq!(
        users::find(&mut conn, TelegramUserId::parse(78).unwrap())
            .await
            .unwrap(),
        None
    );
    let again = users::upsert(
        &mut conn,
        &users::Profile::bare(TelegramUserId::parse(77).unwrap()),
        Utc::now(),
    )
    .await
    .unwrap();
    assert_eq!((again.id, again.created), (user, false));
}

#[tokio::test]
async fn a_user_seen_again_within_the_minute_with_the_same_profile_is_only_read() {
    let (pool, _) = setup().await;
    let mut conn = pool.acquire().await.unwrap();
    let t0: DateTime<Utc> = "2026-03-01T10:00:00Z".parse().unwrap();
    let mut profile = users::Profile::bare(TelegramUserId::parse(90).unwrap());
    profile.first_name = Some("Анна".into());
    let first = users::upsert(&mut conn, &profile, t0).await.unwrap();
    assert!(first.created);
    // The row's version and what it says, to tell a write from a read.
    let row = || async {
        sqlx::query_as::<_, (String, Option<String>, Option<DateTime<Utc>>)>(
            "SELECT xmin::text, first_name, last_activity_at FROM users WHERE telegram_user_id = 90",
        )
        .fetch_one(&pool)
        .await
        .unwrap()
    };
    let written = row().await;
    let again = users::upsert(&mut conn, &profile, t0 + chrono::Duration::seconds(30))
        .await
        .unwrap();
    assert_eq!((again.id, again.created), (first.id, false));
    assert_eq!(row().await, written, "not written within the minute");

    profile.first_name = Some("Анна-Мария".into());
    let t1 = t0 + chrono::Duration::seconds(40);
    users::upsert(&mut conn, &profile, t1).await.unwrap();
    let renamed = row().await;
    assert_ne!(renamed.0, written.0);
    assert_eq!(
        (renamed.1.as_deref(), renamed.2),
        (Some("Анна-Мария"), Some(t1))
    );

    let t2 = t1 + chrono::Duration::seconds(61);
    let later = users::upsert(&mut conn, &profile, t2).await.unwrap();
    assert_eq!((later.id, later.created), (first.id, false));
    assert_eq!(
        row().await.2,
        Some(t2),
        "the activity is kept a minute apart"
    );
}
