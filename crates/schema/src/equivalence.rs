//! Telling apart view definitions that differ in text but not in meaning.
//!
//! `pg_get_viewdef` is not always a fixed point: a view created from its own rendering can render
//! differently (an output column of a later UNION branch gains an `AS int4` alias, for example).
//! When two definitions differ, the server renders both again through temporary views inside a
//! savepoint that is rolled back; if the renderings agree the definitions are the same view.
//! CHECKs and index definitions have the same quirk; `roundtrip` settles those (in a scratch
//! database, not here), and `reconcile_url` runs both.

use sqlx::{Acquire, Connection, PgConnection, Row};

use crate::model::Model;
use crate::SchemaError;

/// For every view of both models whose definitions differ but render the same, makes `to` carry
/// `from`'s text, so comparing and planning see no difference. Runs on a connection to the FROM
/// database (the definitions must parse there); leaves nothing behind.
pub async fn reconcile(
    conn: &mut PgConnection,
    from: &Model,
    to: &mut Model,
) -> Result<usize, SchemaError> {
    let candidates: Vec<_> = to
        .views
        .iter()
        .filter_map(|(name, tv)| {
            let fv = from.views.get(name)?;
            (fv.definition != tv.definition
                && fv.materialized == tv.materialized
                && fv.columns == tv.columns)
                .then(|| (name.clone(), fv.definition.clone(), tv.definition.clone()))
        })
        .collect();
    if candidates.is_empty() {
        return Ok(0);
    }
    let mut tx = Connection::begin(&mut *conn).await?;
    sqlx::query("SET LOCAL search_path = ''")
        .execute(&mut *tx)
        .await?;
    let mut equal = 0;
    for (name, a, b) in candidates {
        let (ra, rb) = (render(&mut tx, &a).await, render(&mut tx, &b).await);
        if let (Some(ra), Some(rb)) = (ra, rb) {
            if ra == rb {
                if let Some(v) = to.views.get_mut(&name) {
                    v.definition = a;
                    equal += 1;
                }
            }
        }
    }
    tx.rollback().await?;
    Ok(equal)
}

/// Same as `reconcile`, connecting to `url` (the FROM database) for it; then the same for CHECKs
/// and index definitions (`roundtrip::reconcile_checks`, in a scratch database on that server),
/// and last, for the CHECKs a plan will still write, a text that the server renders back as the
/// target's own (`roundtrip::preserve::preserve_checks`). Returns how many definitions of `to`
/// took `from`'s text.
pub async fn reconcile_url(url: &str, from: &Model, to: &mut Model) -> Result<usize, SchemaError> {
    let mut conn = crate::target::connect(url).await?;
    let views = reconcile(&mut conn, from, to).await;
    let _ = conn.close().await;
    let settled = views? + crate::roundtrip::reconcile_checks(url, from, to).await?;
    crate::roundtrip::preserve::preserve_checks(url, from, to).await?;
    Ok(settled)
}

/// The server's rendering of `definition` as a fresh view, or None when it does not parse here.
async fn render(conn: &mut PgConnection, definition: &str) -> Option<String> {
    let mut sp = Connection::begin(&mut *conn).await.ok()?;
    let created = sqlx::raw_sql(&format!(
        "CREATE TEMPORARY VIEW soprovod_render AS {definition}"
    ))
    .execute(&mut *sp)
    .await;
    let out = match created {
        Ok(_) => sqlx::query(
            "SELECT pg_catalog.pg_get_viewdef('pg_temp.soprovod_render'::regclass) AS d",
        )
        .fetch_one(sp.acquire().await.ok()?)
        .await
        .ok()
        .and_then(|r| r.try_get::<String, _>("d").ok()),
        Err(_) => None,
    };
    let _ = sp.rollback().await;
    out.map(|d| d.trim().trim_end_matches(';').to_string())
}
