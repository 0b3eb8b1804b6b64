//! Preflight: every step existing rows can break is checked read-only against the live data, and
//! reported as a blocker with its count and example keys before anything changes.

use schema::{CompareOptions, Model, Plan, Preflight, Resolution, ResolveKind};
use testkit::TestDb;

use crate::support::{db_from, model, scalar_text};

/// The live database from `live`, the target from `target`, the plan between them and its
/// preflight.
async fn preflight_of(live: &str, target: &str) -> (TestDb, Model, Plan, Preflight) {
    let db = db_from(live).await;
    let to = model(&db_from(target).await).await;
    let from = model(&db).await;
    let plan = schema::plan(&from, &to, CompareOptions::default());
    let pf = schema::preflight(&db.url, &from, &plan, &[])
        .await
        .expect("preflight runs");
    (db, from, plan, pf)
}

fn only_blocker<'a>(pf: &'a Preflight, kind: &str) -> &'a schema::Blocker {
    let of_kind: Vec<_> = pf.blockers.iter().filter(|b| b.kind == kind).collect();
    assert_eq!(
        of_kind.len(),
        1,
        "one {kind} blocker expected:\n{}",
        pf.text()
    );
    of_kind[0]
}

#[tokio::test]
async fn a_new_not_null_over_nulls_is_a_blocker_with_its_count_and_three_example_keys() {
    let (_db, _, plan, pf) = preflight_of(
        "CREATE TABLE public.events (id bigint PRIMARY KEY, data jsonb);
         INSERT INTO public.events SELECT g, CASE WHEN g % 10 = 0 THEN NULL ELSE '{}'::jsonb END
           FROM generate_series(1, 100) g;",
        "CREATE TABLE public.events (id bigint PRIMARY KEY, data jsonb NOT NULL);",
    )
    .await;
    let b = only_blocker(&pf, "not-null");
    assert_eq!(b.count, 10, "rows 10, 20, ..., 100 hold NULL");
    assert_eq!(b.object, "public.events.data");
    assert_eq!(b.examples.len(), 3);
    for e in &b.examples {
        let id: i64 = e
            .strip_prefix("id=")
            .expect("keyed by the primary key")
            .parse()
            .unwrap();
        assert_eq!(id % 10, 0, "example {e} is a row with NULL data");
    }
    assert!(plan.steps[b.step - 1].sql.contains("SET NOT NULL"));
    assert!(!pf.is_clear());
}

#[tokio::test]
async fn a_required_column_added_to_a_table_with_rows_is_a_blocker_and_on_an_empty_table_is_not() {
    let live = "CREATE TABLE public.payments (id bigint PRIMARY KEY);
                CREATE TABLE public.empty (id bigint PRIMARY KEY);
                INSERT INTO public.payments SELECT generate_series(1, 7);";
    let target = "CREATE TABLE public.payments (id bigint PRIMARY KEY, provider text NOT NULL);
                  CREATE TABLE public.empty (id bigint PRIMARY KEY, provider text NOT NULL);";
    let (_db, _, _, pf) = preflight_of(live, target).await;
    let b = only_blocker(&pf, "not-null");
    assert_eq!(b.object, "public.payments.provider");
    assert_eq!(b.count, 7);
    assert_eq!(b.examples, vec!["id=1", "id=2", "id=3"]);
}

#[tokio::test]
async fn a_unique_key_over_duplicates_is_a_blocker_naming_the_duplicated_keys() {
    let (_db, _, _, pf) = preflight_of(
        "CREATE TABLE public.channels (id bigint PRIMARY KEY, user_id bigint, source text);
         INSERT INTO public.channels VALUES (1, 5, 'a'), (2, 5, 'b'), (3, 5, 'c'), (4, 6, 'a'),
                                            (5, 7, 'a'), (6, 7, 'b'), (7, NULL, 'x'), (8, NULL, 'y');",
        "CREATE TABLE public.channels (id bigint PRIMARY KEY, user_id bigint UNIQUE, source text);",
    )
    .await;
    let b = only_blocker(&pf, "unique");
    assert_eq!(
        b.count, 5,
        "3 rows of user 5 and 2 of user 7; NULLs are distinct"
    );
    let mut ex = b.examples.clone();
    ex.sort();
    assert_eq!(ex, vec!["user_id=5 (3 rows)", "user_id=7 (2 rows)"]);
}

#[tokio::test]
async fn a_partial_unique_index_over_duplicates_is_a_blocker_only_for_rows_it_covers() {
    let (_db, _, _, pf) = preflight_of(
        "CREATE TABLE public.subscriptions (id bigint PRIMARY KEY, user_id bigint NOT NULL, status text NOT NULL);
         INSERT INTO public.subscriptions VALUES
           (1, 1, 'active'), (2, 1, 'active'), (3, 2, 'active'), (4, 2, 'expired'), (5, 2, 'expired');",
        "CREATE TABLE public.subscriptions (id bigint PRIMARY KEY, user_id bigint NOT NULL, status text NOT NULL);
         CREATE UNIQUE INDEX one_active ON public.subscriptions (user_id) WHERE status = 'active';",
    )
    .await;
    let b = only_blocker(&pf, "unique");
    assert_eq!(b.count, 2, "only user 1 has two active rows");
    assert_eq!(b.examples, vec!["user_id=1 (2 rows)"]);
    assert_eq!(b.object, "public.subscriptions one_active");
}

#[tokio::test]
async fn a_check_over_violating_rows_is_a_blocker() {
    let (_db, _, _, pf) = preflight_of(
        "CREATE TABLE public.payments (id bigint PRIMARY KEY, status text);
         INSERT INTO public.payments VALUES (1, 'succeeded'), (2, 'paid'), (3, 'paid'), (4, NULL), (5, 'failed');",
        "CREATE TABLE public.payments (id bigint PRIMARY KEY, status text
           CONSTRAINT payments_status_check CHECK (status IN ('succeeded', 'failed', 'pending')));",
    )
    .await;
    let b = only_blocker(&pf, "check");
    assert_eq!(
        b.count, 2,
        "NULL passes a CHECK; the two 'paid' rows do not"
    );
    assert_eq!(b.examples, vec!["id=2", "id=3"]);
    assert_eq!(b.object, "public.payments payments_status_check");
}

#[tokio::test]
async fn a_foreign_key_over_orphan_rows_is_a_blocker() {
    let (_db, _, _, pf) = preflight_of(
        "CREATE TABLE public.users (id bigint PRIMARY KEY);
         CREATE TABLE public.letters (id bigint PRIMARY KEY, user_id bigint);
         INSERT INTO public.users VALUES (1), (2);
         INSERT INTO public.letters VALUES (10, 1), (11, 3), (12, NULL), (13, 4), (14, 2);",
        "CREATE TABLE public.users (id bigint PRIMARY KEY);
         CREATE TABLE public.letters (id bigint PRIMARY KEY, user_id bigint REFERENCES public.users (id));",
    )
    .await;
    let b = only_blocker(&pf, "foreign-key");
    assert_eq!(
        b.count, 2,
        "users 3 and 4 do not exist; NULL references nothing"
    );
    assert_eq!(b.examples, vec!["id=11", "id=13"]);
}

#[tokio::test]
async fn a_cast_that_fails_for_some_stored_values_is_a_blocker_naming_those_values() {
    let (_db, _, plan, pf) = preflight_of(
        "CREATE TABLE public.sessions (id bigint PRIMARY KEY, seconds text);
         INSERT INTO public.sessions SELECT g, g::text FROM generate_series(1, 1000) g;
         INSERT INTO public.sessions VALUES (1001, 'n/a'), (1002, 'n/a'), (1003, '12.5s'), (1004, NULL);",
        "CREATE TABLE public.sessions (id bigint PRIMARY KEY, seconds integer);",
    )
    .await;
    let b = only_blocker(&pf, "cast");
    assert_eq!(b.count, 3, "two 'n/a' rows and one '12.5s'");
    assert!(!b.count_is_lower_bound);
    let mut ex = b.examples.clone();
    ex.sort();
    assert_eq!(ex, vec!["value '12.5s' (1 rows)", "value 'n/a' (2 rows)"]);
    assert!(plan.steps[b.step - 1].sql.contains("TYPE integer"));
}

#[tokio::test]
async fn a_type_change_with_no_cast_at_all_is_a_blocker_even_before_reading_rows() {
    let (_db, _, _, pf) = preflight_of(
        "CREATE TABLE public.requests (id uuid PRIMARY KEY DEFAULT gen_random_uuid(), note text);
         INSERT INTO public.requests (note) SELECT 'r' FROM generate_series(1, 4);
         CREATE TABLE public.empty_requests (id uuid PRIMARY KEY);",
        "CREATE TABLE public.requests (id bigint PRIMARY KEY, note text);
         CREATE TABLE public.empty_requests (id bigint PRIMARY KEY);",
    )
    .await;
    let no_cast: Vec<_> = pf.blockers.iter().filter(|b| b.kind == "no-cast").collect();
    assert_eq!(no_cast.len(), 2, "{}", pf.text());
    let full = no_cast
        .iter()
        .find(|b| b.object == "public.requests.id")
        .unwrap();
    assert_eq!(full.count, 4);
    assert_eq!(full.examples.len(), 3);
    assert!(
        full.reason.contains("no cast from uuid to bigint"),
        "{}",
        full.reason
    );
    let empty = no_cast
        .iter()
        .find(|b| b.object == "public.empty_requests.id")
        .unwrap();
    assert_eq!(
        empty.count, 0,
        "no rows, but the statement still cannot run"
    );
}

#[tokio::test]
async fn clean_data_passes_preflight_and_the_plan_then_applies() {
    let (db, from, plan, pf) = preflight_of(
        "CREATE TABLE public.users (id bigint PRIMARY KEY, email text, age text);
         CREATE TABLE public.letters (id bigint PRIMARY KEY, user_id bigint);
         INSERT INTO public.users VALUES (1, 'a@x', '30'), (2, 'b@x', '41');
         INSERT INTO public.letters VALUES (1, 1), (2, 2);",
        "CREATE TABLE public.users (id bigint PRIMARY KEY, email text NOT NULL UNIQUE,
                                    age integer CHECK (age > 0));
         CREATE TABLE public.letters (id bigint PRIMARY KEY, user_id bigint REFERENCES public.users (id));",
    )
    .await;
    assert!(pf.is_clear(), "{}", pf.text());
    assert!(
        pf.checks >= 5,
        "not null, unique, cast, check, foreign key: {}",
        pf.text()
    );
    let to = model(&db_from(
        "CREATE TABLE public.users (id bigint PRIMARY KEY, email text NOT NULL UNIQUE,
                                    age integer CHECK (age > 0));
         CREATE TABLE public.letters (id bigint PRIMARY KEY, user_id bigint REFERENCES public.users (id));",
    )
    .await)
    .await;
    schema::apply(&db.url, &from, &plan, &to, Default::default(), &mut |_| {})
        .await
        .expect("a plan preflight passed applies");
}

#[tokio::test]
async fn preflight_changes_nothing_and_leaves_no_object_behind() {
    let live = "CREATE TABLE public.t (id bigint PRIMARY KEY, v text);
                INSERT INTO public.t VALUES (1, 'x'), (2, NULL);";
    let (db, _, _, pf) = preflight_of(
        live,
        "CREATE TABLE public.t (id bigint PRIMARY KEY, v integer NOT NULL);",
    )
    .await;
    assert_eq!(pf.blockers.len(), 2, "{}", pf.text());
    let mut conn = db.connect().await;
    assert_eq!(
        scalar_text(&mut conn, "SELECT format_type(atttypid, atttypmod) || ' ' || attnotnull FROM pg_attribute WHERE attrelid = 'public.t'::regclass AND attname = 'v'").await,
        "text false"
    );
    assert_eq!(
        scalar_text(
            &mut conn,
            "SELECT string_agg(coalesce(v, 'NULL'), ',' ORDER BY id) FROM public.t"
        )
        .await,
        "x,NULL"
    );
}

#[tokio::test]
async fn a_blocker_a_data_step_resolves_is_reported_as_resolved_and_not_as_a_blocker() {
    let live = "CREATE TABLE public.channels (id bigint PRIMARY KEY, user_id bigint);
                INSERT INTO public.channels VALUES (1, 5), (2, 5);";
    let target = "CREATE TABLE public.channels (id bigint PRIMARY KEY, user_id bigint UNIQUE);";
    let db = db_from(live).await;
    let to = model(&db_from(target).await).await;
    let from = model(&db).await;
    let plan = schema::plan(&from, &to, CompareOptions::default());
    let resolution = Resolution {
        step: "first_touch".into(),
        kind: ResolveKind::Unique,
        table: schema::QName::new("public", "channels"),
        columns: vec!["user_id".into()],
    };
    let pf = schema::preflight(&db.url, &from, &plan, &[resolution])
        .await
        .unwrap();
    assert!(pf.is_clear(), "{}", pf.text());
    assert_eq!(pf.resolved.len(), 1);
    assert_eq!(pf.resolved[0].resolved_by.as_deref(), Some("first_touch"));
    assert!(pf.text().contains("resolved by data step first_touch"));
    // Without the step the blocker is back.
    let pf = schema::preflight(&db.url, &from, &plan, &[]).await.unwrap();
    assert_eq!(pf.blockers.len(), 1);
}

#[tokio::test]
async fn a_declared_using_expression_that_fails_for_some_row_is_a_blocker_with_a_lower_bound() {
    let db = db_from(
        "CREATE TABLE public.payments (id bigint PRIMARY KEY, amount text, unit text);
         INSERT INTO public.payments VALUES (1, '10.50', 'rub'), (2, 'ten', 'rub'), (3, '7', 'kop');",
    )
    .await;
    let from = model(&db).await;
    let mut step = schema::Step::new(
        "table public.payments",
        "retype amount",
        "ALTER TABLE public.payments ALTER COLUMN amount TYPE bigint USING (...);",
    );
    step.checks.push(schema::DataCheck::Cast {
        table: schema::QName::new("public", "payments"),
        column: "amount".into(),
        from_type: "text".into(),
        to_type: "bigint".into(),
        using: "(round(amount::numeric * CASE unit WHEN 'rub' THEN 100 ELSE 1 END)::bigint)".into(),
        enum_labels: None,
    });
    let plan = Plan {
        steps: vec![step],
        ..Default::default()
    };
    let pf = schema::preflight(&db.url, &from, &plan, &[]).await.unwrap();
    let b = only_blocker(&pf, "cast");
    assert!(
        b.count_is_lower_bound,
        "other columns are read: no per-value count"
    );
    assert!(b.reason.contains("invalid input syntax"), "{}", b.reason);
}
