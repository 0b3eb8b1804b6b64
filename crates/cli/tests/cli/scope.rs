//! `--schema`: by default plan/apply/verify manage only the schemas the target has.

use crate::support::db_cmd;

#[tokio::test]
async fn verify_and_apply_leave_the_auth_schema_alone_unless_schema_names_it() {
    let db = testkit::empty_db().await;
    let mut conn = db.connect().await;
    sqlx::raw_sql(
        "CREATE SCHEMA auth;
         CREATE FUNCTION auth.uid() RETURNS uuid LANGUAGE sql STABLE AS $$ SELECT NULL::uuid $$;
         CREATE TABLE public.t (id bigint PRIMARY KEY);",
    )
    .execute(&mut conn)
    .await
    .unwrap();
    let dir = tempfile::tempdir().unwrap();
    let target = dir.path().join("schema");
    std::fs::create_dir(&target).unwrap();
    std::fs::write(
        target.join("010.sql"),
        "CREATE TABLE public.t (id bigint PRIMARY KEY);",
    )
    .unwrap();
    let t = target.to_str().unwrap();
    let verify = db_cmd(dir.path(), &db.url, &["verify", "--target", t]);
    assert_eq!(
        verify.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&verify.stdout)
    );
    let widened = db_cmd(
        dir.path(),
        &db.url,
        &[
            "verify", "--target", t, "--schema", "public", "--schema", "auth",
        ],
    );
    assert_eq!(widened.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&widened.stdout).contains("auth.uid()"));
    let apply = db_cmd(
        dir.path(),
        &db.url,
        &["apply", "--target", t, "--yes", "--no-backup"],
    );
    assert_eq!(
        apply.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&apply.stderr)
    );
    let kept: Option<String> = sqlx::query_scalar("SELECT to_regprocedure('auth.uid()')::text")
        .fetch_one(&mut conn)
        .await
        .unwrap();
    assert_eq!(kept.as_deref(), Some("auth.uid()"));
}
