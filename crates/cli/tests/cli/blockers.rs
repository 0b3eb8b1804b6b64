//! `db plan` lists blockers (text and JSON) and `db apply` refuses them with exit 1 and changes
//! nothing, whatever hazards are allowed; the security hazard kind is refused unless allowed.

use crate::support::{db_cmd, text};

async fn db_with(sql: &str) -> testkit::TestDb {
    let db = testkit::empty_db().await;
    let mut conn = db.connect().await;
    sqlx::raw_sql(sql)
        .execute(&mut conn)
        .await
        .expect("fixture");
    db
}

async fn shape(db: &testkit::TestDb) -> String {
    let mut conn = db.connect().await;
    sqlx::query_scalar::<_, String>(
        "SELECT string_agg(attname || ' ' || format_type(atttypid, atttypmod) || ' ' || attnotnull, ', ' ORDER BY attnum)
           FROM pg_attribute WHERE attrelid = 'public.payments'::regclass AND attnum > 0 AND NOT attisdropped",
    )
    .fetch_one(&mut conn)
    .await
    .unwrap()
}

#[tokio::test]
async fn apply_with_a_blocker_exits_1_and_changes_nothing_even_with_every_hazard_allowed() {
    let db = db_with(
        "CREATE TABLE public.payments (id bigint PRIMARY KEY, status text, amount numeric(10,2));
         INSERT INTO public.payments VALUES (1, 'paid', 10.5), (2, 'succeeded', 3), (3, NULL, 1);",
    )
    .await;
    let dir = tempfile::tempdir().unwrap();
    let target = dir.path().join("schema");
    std::fs::create_dir(&target).unwrap();
    std::fs::write(
        target.join("010.sql"),
        "CREATE TABLE public.payments (id bigint PRIMARY KEY,
            status text NOT NULL CONSTRAINT payments_status_check CHECK (status IN ('succeeded', 'failed')),
            amount bigint, provider text NOT NULL);",
    )
    .unwrap();
    let t = target.to_str().unwrap();
    let before = shape(&db).await;

    let plan = db_cmd(dir.path(), &db.url, &["plan", "--target", t]);
    assert_eq!(plan.status.code(), Some(0), "{}", text(&plan.stderr));
    let out = text(&plan.stdout);
    assert!(out.contains("Blockers (3)"), "{out}");
    assert!(
        out.contains("status becomes NOT NULL but rows hold NULL (1 rows); e.g. id=3"),
        "{out}"
    );
    assert!(out.contains("rows violate CHECK"), "{out}");
    assert!(
        out.contains("provider is added NOT NULL without a default to a table with rows (3 rows)"),
        "{out}"
    );

    let json = db_cmd(
        dir.path(),
        &db.url,
        &["plan", "--target", t, "--format", "json"],
    );
    let doc: serde_json::Value = serde_json::from_slice(&json.stdout).expect("json");
    let kinds: Vec<&str> = doc["blockers"]
        .as_array()
        .unwrap()
        .iter()
        .map(|b| b["kind"].as_str().unwrap())
        .collect();
    assert_eq!(
        kinds.iter().filter(|k| **k == "not-null").count(),
        2,
        "{doc}"
    );
    assert!(kinds.contains(&"check"), "{doc}");
    let check = doc["blockers"]
        .as_array()
        .unwrap()
        .iter()
        .find(|b| b["kind"] == "check")
        .unwrap();
    assert_eq!(check["count"], 1);
    assert_eq!(check["examples"][0], "id=1");

    let sql = db_cmd(
        dir.path(),
        &db.url,
        &["plan", "--target", t, "--format", "sql"],
    );
    let sql = text(&sql.stdout);
    assert!(
        sql.find("RAISE EXCEPTION").unwrap() < sql.find("ALTER TABLE").unwrap(),
        "a script with blockers fails before its first statement: {sql}"
    );

    let apply = db_cmd(
        dir.path(),
        &db.url,
        &[
            "apply",
            "--target",
            t,
            "--yes",
            "--allow-hazards",
            "all",
            "--no-backup",
        ],
    );
    assert_eq!(apply.status.code(), Some(1), "{}", text(&apply.stderr));
    assert!(
        text(&apply.stderr).contains("refused: 3 blockers"),
        "{}",
        text(&apply.stderr)
    );
    assert_eq!(shape(&db).await, before, "nothing changed");
}

#[tokio::test]
async fn removing_a_policy_disabling_row_security_or_revoking_a_grant_is_refused_unless_security_is_allowed(
) {
    let live = "DO $$ BEGIN IF NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = 'anon') THEN CREATE ROLE anon; END IF; END $$;
        CREATE TABLE public.payments (id bigint PRIMARY KEY);
        ALTER TABLE public.payments ENABLE ROW LEVEL SECURITY;
        CREATE POLICY everything ON public.payments TO anon USING (true);
        GRANT SELECT ON public.payments TO anon;";
    let db = db_with(live).await;
    let dir = tempfile::tempdir().unwrap();
    let target = dir.path().join("schema");
    std::fs::create_dir(&target).unwrap();
    std::fs::write(
        target.join("010.sql"),
        "CREATE TABLE public.payments (id bigint PRIMARY KEY);",
    )
    .unwrap();
    let t = target.to_str().unwrap();
    let refused = db_cmd(
        dir.path(),
        &db.url,
        &[
            "apply",
            "--target",
            t,
            "--yes",
            "--allow-hazards",
            "data-loss,lossy-cast,table-rewrite,matview-repopulate",
            "--no-backup",
        ],
    );
    assert_eq!(refused.status.code(), Some(1));
    let err = text(&refused.stderr);
    for reason in [
        "row-security policy everything is removed",
        "row security of public.payments is disabled",
        "anon loses SELECT on public.payments",
    ] {
        assert!(err.contains(reason), "{reason} not in {err}");
    }
    assert!(err.contains("--allow-hazards security"), "{err}");
    let mut conn = db.connect().await;
    let policies: i64 =
        sqlx::query_scalar("SELECT count(*) FROM pg_policies WHERE tablename = 'payments'")
            .fetch_one(&mut conn)
            .await
            .unwrap();
    assert_eq!(policies, 1, "nothing changed");

    let allowed = db_cmd(
        dir.path(),
        &db.url,
        &[
            "apply",
            "--target",
            t,
            "--yes",
            "--allow-hazards",
            "security",
            "--no-backup",
        ],
    );
    assert_eq!(allowed.status.code(), Some(0), "{}", text(&allowed.stderr));
    let policies: i64 =
        sqlx::query_scalar("SELECT count(*) FROM pg_policies WHERE tablename = 'payments'")
            .fetch_one(&mut conn)
            .await
            .unwrap();
    assert_eq!(policies, 0);
}
