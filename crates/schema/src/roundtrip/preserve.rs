//! Making a CHECK or partial index the plan adds come out with the target's own text, where
//! PostgreSQL would render the target's text differently once it is run again.
//!
//! The round trip of the parent module makes such a pair count as equal; the database the plan
//! makes still holds the second rendering, which a text comparison (a `pg_dump` of it against a
//! dump of the target) reports as a difference. The known case is an `IN` list over a `varchar`
//! column: its array of `varchar` cast to `text[]` as a whole renders as `(ARRAY[…])::text[]`,
//! and PostgreSQL parses that cast into each element instead. Spelled with the array's own type
//! first, `(ARRAY[…])::character varying[]::text[]`, it parses into the original tree and renders
//! as the target's text. The spelled text is used only when the scratch database renders it to
//! exactly the target's text; anything else keeps the target's text as it was.

use sqlx::PgConnection;

use super::scratch::{column_sql, make_owner_with, render};
use super::{in_scratch, validity, Kind, Owner, Pair};
use crate::model::Model;
use crate::SchemaError;

/// For every CHECK of a table or domain and every index of `to` that the plan will write (FROM
/// lacks it or holds another text) and that contains an array cast, puts in `to` a text the server renders exactly
/// as `to`'s, if one is found (see the module doc). Returns how many were changed. A scratch
/// database is made only when there is a candidate.
pub async fn preserve_checks(
    server_url: &str,
    from: &Model,
    to: &mut Model,
) -> Result<usize, SchemaError> {
    let candidates = candidates(from, to);
    if candidates.is_empty() {
        return Ok(0);
    }
    in_scratch(server_url, to, async |conn, to| {
        spell_all(conn, to, &candidates).await
    })
    .await
}

/// Whether a definition has the shape `(ARRAY[…])::`.
fn has_array_cast(definition: &str) -> bool {
    definition.contains("(ARRAY[") && definition.contains("])::")
}

/// The CHECKs and indexes of `to` the plan will write, with an array cast. An index of a
/// partitioned table or marked invalid is left as it is (as in the parent module).
fn candidates(from: &Model, to: &Model) -> Vec<Pair> {
    let mut out = Vec::new();
    for (name, tt) in &to.tables {
        for (cname, tc) in &tt.constraints {
            let live = from
                .tables
                .get(name)
                .and_then(|t| t.constraints.get(cname))
                .map(|c| c.definition.clone());
            if tc.kind == crate::model::ConstraintKind::Check
                && has_array_cast(&tc.definition)
                && live.as_deref() != Some(tc.definition.as_str())
            {
                out.push(Pair {
                    owner: Owner::Table(name.clone()),
                    kind: Kind::Check,
                    name: cname.clone(),
                    live: live.unwrap_or_default(),
                    target: tc.definition.clone(),
                });
            }
        }
        if tt.partition_key.is_some() {
            continue;
        }
        for (iname, ti) in &tt.indexes {
            let live = from
                .tables
                .get(name)
                .and_then(|t| t.indexes.get(iname))
                .map(|i| i.definition.clone());
            if has_array_cast(&ti.definition)
                && !ti.definition.ends_with("/* invalid */")
                && live.as_deref() != Some(ti.definition.as_str())
            {
                out.push(Pair {
                    owner: Owner::Table(name.clone()),
                    kind: Kind::Index,
                    name: iname.clone(),
                    live: live.unwrap_or_default(),
                    target: ti.definition.clone(),
                });
            }
        }
    }
    for (name, td) in &to.domains {
        for (cname, tc) in &td.constraints {
            let live = from
                .domains
                .get(name)
                .and_then(|d| d.constraints.get(cname))
                .map(|c| c.definition.clone());
            if has_array_cast(&tc.definition) && live.as_deref() != Some(tc.definition.as_str()) {
                out.push(Pair {
                    owner: Owner::Domain(name.clone()),
                    kind: Kind::Check,
                    name: cname.clone(),
                    live: live.unwrap_or_default(),
                    target: tc.definition.clone(),
                });
            }
        }
    }
    out
}

/// Makes each candidate's owner as `to` declares it, then looks for its spelled text.
async fn spell_all<'p>(
    conn: &mut PgConnection,
    to: &Model,
    candidates: &'p [Pair],
) -> Result<Vec<(&'p Pair, String)>, SchemaError> {
    let mut made: Vec<(&Owner, bool)> = Vec::new();
    let mut out = Vec::new();
    for pair in candidates {
        let ok = match made.iter().find(|(o, _)| *o == &pair.owner) {
            Some((_, ok)) => *ok,
            None => {
                let ok = make_owner(conn, &pair.owner, to).await;
                made.push((&pair.owner, ok));
                ok
            }
        };
        if ok {
            if let Some(text) = spelled(conn, pair).await {
                out.push((pair, text));
            }
        }
    }
    Ok(out)
}

/// The table with every column of `to`'s, or the domain, in the scratch database.
async fn make_owner(conn: &mut PgConnection, owner: &Owner, to: &Model) -> bool {
    let columns: Vec<String> = match owner {
        Owner::Table(n) => match to.tables.get(n) {
            Some(t) => t.columns.iter().map(column_sql).collect(),
            None => return false,
        },
        Owner::Domain(_) => Vec::new(),
    };
    make_owner_with(conn, owner, to, &columns).await
}

/// The spelled text of `pair`'s target (with its `NOT VALID`), when the target is not a fixed
/// point and the spelled text renders exactly as the target; else None.
async fn spelled(conn: &mut PgConnection, pair: &Pair) -> Option<String> {
    let (target, not_valid) = validity(&pair.kind, &pair.target);
    if render(conn, pair, target).await? == target {
        return None;
    }
    let mut text = target.to_string();
    // Right to left, so the offsets of the casts still to spell stay valid.
    for (open, close) in array_casts(target).into_iter().rev() {
        let array = &target[open + 1..close];
        let typed: Option<String> =
            sqlx::query_scalar(&format!("SELECT pg_catalog.pg_typeof({array})::text"))
                .fetch_one(&mut *conn)
                .await
                .ok();
        if let Some(typed) = typed {
            text.insert_str(close + 1, &format!("::{typed}"));
        }
    }
    if text == target || render(conn, pair, &text).await? != target {
        return None;
    }
    let suffix = if not_valid { " NOT VALID" } else { "" };
    Some(format!("{text}{suffix}"))
}

/// The casts `(ARRAY[…])::` in `definition`: for each, the offset of its `(` and of the `)` that
/// closes it, outside quoted literals and identifiers.
fn array_casts(definition: &str) -> Vec<(usize, usize)> {
    let bytes = definition.as_bytes();
    let mut out = Vec::new();
    let mut from = 0;
    while let Some(found) = definition[from..].find("(ARRAY[") {
        let open = from + found;
        from = open + 1;
        let Some(end) = closing_bracket(bytes, open + "(ARRAY".len()) else {
            continue;
        };
        if definition[end + 1..].starts_with(")::") {
            out.push((open, end + 1));
        }
    }
    out
}

/// The offset of the `]` that closes the `[` at `start`, skipping nested brackets and the insides
/// of '…' literals and "…" identifiers (a doubled quote is the quote itself).
fn closing_bracket(bytes: &[u8], start: usize) -> Option<usize> {
    let mut depth = 0usize;
    let mut quote: Option<u8> = None;
    let mut i = start;
    while i < bytes.len() {
        let b = bytes[i];
        match quote {
            Some(q) if b == q => {
                if bytes.get(i + 1) == Some(&q) {
                    i += 1;
                } else {
                    quote = None;
                }
            }
            Some(_) => {}
            None => match b {
                b'\'' | b'"' => quote = Some(b),
                b'[' => depth += 1,
                b']' => {
                    depth -= 1;
                    if depth == 0 {
                        return Some(i);
                    }
                }
                _ => {}
            },
        }
        i += 1;
    }
    None
}

#[cfg(test)]
mod tests {
    use super::{array_casts, has_array_cast};

    #[test]
    fn array_casts_are_found_outside_quotes_with_their_closing_parenthesis() {
        let d = "CHECK (((s)::text = ANY ((ARRAY['a]'::character varying, 'b''['::character varying])::text[])))";
        let casts = array_casts(d);
        assert_eq!(casts.len(), 1);
        let (open, close) = casts[0];
        assert_eq!(
            &d[open..=close],
            "(ARRAY['a]'::character varying, 'b''['::character varying])"
        );
        assert_eq!(&d[close + 1..close + 3], "::");
        // Not a cast of the array as a whole: nothing to spell.
        let elementwise = "CHECK (((s)::text = ANY (ARRAY[('a'::character varying)::text])))";
        assert!(array_casts(elementwise).is_empty());
        assert!(!has_array_cast(elementwise));
        let nested = "CHECK ((a = ANY ((ARRAY[ARRAY[1, 2], ARRAY[3, 4]])::bigint[])))";
        assert_eq!(array_casts(nested).len(), 1);
    }
}
