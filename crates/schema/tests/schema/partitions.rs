//! Indexes of partitioned tables: a new one reaches every partition, and one that some partition
//! lacks is a difference, not "at the target".

use crate::support::{converges, db_from, model, scalar_text};

const TABLES: &str = "CREATE TABLE events (id bigint NOT NULL, occurred timestamptz NOT NULL, payload jsonb)
         PARTITION BY RANGE (occurred);
     CREATE TABLE events_2026_04 PARTITION OF events FOR VALUES FROM ('2026-04-01') TO ('2026-05-01');";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_new_index_on_a_partitioned_table_is_built_on_its_partitions_too() {
    let (_plan, db) = converges(
        TABLES,
        &format!("{TABLES} CREATE INDEX events_payload_idx ON events USING gin (payload);"),
    )
    .await;
    let mut conn = db.connect().await;
    assert_eq!(
        scalar_text(
            &mut conn,
            "SELECT string_agg(c.relname || ':' || i.indisvalid, ',' ORDER BY c.relname)
             FROM pg_index i JOIN pg_class c ON c.oid = i.indexrelid
             WHERE i.indrelid IN ('events'::regclass, 'events_2026_04'::regclass)"
        )
        .await,
        "events_2026_04_payload_idx:true,events_payload_idx:true"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_partitioned_index_that_a_partition_lacks_differs_from_a_complete_one() {
    let only = db_from(&format!(
        "{TABLES} CREATE INDEX events_payload_idx ON ONLY events USING gin (payload);"
    ))
    .await;
    let complete = db_from(&format!(
        "{TABLES} CREATE INDEX events_payload_idx ON events USING gin (payload);"
    ))
    .await;
    let drift = schema::compare(
        &model(&only).await,
        &model(&complete).await,
        schema::CompareOptions::default(),
    );
    assert!(
        !drift.is_empty(),
        "an invalid partitioned index passed for a valid one"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_partition_keeps_its_own_default_when_its_parents_default_changes() {
    let tables = |parent_default: i32| {
        format!(
            "CREATE TABLE m (id int NOT NULL, qty int DEFAULT {parent_default}) PARTITION BY RANGE (id);
             CREATE TABLE m_own PARTITION OF m (qty DEFAULT 7) FOR VALUES FROM (0) TO (10);
             CREATE TABLE m_copy PARTITION OF m FOR VALUES FROM (10) TO (20);
             ALTER TABLE ONLY m_copy ALTER COLUMN qty SET DEFAULT {parent_default};"
        )
    };
    let (_plan, db) = converges(&tables(1), &tables(2)).await;
    let mut conn = db.connect().await;
    // Inserted into the partitions themselves: a row through the parent takes the parent's.
    sqlx::raw_sql("INSERT INTO m_own (id) VALUES (1); INSERT INTO m_copy (id) VALUES (11);")
        .execute(&mut conn)
        .await
        .unwrap();
    assert_eq!(
        scalar_text(
            &mut conn,
            "SELECT string_agg(qty::text, ',' ORDER BY id) FROM m"
        )
        .await,
        "7,2"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_new_partition_has_its_own_default_and_not_null_where_it_differs_from_its_parent() {
    let parent = "CREATE TABLE orders (id bigint NOT NULL, region text NOT NULL, priority int DEFAULT 0, notes text)
         PARTITION BY LIST (region);";
    let (plan, _db) = converges(
        parent,
        &format!(
            "{parent}
             CREATE TABLE orders_us PARTITION OF orders (priority DEFAULT 10, notes NOT NULL) FOR VALUES IN ('us');"
        ),
    )
    .await;
    let create = &plan.steps[0].sql;
    assert!(
        create.contains("priority WITH OPTIONS DEFAULT 10"),
        "{create}"
    );
}
