//! Target files with statements that cannot share one transaction still load: a concurrent
//! index build, an enum label used right after it is added.

use schema::Target;

use crate::support::{self, converge, db_from};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_target_with_a_concurrent_index_and_a_freshly_added_enum_label_loads_and_converges() {
    let target = "CREATE TYPE mood AS ENUM ('sad');
         ALTER TYPE mood ADD VALUE 'happy';
         CREATE TABLE people (id int PRIMARY KEY, email text, m mood DEFAULT 'happy');
         -- a semicolon in a comment; and in a body:
         CREATE FUNCTION f() RETURNS int LANGUAGE plpgsql AS $$ BEGIN RETURN 1; END $$;
         CREATE INDEX CONCURRENTLY people_email ON people (email);";
    // The live database has both labels already: this test is about loading the target.
    let db = db_from(
        "CREATE TYPE mood AS ENUM ('sad', 'happy');
         CREATE TABLE people (id int PRIMARY KEY, email text, m mood);",
    )
    .await;
    let target = Target::Sql(target.into());
    let model = schema::load_target(&db.url, &target)
        .await
        .unwrap_or_else(|e| panic!("loading the target: {e}"));
    let people = &model.tables[&schema::model::QName::new("public", "people")];
    assert!(people.indexes.contains_key("people_email"), "{people:?}");
    let labels = model.enums.values().next().map(|e| e.labels.clone());
    assert_eq!(labels, Some(vec!["sad".to_string(), "happy".to_string()]));
    let opts = target.compare_options();
    converge(&db, &model, opts).await;
    let after = support::model(&db).await;
    assert!(schema::compare(&after, &model, opts).is_empty());
    assert!(schema::plan(&after, &model, opts).is_empty());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_error_in_a_file_loaded_statement_by_statement_names_its_line_in_the_file() {
    let db = db_from("").await;
    let target = "CREATE TABLE t (id int);\n\nCREATE INDEX CONCURRENTLY t_id ON t (id);\nSELECT nope FROM t;\n";
    let err = schema::load_target(&db.url, &Target::Sql(target.into()))
        .await
        .expect_err("the target does not load");
    let text = err.to_string();
    assert!(text.contains("line 4"), "{text}");
}
