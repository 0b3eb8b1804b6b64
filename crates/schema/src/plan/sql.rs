//! SQL fragments several generators share: grantees, default grants, comments, column definitions, constraint data checks.

use std::collections::BTreeSet;

use crate::model::*;
use crate::preflight::{check_expression, DataCheck};

pub(crate) fn grantee(g: &str) -> String {
    if g == "PUBLIC" {
        g.to_string()
    } else {
        ident(g)
    }
}

/// Grants a freshly created object of this kind has besides its owner's.
pub(crate) fn default_grants(kind: &str) -> BTreeSet<Grant> {
    let public = |p: &str| Grant {
        grantee: "PUBLIC".into(),
        privilege: p.into(),
        grantable: false,
    };
    match kind {
        "FUNCTION" | "PROCEDURE" => [public("EXECUTE")].into(),
        "TYPE" | "DOMAIN" => [public("USAGE")].into(),
        _ => BTreeSet::new(),
    }
}

pub(crate) fn comment_sql(kind: &str, target: &str, comment: &Option<String>) -> String {
    match comment {
        Some(c) => format!("COMMENT ON {kind} {target} IS {};", literal(c)),
        None => format!("COMMENT ON {kind} {target} IS NULL;"),
    }
}

pub(super) fn column_sql(c: &Column) -> String {
    let mut s = format!("{} {}", ident(&c.name), c.data_type);
    if let Some(coll) = &c.collation {
        s.push_str(&format!(" COLLATE {coll}"));
    }
    if let Some(g) = &c.generated {
        s.push_str(&format!(" GENERATED ALWAYS AS ({g}) STORED"));
    }
    if let Some(d) = &c.default {
        s.push_str(&format!(" DEFAULT {d}"));
    }
    if c.not_null {
        s.push_str(" NOT NULL");
    }
    if let Some(i) = &c.identity {
        s.push_str(&format!(" GENERATED {} AS IDENTITY", identity_kind(i)));
    }
    s
}

/// What the live rows of `ft` must satisfy for constraint `cn` to be added to it.
pub(super) fn constraint_checks(
    table: &QName,
    cn: &str,
    c: &Constraint,
    ft: &Table,
) -> Vec<DataCheck> {
    let mut out = Vec::new();
    match c.kind {
        ConstraintKind::PrimaryKey | ConstraintKind::Unique => {
            if c.kind == ConstraintKind::PrimaryKey {
                for col in &c.columns {
                    if ft.column(col).is_some_and(|fc| !fc.not_null) {
                        out.push(DataCheck::NotNull {
                            table: table.clone(),
                            column: col.clone(),
                        });
                    }
                }
            }
            out.push(DataCheck::Unique {
                table: table.clone(),
                name: cn.to_string(),
                keys: c.columns.iter().map(|k| ident(k)).collect(),
                predicate: None,
                nulls_distinct: !c.definition.contains("NULLS NOT DISTINCT"),
            });
        }
        ConstraintKind::Check => {
            if let Some(expr) = check_expression(&c.definition) {
                out.push(DataCheck::Check {
                    table: table.clone(),
                    name: cn.to_string(),
                    expr,
                });
            }
        }
        ConstraintKind::ForeignKey if !c.definition.ends_with("NOT VALID") => {
            if let Some(references) = &c.references {
                out.push(DataCheck::ForeignKey {
                    table: table.clone(),
                    name: cn.to_string(),
                    columns: c.columns.clone(),
                    references: references.clone(),
                    referenced_columns: c.referenced_columns.clone(),
                });
            }
        }
        ConstraintKind::Exclusion => out.push(DataCheck::Exclusion {
            table: table.clone(),
            name: cn.to_string(),
        }),
        ConstraintKind::ForeignKey => {}
    }
    out
}

pub(super) fn identity_kind(code: &str) -> &'static str {
    if code == "a" {
        "ALWAYS"
    } else {
        "BY DEFAULT"
    }
}

pub(super) fn is_volatile_default(expr: &str) -> bool {
    [
        "nextval(",
        "random(",
        "gen_random_uuid(",
        "clock_timestamp(",
        "uuid_generate",
        "timeofday(",
    ]
    .iter()
    .any(|f| expr.contains(f))
}
