//! Object kinds in the engine's target shape: one module per kind with a reader (catalog → model),
//! a typed diff (what changes, for drift and for the generator alike) and a generator (the steps,
//! each placed in the phase its dependencies need). `catalog`, `diff` and `plan` only call the
//! three entry points below; adding a kind means adding a module and a line to each.

pub mod aggregate;
pub mod domain;
pub mod publication;
pub mod statistics;
pub mod types;

use std::collections::BTreeSet;

use sqlx::PgConnection;

use crate::diff::{CompareOptions, Difference};
use crate::model::{Extras, Grant, Model};
use crate::objects::ObjKey;
use crate::plan::{comment_sql, default_grants, grantee, step, Phase, Step};
use crate::SchemaError;

/// Reads every kind into `m`, in the introspection transaction.
pub async fn read(conn: &mut PgConnection, m: &mut Model) -> Result<(), SchemaError> {
    m.domains = domain::read(conn).await?;
    m.composites = types::read_composites(conn).await?;
    m.ranges = types::read_ranges(conn).await?;
    m.aggregates = aggregate::read(conn).await?;
    m.statistics = statistics::read(conn).await?;
    let (publications, needs) = publication::read(conn).await?;
    m.publications = publications;
    for (object, needed) in needs {
        m.needs.entry(object).or_default().extend(needed);
    }
    Ok(())
}

/// Drift in every kind.
pub fn differences(from: &Model, to: &Model, opts: CompareOptions) -> Vec<Difference> {
    let mut out = domain::differences(&from.domains, &to.domains, opts);
    out.extend(types::differences(from, to, opts));
    out.extend(aggregate::differences(
        &from.aggregates,
        &to.aggregates,
        opts,
    ));
    out.extend(statistics::differences(
        &from.statistics,
        &to.statistics,
        opts,
    ));
    out.extend(publication::differences(
        &from.publications,
        &to.publications,
        opts,
    ));
    out
}

/// Steps placed in phases, and blockers (changes a generator cannot make).
/// `rebuilt`: FROM's objects that call a function the plan drops and recreates (they go with it).
pub(crate) fn steps(
    from: &Model,
    to: &Model,
    opts: CompareOptions,
    rebuilt: &BTreeSet<ObjKey>,
) -> (Vec<(Phase, Step)>, Vec<String>) {
    // Module order is creation order (a composite may use a domain, an aggregate a composite);
    // the late drops run in the reverse order, so what uses a type goes before the type.
    let mut parts: Vec<Generated> = Vec::new();
    for generate in [
        domain::steps,
        types::steps,
        aggregate::steps,
        statistics::steps,
        publication::steps,
    ] {
        let mut g = Generated {
            rebuilt: rebuilt.clone(),
            ..Default::default()
        };
        generate(from, to, opts, &mut g);
        parts.push(g);
    }
    let mut out = Generated::default();
    let mut late = Vec::new();
    for g in parts {
        let (drops, rest): (Vec<_>, Vec<_>) = g
            .steps
            .into_iter()
            .partition(|(p, _)| *p == Phase::DropLate);
        out.steps.extend(rest);
        late.push(drops);
        out.blockers.extend(g.blockers);
    }
    out.steps.extend(late.into_iter().rev().flatten());
    (out.steps, out.blockers)
}

/// What the generators produce.
#[derive(Default)]
pub(crate) struct Generated {
    pub(crate) steps: Vec<(Phase, Step)>,
    pub(crate) blockers: Vec<String>,
    /// FROM's objects that call a function dropped and recreated: dropped before it and made
    /// again after, even where their definition reads the same (input, from the planner).
    pub(crate) rebuilt: BTreeSet<ObjKey>,
}

impl Generated {
    pub(crate) fn push(&mut self, phase: Phase, s: Step) {
        self.steps.push((phase, s));
    }

    /// Owner, comment and grants of an object created or kept: `kind` as `ALTER <kind>` and
    /// `GRANT … ON <kind>` spell it. Each statement needs the object (`key`).
    #[allow(clippy::too_many_arguments)]
    pub(crate) fn extras(
        &mut self,
        kind: &str,
        target: &str,
        object: &str,
        key: &ObjKey,
        from: Option<&Extras>,
        to: &Extras,
        opts: CompareOptions,
        current_user: &str,
    ) {
        let current = from.map(|f| f.owner.as_str()).unwrap_or(current_user);
        if opts.owners && current != to.owner {
            self.push(
                Phase::Extras,
                step(
                    object,
                    format!("owner → {}", to.owner),
                    format!(
                        "ALTER {kind} {target} OWNER TO {};",
                        crate::model::ident(&to.owner)
                    ),
                )
                .needing(key.clone()),
            );
        }
        let from_comment = from.and_then(|f| f.comment.clone());
        if from_comment != to.comment {
            self.push(
                Phase::Extras,
                step(object, "comment", comment_sql(kind, target, &to.comment))
                    .needing(key.clone()),
            );
        }
        // GRANT has no AGGREGATE form: aggregates are granted as functions.
        let on = if kind == "AGGREGATE" {
            "FUNCTION"
        } else {
            kind
        };
        let from_grants = from
            .map(|f| f.grants.clone())
            .unwrap_or_else(|| default_grants(on));
        self.grants(on, target, object, key, &from_grants, &to.grants);
    }

    fn grants(
        &mut self,
        on: &str,
        target: &str,
        object: &str,
        key: &ObjKey,
        from: &BTreeSet<Grant>,
        to: &BTreeSet<Grant>,
    ) {
        for g in from.difference(to) {
            // Same privilege kept without the grant option: revoke only the option.
            let option_only = to
                .iter()
                .any(|t| t.grantee == g.grantee && t.privilege == g.privilege);
            let head = if option_only { "GRANT OPTION FOR " } else { "" };
            self.push(
                Phase::Extras,
                step(
                    object,
                    format!("revoke {} from {}", g.privilege, g.grantee),
                    format!(
                        "REVOKE {head}{} ON {on} {target} FROM {};",
                        g.privilege,
                        grantee(&g.grantee)
                    ),
                )
                .needing(key.clone()),
            );
        }
        for g in to.difference(from) {
            let option = if g.grantable {
                " WITH GRANT OPTION"
            } else {
                ""
            };
            self.push(
                Phase::Extras,
                step(
                    object,
                    format!("grant {} to {}", g.privilege, g.grantee),
                    format!(
                        "GRANT {} ON {on} {target} TO {}{option};",
                        g.privilege,
                        grantee(&g.grantee)
                    ),
                )
                .needing(key.clone()),
            );
        }
    }
}
