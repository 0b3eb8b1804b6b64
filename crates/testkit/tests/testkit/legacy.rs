//! The old bot's database as the legacy README describes it: states A and B load from its own SQL,
//! and the generator leaves every kind of dirty data the README lists.

use testkit::legacy::{LegacySize, LegacyState};

const SIZE: LegacySize = LegacySize::new(400, 1200);

async fn count(db: &testkit::TestDb, sql: &str) -> i64 {
    let mut conn = db.connect().await;
    sqlx::query_scalar(sql)
        .fetch_one(&mut conn)
        .await
        .unwrap_or_else(|e| panic!("{sql}: {e}"))
}

/// Each kind of dirty data the legacy README lists, as a query counting its rows.
const DIRTY_KINDS: &[(&str, &str)] = &[
    ("several active subscriptions per user", "SELECT count(*) FROM (SELECT user_id FROM subscriptions WHERE status = 'active' GROUP BY user_id HAVING count(*) > 1) x"),
    ("free rows whose period_end is long past", "SELECT count(*) FROM subscriptions WHERE plan_type = 'free' AND period_end < now() - interval '60 days'"),
    ("premium past its end still active", "SELECT count(*) FROM subscriptions WHERE plan_type = 'premium' AND status = 'active' AND period_end < now()"),
    ("several acquisition rows per user", "SELECT count(*) FROM (SELECT user_id FROM acquisition_channels GROUP BY user_id HAVING count(*) > 1) x"),
    ("hand-typed payments without provider", "SELECT count(*) FROM payments WHERE provider IS NULL"),
    ("amounts in rubles with kopecks", "SELECT count(*) FROM payments WHERE amount IN (1.00, 199.00)"),
    ("user_events without event_data", "SELECT count(*) FROM user_events WHERE event_data IS NULL"),
    ("uuid-keyed openai_requests", "SELECT count(*) FROM openai_requests WHERE pg_typeof(id) = 'uuid'::regtype"),
    ("integer generation times", "SELECT count(*) FROM letter_sessions WHERE generation_time_seconds IS NOT NULL"),
    ("models in openai_model_used", "SELECT count(*) FROM letter_sessions WHERE openai_model_used IS NOT NULL"),
    ("completion times in session_end", "SELECT count(*) FROM letter_sessions WHERE session_end IS NOT NULL"),
    ("consent in consent_timestamp", "SELECT count(*) FROM users WHERE consent_given AND consent_timestamp IS NOT NULL"),
    ("last activity", "SELECT count(*) FROM users WHERE last_activity IS NOT NULL"),
    ("error history", "SELECT count(*) FROM error_logs"),
    ("a test account", "SELECT count(*) FROM users WHERE telegram_user_id = 678674926"),
    ("subscriptions_backup rows", "SELECT count(*) FROM subscriptions_backup"),
    ("improvements with ai_model_used", "SELECT count(*) FROM letter_iterations WHERE ai_model_used IS NOT NULL"),
];

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn state_a_loads_from_the_legacy_sql_with_every_kind_of_dirty_data() {
    let db = testkit::legacy_db(LegacyState::A, SIZE, 7).await;
    for (kind, sql) in DIRTY_KINDS {
        assert!(count(&db, sql).await > 0, "state A lacks {kind}");
    }
    assert!(count(&db, "SELECT count(*) FROM payments WHERE status = 'paid'").await > 0);
    let consent_type: String = {
        let mut conn = db.connect().await;
        sqlx::query_scalar("SELECT format_type(atttypid, atttypmod) FROM pg_attribute WHERE attrelid = 'users'::regclass AND attname = 'consent_timestamp'")
            .fetch_one(&mut conn).await.unwrap()
    };
    assert_eq!(consent_type, "timestamp without time zone");
    // The v6 extras that v9.5 drops are still there in A.
    assert!(
        count(
            &db,
            "SELECT count(*) FROM users WHERE total_generations IS NOT NULL"
        )
        .await
            > 0
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn state_b_loads_from_the_legacy_sql_with_every_kind_of_dirty_data_of_its_era() {
    let db = testkit::legacy_db(LegacyState::B, SIZE, 7).await;
    for (kind, sql) in DIRTY_KINDS {
        assert!(count(&db, sql).await > 0, "state B lacks {kind}");
    }
    for status in ["succeeded", "canceled", "pending", "failed", "refunded"] {
        let n = count(
            &db,
            &format!("SELECT count(*) FROM payments WHERE status = '{status}'"),
        )
        .await;
        assert!(n > 0, "state B has no {status} payment");
    }
    assert!(
        count(
            &db,
            "SELECT count(*) FROM payments WHERE payment_method = 'yookassa'"
        )
        .await
            > 0
    );
    // v9.5 ran: the extras are gone and user ids are bigint.
    assert_eq!(
        count(&db, "SELECT count(*) FROM pg_attribute WHERE attrelid = 'users'::regclass AND attname = 'total_generations' AND NOT attisdropped").await,
        0
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_same_seed_makes_the_same_rows() {
    let one = testkit::legacy_db(LegacyState::A, LegacySize::new(120, 300), 11).await;
    let digest = "SELECT ('x' || left(md5(string_agg(t::text, ',' ORDER BY t::text)), 15))::bit(60)::bigint FROM (SELECT id, telegram_user_id, consent_timestamp::text, username FROM users) t";
    let other = testkit::legacy_db(LegacyState::B, LegacySize::new(120, 300), 11).await;
    assert_eq!(count(&one, digest).await, count(&other, digest).await);
}
