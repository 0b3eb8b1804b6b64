//! Objects of kinds the engine does not model, compared by their catalog definition so that a
//! difference in them is always seen: `plan` shows it as a blocker, `apply` refuses, `verify` and
//! `diff` report drift.
//!
//! Each kind has one reader: a query that renders every object of the kind as an identity
//! (`public.posint`, `public.sum_sq(integer)`) and a definition text, one property per line, with
//! names resolved through the catalog (`regproc`, `format_type`, `pg_get_*def`) so no oid leaks
//! into the text and two databases render the same object the same way. Objects that belong to an
//! extension are left to it. All readers run in the introspection
//! transaction, whose `search_path` is empty, so user objects come out schema-qualified.

use std::collections::BTreeMap;

use serde::Serialize;
use sqlx::{PgConnection, Row};

use crate::diff::{CompareOptions, Difference, Presence};
use crate::SchemaError;

mod readers;
mod settings;

/// One object of a kind the engine does not model.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Unmodelled {
    /// `domain`, `aggregate`, `operator`, `relation settings`, ...
    pub kind: String,
    /// The schema it lives in; `None` for objects that are not in a schema (casts, publications).
    pub schema: Option<String>,
    pub identity: String,
    /// One property per line.
    pub definition: String,
    /// Compared only when owners are (live targets).
    pub owner: Option<String>,
}

impl Unmodelled {
    /// The key in `Model::unmodelled`: `domain public.posint`.
    pub fn key(&self) -> String {
        format!("{} {}", self.kind, self.identity)
    }
}

/// Kinds whose absence means "all defaults": a table without any non-default setting has no entry.
const ABSENT_IS_DEFAULT: &[&str] = &[
    "relation settings",
    "comment on extension",
    "security label",
];

/// The kind of a `Difference` in an unmodelled object: `domain (not modelled)`.
pub fn difference_kind(kind: &str) -> String {
    format!("{kind} (not modelled)")
}

/// Reads every unmodelled object, keyed by `kind identity`. Runs in the introspection transaction.
pub async fn read(conn: &mut PgConnection) -> Result<BTreeMap<String, Unmodelled>, SchemaError> {
    let version: i32 = sqlx::query_scalar("SELECT current_setting('server_version_num')::int")
        .fetch_one(&mut *conn)
        .await?;
    // One statement per reader (joined by UNION ALL the server plans them far worse: seconds on
    // the 500-table benchmark), all sent in one round trip.
    let batch = readers::readers().join(";\n");
    let mut out = BTreeMap::new();
    for row in sqlx::raw_sql(&batch).fetch_all(&mut *conn).await? {
        let u = Unmodelled {
            kind: row.try_get(0)?,
            schema: row.try_get(1)?,
            identity: row.try_get(2)?,
            definition: row.try_get::<Option<String>, _>(3)?.unwrap_or_default(),
            owner: row.try_get(4)?,
        };
        out.insert(u.key(), u);
    }
    for u in settings::read(conn, version).await? {
        out.insert(u.key(), u);
    }
    Ok(out)
}

/// The lines of `a` not in `b` as `- line`, then those of `b` not in `a` as `+ line`.
fn line_diff(a: &str, b: &str) -> Vec<String> {
    let la: Vec<&str> = a.lines().collect();
    let lb: Vec<&str> = b.lines().collect();
    let mut out: Vec<String> = la
        .iter()
        .filter(|l| !lb.contains(l))
        .map(|l| format!("- {l}"))
        .collect();
    out.extend(
        lb.iter()
            .filter(|l| !la.contains(l))
            .map(|l| format!("+ {l}")),
    );
    if out.is_empty() && a != b {
        out.push("definition differs in line order".into());
    }
    out
}

/// Every difference in unmodelled objects between `from` and `to`.
pub fn compare(
    from: &BTreeMap<String, Unmodelled>,
    to: &BTreeMap<String, Unmodelled>,
    opts: CompareOptions,
) -> Vec<Difference> {
    let mut out = Vec::new();
    let keys: std::collections::BTreeSet<&String> = from.keys().chain(to.keys()).collect();
    for key in keys {
        let (a, b) = (from.get(key), to.get(key));
        let any = a.or(b).expect("key from one side");
        let absent_is_default = ABSENT_IS_DEFAULT.contains(&any.kind.as_str());
        let (presence, details) = match (a, b) {
            (Some(a), Some(b)) => {
                let mut details = if a.definition == b.definition {
                    Vec::new()
                } else {
                    line_diff(&a.definition, &b.definition)
                };
                if opts.owners && a.owner != b.owner {
                    details.push(format!(
                        "owner: {} → {}",
                        a.owner.as_deref().unwrap_or("none"),
                        b.owner.as_deref().unwrap_or("none")
                    ));
                }
                if details.is_empty() {
                    continue;
                }
                (Presence::Differs, details)
            }
            (Some(a), None) if absent_is_default => {
                (Presence::Differs, line_diff(&a.definition, ""))
            }
            (None, Some(b)) if absent_is_default => {
                (Presence::Differs, line_diff("", &b.definition))
            }
            (Some(_), None) => (Presence::OnlyInFrom, Vec::new()),
            (None, Some(_)) => (Presence::OnlyInTo, Vec::new()),
            (None, None) => continue,
        };
        out.push(Difference {
            kind: difference_kind(&any.kind),
            name: any.identity.clone(),
            presence,
            details,
        });
    }
    out
}

/// What a plan says about each difference: the plan cannot make it, so nothing may run.
pub fn blockers(
    from: &BTreeMap<String, Unmodelled>,
    to: &BTreeMap<String, Unmodelled>,
    opts: CompareOptions,
) -> Vec<String> {
    compare(from, to, opts)
        .into_iter()
        .map(|d| {
            let what = format!("{} {}", d.kind.trim_end_matches(" (not modelled)"), d.name);
            match d.presence {
                Presence::OnlyInFrom => format!(
                    "{what} is only in the database and is not modelled: the plan cannot drop it"
                ),
                Presence::OnlyInTo => format!(
                    "{what} is only in the target and is not modelled: the plan cannot create it"
                ),
                Presence::Differs => format!(
                    "{what} differs and is not modelled: {}",
                    d.details.join("; ")
                ),
            }
        })
        .collect()
}
