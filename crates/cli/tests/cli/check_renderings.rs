//! A `varchar … IN (…)` CHECK, which PostgreSQL renders differently once it is added from its own
//! rendering, through the binary: apply exits 0 on both paths, verify exits 0, the next plan is
//! empty.

use crate::support::{db_cmd, text};

const OLD: &str =
    "CREATE TABLE public.orders (id integer PRIMARY KEY, status varchar(10) NOT NULL);
                   INSERT INTO public.orders SELECT g, 'pending' FROM generate_series(1, 50) g;";

const NEW: &str = "CREATE TABLE public.orders (id integer PRIMARY KEY, status varchar(10) NOT NULL,
                     CONSTRAINT orders_status CHECK (status IN ('pending', 'shipped', 'delivered')));";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_varchar_check_in_is_applied_online_and_in_one_transaction_then_verify_and_the_next_plan_find_nothing(
) {
    let dir = tempfile::tempdir().unwrap();
    let target = dir.path().join("schema");
    std::fs::create_dir(&target).unwrap();
    std::fs::write(target.join("010_orders.sql"), NEW).unwrap();
    let t = target.to_str().unwrap();

    for path in ["--online", "--no-online"] {
        let db = testkit::empty_db().await;
        let mut conn = db.connect().await;
        sqlx::raw_sql(OLD).execute(&mut conn).await.unwrap();
        let url = db.url.as_str();

        let apply = db_cmd(dir.path(), url, &["apply", "--target", t, "--yes", path]);
        assert_eq!(
            apply.status.code(),
            Some(0),
            "{path}: {}{}",
            text(&apply.stdout),
            text(&apply.stderr)
        );
        let verify = db_cmd(dir.path(), url, &["verify", "--target", t]);
        assert_eq!(
            verify.status.code(),
            Some(0),
            "{path}: {}",
            text(&verify.stdout)
        );
        let plan = db_cmd(
            dir.path(),
            url,
            &["plan", "--target", t, "--format", "json"],
        );
        assert_eq!(
            plan.status.code(),
            Some(0),
            "{path}: {}",
            text(&plan.stderr)
        );
        let doc: serde_json::Value = serde_json::from_slice(&plan.stdout).unwrap();
        assert_eq!(doc["steps"], serde_json::json!([]), "{path}: {doc:#}");
        let plan = db_cmd(dir.path(), url, &["plan", "--target", t]);
        assert!(
            text(&plan.stdout).contains("Nothing to do"),
            "{path}: {}",
            text(&plan.stdout)
        );

        let refused = sqlx::raw_sql("INSERT INTO public.orders VALUES (100, 'lost')")
            .execute(&mut conn)
            .await
            .expect_err("the check is in force");
        assert!(refused.to_string().contains("orders_status"), "{refused}");
    }
}
