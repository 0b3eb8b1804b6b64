//! Columns that views read change type: the views (a chain three deep, a view with grants, a
//! comment and security_barrier, a materialized view with an index and data) are dropped and
//! recreated around the change and keep their extras; a view that reads nothing that changes is
//! left alone.

use schema::Target;

use crate::support::{converge, db_from, model, scalar_text};

const BEFORE: &str = r#"
CREATE TABLE accounts (id serial PRIMARY KEY, name text NOT NULL);
CREATE TABLE runs (
    id serial PRIMARY KEY,
    account_id integer NOT NULL REFERENCES accounts (id),
    seconds integer,
    label text
);
INSERT INTO accounts (name) SELECT 'a' || g FROM generate_series(1, 50) g;
INSERT INTO runs (account_id, seconds, label) SELECT 1 + g % 50, g % 97, 'r' || g FROM generate_series(1, 2000) g;
-- Views owned by another role keep that owner when recreated.

CREATE VIEW run_base AS SELECT r.id, r.account_id, r.seconds FROM runs r;
CREATE VIEW run_per_account AS SELECT account_id, sum(seconds) AS total, avg(seconds) AS mean FROM run_base GROUP BY account_id;
CREATE VIEW run_top AS SELECT account_id, total FROM run_per_account WHERE total > 10;
ALTER VIEW run_top OWNER TO analyst;

CREATE VIEW guarded WITH (security_barrier = true) AS SELECT id, account_id FROM runs WHERE seconds > 5;
COMMENT ON VIEW guarded IS 'runs longer than five seconds';
GRANT SELECT ON guarded TO reporting;

CREATE MATERIALIZED VIEW run_totals AS SELECT account_id, sum(seconds) AS total FROM runs GROUP BY account_id;
CREATE UNIQUE INDEX run_totals_account ON run_totals (account_id);
COMMENT ON MATERIALIZED VIEW run_totals IS 'per account';

CREATE VIEW labels AS SELECT id, label FROM runs;

CREATE VIEW checked AS SELECT id, seconds FROM runs WHERE seconds >= 0 WITH LOCAL CHECK OPTION;
CREATE VIEW invoker WITH (security_invoker = true) AS SELECT id, seconds FROM runs;
"#;

/// The same schema with wider ids and fractional seconds.
const AFTER: &str = r#"
CREATE TABLE accounts (id bigserial PRIMARY KEY, name text NOT NULL);
CREATE TABLE runs (
    id serial PRIMARY KEY,
    account_id bigint NOT NULL REFERENCES accounts (id),
    seconds double precision,
    label text
);

CREATE VIEW run_base AS SELECT r.id, r.account_id, r.seconds FROM runs r;
CREATE VIEW run_per_account AS SELECT account_id, sum(seconds) AS total, avg(seconds) AS mean FROM run_base GROUP BY account_id;
CREATE VIEW run_top AS SELECT account_id, total FROM run_per_account WHERE total > 10;

CREATE VIEW guarded WITH (security_barrier = true) AS SELECT id, account_id FROM runs WHERE seconds > 5;
COMMENT ON VIEW guarded IS 'runs longer than five seconds';
GRANT SELECT ON guarded TO reporting;

CREATE MATERIALIZED VIEW run_totals AS SELECT account_id, sum(seconds) AS total FROM runs GROUP BY account_id;
CREATE UNIQUE INDEX run_totals_account ON run_totals (account_id);
COMMENT ON MATERIALIZED VIEW run_totals IS 'per account';

CREATE VIEW labels AS SELECT id, label FROM runs;

CREATE VIEW checked AS SELECT id, seconds FROM runs WHERE seconds >= 0 WITH LOCAL CHECK OPTION;
CREATE VIEW invoker WITH (security_invoker = true) AS SELECT id, seconds FROM runs;
"#;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_view_chain_over_retyped_columns_is_rebuilt_and_keeps_its_grants_comments_options_and_data(
) {
    let db = db_from(BEFORE).await;
    let mut conn = db.connect().await;
    let oid = |name: &'static str| format!("SELECT '{name}'::regclass::oid::text");
    let labels_oid = scalar_text(&mut conn, &oid("labels")).await;
    let guarded_oid = scalar_text(&mut conn, &oid("guarded")).await;
    let totals_before = scalar_text(
        &mut conn,
        "SELECT string_agg(account_id || ':' || total, ',' ORDER BY account_id) FROM run_totals",
    )
    .await;

    let target = schema::load_target(&db.url, &Target::Sql(AFTER.into()))
        .await
        .unwrap();
    let plan = converge(&db, &target, Target::Sql(String::new()).compare_options()).await;

    let kinds = plan.hazard_kinds();
    assert!(
        kinds.contains(&schema::HazardKind::TableRewrite)
            && kinds.contains(&schema::HazardKind::MatviewRepopulate),
        "{kinds:?}"
    );
    assert!(
        !kinds.contains(&schema::HazardKind::DataLoss)
            && !kinds.contains(&schema::HazardKind::LossyCast),
        "{kinds:?}"
    );
    // Views are dropped dependents-first and created base-first.
    let pos = |needle: &str| {
        plan.steps
            .iter()
            .position(|s| s.sql.starts_with(needle))
            .unwrap_or_else(|| panic!("no step {needle}"))
    };
    assert!(pos("DROP VIEW public.run_top") < pos("DROP VIEW public.run_per_account"));
    assert!(pos("DROP VIEW public.run_per_account") < pos("DROP VIEW public.run_base"));
    assert!(pos("CREATE VIEW public.run_base") < pos("CREATE VIEW public.run_per_account"));
    assert!(pos("CREATE VIEW public.run_per_account") < pos("CREATE VIEW public.run_top"));
    assert!(
        plan.steps.iter().all(|s| !s.sql.contains("public.labels")),
        "the unrelated view must not be touched"
    );
    for recreated in [
        "CREATE VIEW public.checked WITH (check_option=local)",
        "CREATE VIEW public.invoker WITH (security_invoker=true)",
    ] {
        assert!(
            plan.steps.iter().any(|s| s.sql.starts_with(recreated)),
            "no step {recreated}"
        );
    }
    assert!(
        plan.steps
            .iter()
            .any(|s| s.sql == "ALTER VIEW public.run_top OWNER TO analyst;"),
        "owner restored by the plan"
    );

    assert_eq!(
        scalar_text(&mut conn, &oid("labels")).await,
        labels_oid,
        "unrelated view kept its oid"
    );
    assert_ne!(
        scalar_text(&mut conn, &oid("guarded")).await,
        guarded_oid,
        "guarded was recreated"
    );
    assert_eq!(
        scalar_text(&mut conn, "SELECT format_type(atttypid, atttypmod) FROM pg_attribute WHERE attrelid = 'run_per_account'::regclass AND attname = 'total'").await,
        "double precision"
    );
    assert_eq!(
        scalar_text(
            &mut conn,
            "SELECT data_type::text FROM pg_sequences WHERE sequencename = 'accounts_id_seq'"
        )
        .await,
        "bigint"
    );
    assert_eq!(
        scalar_text(
            &mut conn,
            "SELECT array_to_string(reloptions, ',') FROM pg_class WHERE oid = 'guarded'::regclass"
        )
        .await,
        "security_barrier=true"
    );
    assert_eq!(
        scalar_text(
            &mut conn,
            "SELECT obj_description('guarded'::regclass, 'pg_class')"
        )
        .await,
        "runs longer than five seconds"
    );
    assert_eq!(
        scalar_text(
            &mut conn,
            "SELECT has_table_privilege('reporting', 'guarded', 'SELECT')::text"
        )
        .await,
        "true"
    );
    assert_eq!(
        scalar_text(
            &mut conn,
            "SELECT obj_description('run_totals'::regclass, 'pg_class')"
        )
        .await,
        "per account"
    );
    assert_eq!(
        scalar_text(
            &mut conn,
            "SELECT indexdef FROM pg_indexes WHERE indexname = 'run_totals_account'"
        )
        .await,
        "CREATE UNIQUE INDEX run_totals_account ON public.run_totals USING btree (account_id)"
    );
    let totals_after = scalar_text(
        &mut conn,
        "SELECT string_agg(account_id || ':' || total, ',' ORDER BY account_id) FROM run_totals",
    )
    .await;
    assert_eq!(
        totals_after, totals_before,
        "the materialized view holds the same data"
    );
    assert_eq!(
        scalar_text(&mut conn, "SELECT count(*)::text FROM runs").await,
        "2000"
    );

    let again = schema::plan(
        &model(&db).await,
        &target,
        Target::Sql(String::new()).compare_options(),
    );
    assert!(
        again.is_empty(),
        "second plan: {}",
        schema::format::plan_text(&again)
    );
}
