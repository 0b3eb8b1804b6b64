//! `db plan|apply --online` through the binary: the plan says which way each change takes (text
//! and JSON), the apply reports its online steps one by one and ends at the target.

use crate::support::{db_cmd, text};

const BEFORE: &str = r#"
CREATE TABLE public.owners (id integer PRIMARY KEY);
CREATE TABLE public.items (id integer PRIMARY KEY, owner_id integer NOT NULL, code text);
CREATE VIEW public.item_owners AS SELECT owner_id, count(*) AS n FROM public.items GROUP BY owner_id;
INSERT INTO public.owners SELECT g FROM generate_series(1, 50) g;
INSERT INTO public.items SELECT g, 1 + g % 50, 'c' || g FROM generate_series(1, 2000) g;
"#;

const AFTER: &str = r#"
CREATE TABLE public.owners (id integer PRIMARY KEY);
CREATE TABLE public.items (id integer PRIMARY KEY, owner_id bigint NOT NULL, code text NOT NULL);
CREATE VIEW public.item_owners AS SELECT owner_id, count(*) AS n FROM public.items GROUP BY owner_id;
CREATE INDEX items_code_idx ON public.items (code);
ALTER TABLE public.items ADD CONSTRAINT items_owner_fk FOREIGN KEY (owner_id) REFERENCES public.owners (id);
"#;

#[tokio::test]
async fn online_plan_and_apply_say_which_way_each_change_takes_and_reach_the_target() {
    let db = testkit::empty_db().await;
    let mut conn = db.connect().await;
    sqlx::raw_sql(BEFORE).execute(&mut conn).await.unwrap();
    let dir = tempfile::tempdir().unwrap();
    let target = dir.path().join("schema");
    std::fs::create_dir(&target).unwrap();
    std::fs::write(target.join("010.sql"), AFTER).unwrap();
    let t = target.to_str().unwrap();
    let url = db.url.as_str();

    let plan = db_cmd(
        dir.path(),
        url,
        &["plan", "--target", t, "--online", "--format", "json"],
    );
    assert_eq!(plan.status.code(), Some(0), "{}", text(&plan.stderr));
    let doc: serde_json::Value = serde_json::from_slice(&plan.stdout).unwrap();
    let paths = doc["online"]["paths"].as_array().expect("paths");
    let online: std::collections::BTreeSet<&str> = paths
        .iter()
        .filter(|p| p["path"] == "online")
        .map(|p| p["change"].as_str().unwrap())
        .collect();
    assert_eq!(
        online,
        [
            "retype owner_id integer → bigint",
            "index items_code_idx",
            "constraint items_owner_fk",
            "code not null"
        ]
        .into(),
        "{paths:#?}"
    );
    assert!(paths.iter().all(|p| !p["why"].as_str().unwrap().is_empty()));

    let text_plan = db_cmd(dir.path(), url, &["plan", "--target", t, "--online"]);
    let out = text(&text_plan.stdout);
    assert!(out.contains("Paths"), "{out}");
    assert!(out.contains("expand/contract"), "{out}");

    let apply = db_cmd(
        dir.path(),
        url,
        &[
            "apply",
            "--target",
            t,
            "--online",
            "--yes",
            "--no-backup",
            "--batch-rows",
            "500",
        ],
    );
    let err = text(&apply.stderr);
    assert_eq!(
        apply.status.code(),
        Some(0),
        "{}\n{err}",
        text(&apply.stdout)
    );
    assert!(
        err.contains("[prepare] public.items: 2000 rows copied"),
        "{err}"
    );
    assert!(err.contains("[swap] public.items swapped"), "{err}");
    assert!(
        err.contains("[tail] CREATE INDEX CONCURRENTLY items_code_idx"),
        "{err}"
    );
    assert!(err.contains("VALIDATE CONSTRAINT items_owner_fk"), "{err}");

    let verify = db_cmd(dir.path(), url, &["verify", "--target", t]);
    assert_eq!(verify.status.code(), Some(0), "{}", text(&verify.stdout));
}
