//! Telling apart CHECKs (of tables and domains), index definitions (partial-index predicates),
//! generated-column expressions and policy expressions whose text differs but that PostgreSQL
//! renders the same after a round trip.
//!
//! `pg_get_constraintdef` is not a fixed point: `status varchar(10) … CHECK (status IN ('a',
//! 'b'))` renders as `((status)::text = ANY ((ARRAY['a'::character varying, …])::text[]))`, and
//! that text, added to another database (which is what a plan does, and what pg_dump/restore
//! does), renders as `((status)::text = ANY (ARRAY[('a'::character varying)::text, …]))`. Compared
//! as text the target is then never reached. So, before comparing, each pair of same-named
//! definitions that differ as text is rendered again by the server in ONE scratch database on the
//! same server — created only when such a pair exists, dropped afterwards whatever happens; the
//! live database is not touched (no lock, no temporary table there). The scratch gets the table's
//! columns that both models declare alike (name, type, collation) or the domain's base type, each
//! definition is added and read back until its text stops changing (at most three rounds), and
//! when both sides end at the same text the target takes the live side's text, so nothing is
//! planned and verify sees them equal. A pair the scratch cannot render (a user type or function
//! it lacks, a column that differs between the two sides) stays a difference: the round trip can
//! only remove a difference PostgreSQL itself does not see, never hide a real one.

pub mod preserve;
mod scratch;

use std::collections::BTreeMap;

use sqlx::{Connection, PgConnection};

use crate::model::{Model, QName};
use crate::target::Scratch;
use crate::SchemaError;
use scratch::{make_owner, render};

/// How many times a definition is rendered at most before its last text counts.
const ROUNDS: usize = 3;

/// What a definition belongs to, and so how the scratch renders it.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
enum Owner {
    Table(QName),
    Domain(QName),
}

#[derive(Debug, Clone, PartialEq, Eq)]
enum Kind {
    /// A table's or domain's CHECK constraint.
    Check,
    /// A table's index (its whole `CREATE INDEX` statement).
    Index,
    /// The expression of a generated column of this type.
    Generated { data_type: String },
    /// A policy's USING expression.
    PolicyUsing,
    /// A policy's WITH CHECK expression.
    PolicyCheck,
}

/// The name of the column or policy an expression is rendered on in the scratch database; no
/// expression names its own column or policy, so any name renders the same.
const PROBE: &str = "soprovod_roundtrip";

/// Two definitions of one object that differ as text.
#[derive(Debug)]
struct Pair {
    owner: Owner,
    kind: Kind,
    name: String,
    live: String,
    target: String,
}

/// For every CHECK (table or domain), index, generated column and policy expression that both
/// models have under one name with definitions that differ as text but that the server renders
/// the same, makes `to` carry `from`'s text (keeping `to`'s own `NOT VALID`). `from` is the live
/// side; `server_url` names a database on the server the scratch database is made on. Returns
/// how many pairs were settled. When no pair differs nothing is created. If the scratch database
/// cannot be created (no CREATEDB), every pair stays a difference.
pub async fn reconcile_checks(
    server_url: &str,
    from: &Model,
    to: &mut Model,
) -> Result<usize, SchemaError> {
    let pairs = pairs(from, to);
    if pairs.is_empty() {
        return Ok(0);
    }
    in_scratch(server_url, to, async |conn, to| {
        settle_all(conn, from, to, &pairs).await
    })
    .await
}

/// Runs `work` in one scratch database next to `server_url` (search_path empty, as the models'
/// texts are rendered), dropped afterwards whatever happens, then puts each text `work` returns
/// in place of its pair's definition in `to`. Returns how many were put: none when the scratch
/// database cannot be created (no CREATEDB).
async fn in_scratch<'p>(
    server_url: &str,
    to: &mut Model,
    work: impl AsyncFnOnce(&mut PgConnection, &Model) -> Result<Vec<(&'p Pair, String)>, SchemaError>,
) -> Result<usize, SchemaError> {
    let Ok(scratch) = Scratch::create(server_url).await else {
        return Ok(0);
    };
    let done = async {
        let mut conn = scratch.connect(server_url).await?;
        sqlx::raw_sql("SET search_path = ''")
            .execute(&mut conn)
            .await?;
        let done = work(&mut conn, to).await;
        let _ = conn.close().await;
        done
    }
    .await;
    let dropped = scratch.drop().await;
    let done = done?;
    dropped?;
    let n = done.len();
    for (pair, text) in done {
        adopt(to, pair, text);
    }
    Ok(n)
}

/// The pairs to round-trip: same owner, kind and name, text differs. An index marked invalid or
/// on a partitioned table stays as it is (its difference is real or not renderable on a plain
/// table).
fn pairs(from: &Model, to: &Model) -> Vec<Pair> {
    let mut out = Vec::new();
    for (name, tt) in &to.tables {
        let Some(ft) = from.tables.get(name) else {
            continue;
        };
        for (cname, tc) in &tt.constraints {
            let Some(fc) = ft.constraints.get(cname) else {
                continue;
            };
            if tc.kind == crate::model::ConstraintKind::Check
                && fc.kind == tc.kind
                && fc.definition != tc.definition
            {
                out.push(Pair {
                    owner: Owner::Table(name.clone()),
                    kind: Kind::Check,
                    name: cname.clone(),
                    live: fc.definition.clone(),
                    target: tc.definition.clone(),
                });
            }
        }
        for tc in &tt.columns {
            let Some(fc) = ft.column(&tc.name) else {
                continue;
            };
            if let (Some(live), Some(target)) = (&fc.generated, &tc.generated) {
                if live != target && fc.data_type == tc.data_type {
                    out.push(Pair {
                        owner: Owner::Table(name.clone()),
                        kind: Kind::Generated {
                            data_type: tc.data_type.clone(),
                        },
                        name: tc.name.clone(),
                        live: live.clone(),
                        target: target.clone(),
                    });
                }
            }
        }
        for (pname, tp) in &tt.policies {
            let Some(fp) = ft.policies.get(pname) else {
                continue;
            };
            let expressions = [
                (Kind::PolicyUsing, &fp.using, &tp.using),
                (Kind::PolicyCheck, &fp.with_check, &tp.with_check),
            ];
            for (kind, live, target) in expressions {
                if let (Some(live), Some(target)) = (live, target) {
                    if live != target {
                        out.push(Pair {
                            owner: Owner::Table(name.clone()),
                            kind,
                            name: pname.clone(),
                            live: live.clone(),
                            target: target.clone(),
                        });
                    }
                }
            }
        }
        if tt.partition_key.is_some() || ft.partition_key.is_some() {
            continue;
        }
        for (iname, ti) in &tt.indexes {
            let Some(fi) = ft.indexes.get(iname) else {
                continue;
            };
            if fi.definition != ti.definition
                && !fi.definition.ends_with("/* invalid */")
                && !ti.definition.ends_with("/* invalid */")
            {
                out.push(Pair {
                    owner: Owner::Table(name.clone()),
                    kind: Kind::Index,
                    name: iname.clone(),
                    live: fi.definition.clone(),
                    target: ti.definition.clone(),
                });
            }
        }
    }
    for (name, td) in &to.domains {
        let Some(fd) = from.domains.get(name) else {
            continue;
        };
        if fd.base_type != td.base_type || fd.collation != td.collation {
            continue;
        }
        for (cname, tc) in &td.constraints {
            let Some(fc) = fd.constraints.get(cname) else {
                continue;
            };
            if fc.definition != tc.definition {
                out.push(Pair {
                    owner: Owner::Domain(name.clone()),
                    kind: Kind::Check,
                    name: cname.clone(),
                    live: fc.definition.clone(),
                    target: tc.definition.clone(),
                });
            }
        }
    }
    out
}

/// Makes each pair's owner in the scratch database, then renders both sides of every pair.
/// Returns the pairs found equal, with the text the target takes.
async fn settle_all<'p>(
    conn: &mut PgConnection,
    from: &Model,
    to: &Model,
    pairs: &'p [Pair],
) -> Result<Vec<(&'p Pair, String)>, SchemaError> {
    let mut made: BTreeMap<&Owner, bool> = BTreeMap::new();
    let mut out = Vec::new();
    for pair in pairs {
        if !made.contains_key(&pair.owner) {
            let ok = make_owner(conn, &pair.owner, from, to).await;
            made.insert(&pair.owner, ok);
        }
        if made[&pair.owner] {
            if let Some(text) = settle(conn, pair).await {
                out.push((pair, text));
            }
        }
    }
    Ok(out)
}

/// The text the target takes when both sides of `pair` end at the same rendering, else None.
async fn settle(conn: &mut PgConnection, pair: &Pair) -> Option<String> {
    let (live, _) = validity(&pair.kind, &pair.live);
    let (target, target_not_valid) = validity(&pair.kind, &pair.target);
    let a = fixed_point(conn, pair, live).await?;
    let b = fixed_point(conn, pair, target).await?;
    // A NOT VALID that differs stays a difference (it is what VALIDATE CONSTRAINT is planned
    // from); only the expression's text is taken from the live side.
    (a == b).then(|| {
        let suffix = if target_not_valid { " NOT VALID" } else { "" };
        format!("{live}{suffix}")
    })
}

/// A CHECK's definition without ` NOT VALID`, and whether it had it.
fn validity<'d>(kind: &Kind, definition: &'d str) -> (&'d str, bool) {
    match (kind, definition.strip_suffix(" NOT VALID")) {
        (Kind::Check, Some(valid)) => (valid, true),
        _ => (definition, false),
    }
}

/// Renders `definition` until its text stops changing, at most `ROUNDS` times.
async fn fixed_point(conn: &mut PgConnection, pair: &Pair, definition: &str) -> Option<String> {
    let mut text = definition.to_string();
    for _ in 0..ROUNDS {
        let next = render(conn, pair, &text).await?;
        if next == text {
            break;
        }
        text = next;
    }
    Some(text)
}

/// Puts `text` in place of the target's definition of `pair`.
fn adopt(to: &mut Model, pair: &Pair, text: String) {
    match (&pair.owner, &pair.kind) {
        (Owner::Table(t), Kind::Check) => {
            if let Some(c) = to
                .tables
                .get_mut(t)
                .and_then(|t| t.constraints.get_mut(&pair.name))
            {
                c.definition = text;
            }
        }
        (Owner::Table(t), Kind::Index) => {
            if let Some(i) = to
                .tables
                .get_mut(t)
                .and_then(|t| t.indexes.get_mut(&pair.name))
            {
                i.definition = text;
            }
        }
        (Owner::Domain(d), Kind::Check) => {
            if let Some(c) = to
                .domains
                .get_mut(d)
                .and_then(|d| d.constraints.get_mut(&pair.name))
            {
                c.definition = text;
            }
        }
        (Owner::Table(t), Kind::Generated { .. }) => {
            if let Some(c) = to
                .tables
                .get_mut(t)
                .and_then(|t| t.columns.iter_mut().find(|c| c.name == pair.name))
            {
                c.generated = Some(text);
            }
        }
        (Owner::Table(t), kind @ (Kind::PolicyUsing | Kind::PolicyCheck)) => {
            if let Some(p) = to
                .tables
                .get_mut(t)
                .and_then(|t| t.policies.get_mut(&pair.name))
            {
                if *kind == Kind::PolicyUsing {
                    p.using = Some(text);
                } else {
                    p.with_check = Some(text);
                }
            }
        }
        (Owner::Domain(_), _) => {}
    }
}

#[cfg(test)]
mod tests {
    use super::{validity, Kind};

    #[test]
    fn a_checks_not_valid_is_split_off_but_an_indexs_text_is_kept_whole() {
        assert_eq!(
            validity(&Kind::Check, "CHECK ((a > 0)) NOT VALID"),
            ("CHECK ((a > 0))", true)
        );
        assert_eq!(
            validity(&Kind::Check, "CHECK ((a > 0))"),
            ("CHECK ((a > 0))", false)
        );
        assert_eq!(
            validity(&Kind::Index, "CREATE INDEX i ON public.t USING btree (a)"),
            ("CREATE INDEX i ON public.t USING btree (a)", false)
        );
    }
}
