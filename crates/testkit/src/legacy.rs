//! The old Python bot's real database, built from its own SQL files (`../shared/reference/legacy/`)
//! exactly as that directory's README says: state A (production just before v9.5) and state B
//! (production today), then filled with the dirty data its bugs left behind (see `legacy_data`).

use std::path::{Path, PathBuf};

use sqlx::{Connection, PgConnection};

pub use crate::legacy_data::{fill_dirty_data, LegacySize};

/// Which production state to build.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LegacyState {
    /// Production just before v9.5: `00_supabase_platform.sql`, `supabase_schema.sql`,
    /// `20_prod_drift_before_v95.sql`.
    A,
    /// Production today: state A, then the v9.5 stages, v9.6, v9.9, v9.9.1, v10.1, v10.1.1.
    B,
}

/// The files of state B after state A, in the README's order.
const LATER: &[&str] = &[
    "later/v9.5_prod_sync_fixed.sql",
    "later/v9.5_prod_sync_step2.sql",
    "later/v9.5_prod_sync_step3.sql",
    "later/v9.6_fix_updated_at_trigger.sql",
    "later/v9.9_atomic_increment.sql",
    "later/v9.9.1_fix_plan_type.sql",
    "later/v10.1_add_yookassa_payments.sql",
    "later/v10.1.1_fix_payment_constraints.sql",
];

/// The shared reference directory, `../shared/reference/legacy` next to the workspace.
pub fn legacy_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../../shared/reference/legacy")
}

/// Splits a script into statements at top-level semicolons, keeping quoted text, dollar-quoted
/// bodies and comments intact. Statements holding only comments are left out.
pub fn split_statements(sql: &str) -> Vec<String> {
    let bytes = sql.as_bytes();
    let mut out = Vec::new();
    let mut start = 0;
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'-' if bytes.get(i + 1) == Some(&b'-') => {
                while i < bytes.len() && bytes[i] != b'\n' {
                    i += 1;
                }
            }
            b'/' if bytes.get(i + 1) == Some(&b'*') => {
                i += 2;
                while i + 1 < bytes.len() && !(bytes[i] == b'*' && bytes[i + 1] == b'/') {
                    i += 1;
                }
                i += 2;
            }
            q @ (b'\'' | b'"') => {
                i += 1;
                while i < bytes.len() && bytes[i] != q {
                    i += 1;
                }
                i += 1;
            }
            b'$' => {
                // A dollar quote: $$ or $tag$ (a tag is letters, digits and underscores).
                let tag_end = bytes[i + 1..]
                    .iter()
                    .position(|b| !(b.is_ascii_alphanumeric() || *b == b'_'))
                    .map(|p| i + 1 + p);
                match tag_end {
                    Some(e) if bytes[e] == b'$' => {
                        let tag = &sql[i..=e];
                        match sql[e + 1..].find(tag) {
                            Some(p) => i = e + 1 + p + tag.len(),
                            None => i = bytes.len(),
                        }
                    }
                    _ => i += 1,
                }
            }
            b';' => {
                push_statement(&mut out, &sql[start..i]);
                i += 1;
                start = i;
            }
            _ => i += 1,
        }
    }
    push_statement(&mut out, &sql[start.min(sql.len())..]);
    out
}

fn push_statement(out: &mut Vec<String>, text: &str) {
    let has_code = text.lines().any(|l| {
        let l = l.trim();
        !l.is_empty() && !l.starts_with("--")
    });
    let only_block_comment = text.trim().starts_with("/*") && text.trim().ends_with("*/");
    if has_code && !only_block_comment {
        out.push(text.trim().to_string());
    }
}

/// Runs every statement of `file` in autocommit mode; with `retry`, the statements that failed
/// (forward references) run once more, in order, after the rest.
async fn run_file(
    conn: &mut PgConnection,
    dir: &Path,
    file: &str,
    retry: bool,
) -> Result<(), String> {
    let sql =
        std::fs::read_to_string(dir.join(file)).map_err(|e| format!("reading {file}: {e}"))?;
    let mut failed = Vec::new();
    for statement in split_statements(&sql) {
        if let Err(e) = sqlx::raw_sql(&statement).execute(&mut *conn).await {
            if !retry {
                return Err(format!("{file}: {e}\n{statement}"));
            }
            failed.push(statement);
        }
    }
    for statement in failed {
        sqlx::raw_sql(&statement)
            .execute(&mut *conn)
            .await
            .map_err(|e| format!("{file} (retried): {e}\n{statement}"))?;
    }
    Ok(())
}

/// Roles are cluster-wide: concurrent tests of one process build them one at a time.
static PLATFORM: tokio::sync::Mutex<()> = tokio::sync::Mutex::const_new(());

/// Builds `state`'s schema into the empty database at `url` (no rows).
pub async fn build_schema(url: &str, dir: &Path, state: LegacyState) -> Result<(), String> {
    let mut conn = PgConnection::connect(url)
        .await
        .map_err(|e| format!("connecting: {e}"))?;
    {
        let _one_at_a_time = PLATFORM.lock().await;
        // Another test process on the same cluster may create the roles between the check and
        // the CREATE: one retry sees them.
        if run_file(&mut conn, dir, "00_supabase_platform.sql", false)
            .await
            .is_err()
        {
            run_file(&mut conn, dir, "00_supabase_platform.sql", false).await?;
        }
    }
    run_file(&mut conn, dir, "supabase_schema.sql", true).await?;
    run_file(&mut conn, dir, "20_prod_drift_before_v95.sql", false).await?;
    if state == LegacyState::B {
        for file in LATER {
            run_file(&mut conn, dir, file, false).await?;
        }
    }
    let _ = conn.close().await;
    Ok(())
}

/// Builds `state` and fills it with dirty data of `size` from `seed`.
pub async fn build(
    url: &str,
    dir: &Path,
    state: LegacyState,
    size: LegacySize,
    seed: u32,
) -> Result<(), String> {
    build_schema(url, dir, state).await?;
    fill_dirty_data(url, state, size, seed).await
}

#[cfg(test)]
mod tests {
    use super::split_statements;

    #[test]
    fn statements_split_at_top_level_semicolons_only() {
        let sql = "-- a; comment\nCREATE TABLE a (x text DEFAULT ';');\n\
                   DO $$ BEGIN PERFORM 1; END $$;\n\
                   CREATE FUNCTION f() RETURNS int AS $body$ SELECT 1; $body$ LANGUAGE sql;\n\
                   /* SELECT 2; */\nSELECT \"a;b\" FROM t";
        let s = split_statements(sql);
        assert_eq!(s.len(), 4, "{s:#?}");
        assert!(s[1].starts_with("DO $$") && s[1].ends_with("END $$"));
        assert!(s[2].ends_with("LANGUAGE sql"));
        assert!(s[3].ends_with("FROM t"));
    }
}
