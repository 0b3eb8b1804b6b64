//! Typed keys of schema objects and what each object needs, so the planner can order statements
//! by what they create, drop and need instead of by kind.
//!
//! The needs come from pg_depend (`catalog::depend`), read on both sides: FROM's say what must go
//! before an object is dropped, TO's what must exist before it is created.

use std::collections::{BTreeMap, BTreeSet};
use std::fmt;

use crate::model::{FnName, QName};

/// One schema object, by name (never by oid, so FROM's and TO's keys meet).
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum ObjKey {
    Schema(String),
    Extension(String),
    Collation(QName),
    /// An enum, domain, composite or range type (a relation's row type is its `Relation`).
    Type(QName),
    /// A table, view or materialized view.
    Relation(QName),
    Column(QName, String),
    /// A column's default expression.
    Default(QName, String),
    Sequence(QName),
    Index(QName),
    /// A constraint of a table or of a domain.
    Constraint(QName, String),
    Trigger(QName, String),
    Policy(QName, String),
    Statistics(QName),
    /// A function, procedure or aggregate.
    Function(FnName),
    /// A publication (not in a schema; not in pg_depend: `kinds::publication` reads its needs).
    Publication(String),
    /// A publication's member: `public.a` (quoted as SQL spells it) or `TABLES IN SCHEMA s`.
    PublicationMember(String, String),
}

impl ObjKey {
    /// The object this one is part of: a statement that creates or drops the parent creates or
    /// drops its parts with it (`CREATE TABLE` makes its columns and their defaults).
    pub fn parent(&self) -> Option<ObjKey> {
        match self {
            Self::Column(t, _)
            | Self::Constraint(t, _)
            | Self::Trigger(t, _)
            | Self::Policy(t, _) => Some(Self::Relation(t.clone())),
            Self::Default(t, c) => Some(Self::Column(t.clone(), c.clone())),
            Self::PublicationMember(p, _) => Some(Self::Publication(p.clone())),
            _ => None,
        }
    }
}

impl fmt::Display for ObjKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Schema(s) => write!(f, "schema {s}"),
            Self::Extension(e) => write!(f, "extension {e}"),
            Self::Collation(q) => write!(f, "collation {q}"),
            Self::Type(q) => write!(f, "type {q}"),
            Self::Relation(q) => write!(f, "relation {q}"),
            Self::Column(t, c) => write!(f, "column {t}.{c}"),
            Self::Default(t, c) => write!(f, "default of {t}.{c}"),
            Self::Sequence(q) => write!(f, "sequence {q}"),
            Self::Index(q) => write!(f, "index {q}"),
            Self::Constraint(t, c) => write!(f, "constraint {c} on {t}"),
            Self::Trigger(t, n) => write!(f, "trigger {n} on {t}"),
            Self::Policy(t, n) => write!(f, "policy {n} on {t}"),
            Self::Statistics(q) => write!(f, "statistics {q}"),
            Self::Function(n) => write!(f, "function {n}"),
            Self::Publication(p) => write!(f, "publication {p}"),
            Self::PublicationMember(p, m) => write!(f, "{m} in publication {p}"),
        }
    }
}

/// For each object, the objects it needs (it cannot exist without them).
pub type Needs = BTreeMap<ObjKey, BTreeSet<ObjKey>>;
