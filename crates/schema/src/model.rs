//! The introspected schema of one database: plain data, compared field by field by `diff`.
//!
//! Names are stored unquoted; `sql` helpers quote them. Expressions (defaults, view definitions,
//! constraint and index definitions) are the server's own rendering, taken with an empty
//! `search_path` so every user object in them is schema-qualified and two databases render the
//! same object the same way.

use std::collections::{BTreeMap, BTreeSet};
use std::fmt;

use serde::Serialize;

/// A schema-qualified name.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
pub struct QName {
    pub schema: String,
    pub name: String,
}

impl QName {
    pub fn new(schema: impl Into<String>, name: impl Into<String>) -> Self {
        Self {
            schema: schema.into(),
            name: name.into(),
        }
    }

    /// The quoted, qualified form for SQL.
    pub fn sql(&self) -> String {
        format!("{}.{}", ident(&self.schema), ident(&self.name))
    }
}

impl fmt::Display for QName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}.{}", self.schema, self.name)
    }
}

/// Quotes an identifier when Postgres would need it.
pub fn ident(name: &str) -> String {
    let plain = !name.is_empty()
        && name
            .chars()
            .next()
            .is_some_and(|c| c.is_ascii_lowercase() || c == '_')
        && name
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_')
        && !RESERVED.contains(&name);
    if plain {
        name.to_string()
    } else {
        format!("\"{}\"", name.replace('"', "\"\""))
    }
}

/// A string literal.
pub fn literal(text: &str) -> String {
    format!("'{}'", text.replace('\'', "''"))
}

// Keywords that cannot be bare column or table names; quoting a few more than needed is harmless.
const RESERVED: &[&str] = &[
    "all",
    "analyse",
    "analyze",
    "and",
    "any",
    "array",
    "as",
    "asc",
    "asymmetric",
    "both",
    "case",
    "cast",
    "check",
    "collate",
    "column",
    "constraint",
    "create",
    "current_catalog",
    "current_date",
    "current_role",
    "current_time",
    "current_timestamp",
    "current_user",
    "default",
    "deferrable",
    "desc",
    "distinct",
    "do",
    "else",
    "end",
    "except",
    "false",
    "fetch",
    "for",
    "foreign",
    "from",
    "grant",
    "group",
    "having",
    "in",
    "initially",
    "intersect",
    "into",
    "lateral",
    "leading",
    "limit",
    "localtime",
    "localtimestamp",
    "not",
    "null",
    "offset",
    "on",
    "only",
    "or",
    "order",
    "placing",
    "primary",
    "references",
    "returning",
    "select",
    "session_user",
    "some",
    "symmetric",
    "table",
    "then",
    "to",
    "trailing",
    "true",
    "union",
    "unique",
    "user",
    "using",
    "variadic",
    "when",
    "where",
    "window",
    "with",
    "authorization",
    "binary",
    "collation",
    "concurrently",
    "cross",
    "current_schema",
    "freeze",
    "full",
    "ilike",
    "inner",
    "is",
    "isnull",
    "join",
    "left",
    "like",
    "natural",
    "notnull",
    "outer",
    "overlaps",
    "right",
    "similar",
    "tablesample",
    "verbose",
    "date",
    "time",
    "timestamp",
    "interval",
    "name",
    "type",
    "value",
];

/// One granted privilege: `grantee` (a role name or `PUBLIC`) may `privilege` (SELECT, ...).
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
pub struct Grant {
    pub grantee: String,
    pub privilege: String,
    pub grantable: bool,
}

/// What every owned object carries besides its definition.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct Extras {
    pub owner: String,
    pub comment: Option<String>,
    /// Privileges granted to roles other than the owner (the owner's own are implicit).
    pub grants: BTreeSet<Grant>,
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct Namespace {
    pub extras: Extras,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Extension {
    pub schema: String,
    pub version: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Collation {
    /// The `CREATE COLLATION` options, e.g. `provider = icu, locale = 'en-u-kn-true'`.
    pub options: String,
    pub extras: Extras,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct EnumType {
    pub labels: Vec<String>,
    pub extras: Extras,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Sequence {
    pub data_type: String,
    pub start: i64,
    pub increment: i64,
    pub min: i64,
    pub max: i64,
    pub cache: i64,
    pub cycle: bool,
    /// `OWNED BY` table and column (a serial column's sequence).
    pub owned_by: Option<(QName, String)>,
    pub extras: Extras,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Column {
    pub name: String,
    /// The type with its modifiers, as `format_type` renders it (`character varying(10)`).
    pub data_type: String,
    /// The enum type of the column, if it is one (retyping to or from it goes through text).
    #[serde(skip)]
    pub enum_type: Option<QName>,
    pub not_null: bool,
    pub default: Option<String>,
    /// `a` (ALWAYS) or `d` (BY DEFAULT) for identity columns.
    pub identity: Option<String>,
    /// The expression of a `GENERATED ALWAYS AS (...) STORED` column.
    pub generated: Option<String>,
    /// A collation other than the type's default.
    pub collation: Option<String>,
    pub comment: Option<String>,
    /// Column-level privileges.
    pub grants: BTreeSet<Grant>,
    /// False when the column only exists because a parent table (inheritance, partitioning) has it.
    #[serde(skip)]
    pub local: bool,
}

/// An enum over a catalog's one-letter codes: `from_code` reads the catalog, `code` gives it back
/// (and is what serializes).
macro_rules! catalog_code {
    ($(#[$m:meta])* $name:ident, $what:literal { $($(#[$vm:meta])* $variant:ident = $code:literal),+ $(,)? }) => {
        $(#[$m])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
        pub enum $name {
            $($(#[$vm])* #[serde(rename = $code)] $variant),+
        }

        impl $name {
            /// From its catalog code; a code the engine does not know is an error, never a guess.
            pub fn from_code(code: &str) -> Result<Self, crate::SchemaError> {
                match code {
                    $($code => Ok(Self::$variant),)+
                    _ => Err(crate::SchemaError::UnknownCatalogCode { what: $what, code: code.to_string() }),
                }
            }

            pub fn code(self) -> &'static str {
                match self {
                    $(Self::$variant => $code),+
                }
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(self.code())
            }
        }
    };
}

catalog_code! {
    /// `pg_constraint.contype` of a table constraint.
    ConstraintKind, "constraint type" {
        PrimaryKey = "p",
        Unique = "u",
        ForeignKey = "f",
        Check = "c",
        Exclusion = "x",
    }
}

catalog_code! {
    /// `pg_trigger.tgenabled`: when the trigger fires.
    TriggerState, "trigger state" {
        /// `ENABLE` (fires in origin and local sessions).
        Origin = "O",
        Disabled = "D",
        /// `ENABLE REPLICA`.
        Replica = "R",
        /// `ENABLE ALWAYS`.
        Always = "A",
    }
}

catalog_code! {
    /// `pg_policy.polcmd`: the command a policy applies to.
    PolicyCommand, "policy command" {
        All = "*",
        Select = "r",
        Insert = "a",
        Update = "w",
        Delete = "d",
    }
}

impl PolicyCommand {
    /// As `CREATE POLICY … FOR` spells it.
    pub fn sql(self) -> &'static str {
        match self {
            Self::All => "ALL",
            Self::Select => "SELECT",
            Self::Insert => "INSERT",
            Self::Update => "UPDATE",
            Self::Delete => "DELETE",
        }
    }
}

impl TriggerState {
    /// The `ALTER TABLE` clause that sets it.
    pub fn sql(self) -> &'static str {
        match self {
            Self::Origin => "ENABLE",
            Self::Disabled => "DISABLE",
            Self::Replica => "ENABLE REPLICA",
            Self::Always => "ENABLE ALWAYS",
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Constraint {
    pub kind: ConstraintKind,
    /// `pg_get_constraintdef`: `FOREIGN KEY (user_id) REFERENCES public.users(id) ON DELETE CASCADE`.
    pub definition: String,
    pub comment: Option<String>,
    /// The referenced table of a foreign key.
    #[serde(skip)]
    pub references: Option<QName>,
    /// The constrained columns.
    #[serde(skip)]
    pub columns: Vec<String>,
    /// The referenced columns of a foreign key.
    #[serde(skip)]
    pub referenced_columns: Vec<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Index {
    /// `pg_get_indexdef`: the full `CREATE INDEX` statement.
    pub definition: String,
    pub comment: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Trigger {
    /// `pg_get_triggerdef`: the full `CREATE TRIGGER` statement.
    pub definition: String,
    pub enabled: TriggerState,
    pub comment: Option<String>,
    /// The trigger function.
    #[serde(skip)]
    pub function: FnName,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Policy {
    pub permissive: bool,
    pub command: PolicyCommand,
    pub roles: Vec<String>,
    pub using: Option<String>,
    pub with_check: Option<String>,
    pub comment: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Table {
    pub columns: Vec<Column>,
    pub constraints: BTreeMap<String, Constraint>,
    pub indexes: BTreeMap<String, Index>,
    pub triggers: BTreeMap<String, Trigger>,
    pub policies: BTreeMap<String, Policy>,
    pub unlogged: bool,
    pub reloptions: Vec<String>,
    pub row_security: bool,
    pub force_row_security: bool,
    /// `PARTITION BY ...` of a partitioned table.
    pub partition_key: Option<String>,
    /// The parent and `FOR VALUES ...` bound of a partition.
    pub partition_of: Option<(QName, String)>,
    /// Parents by plain inheritance, in order.
    pub inherits: Vec<QName>,
    pub extras: Extras,
}

impl Table {
    pub fn column(&self, name: &str) -> Option<&Column> {
        self.columns.iter().find(|c| c.name == name)
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct View {
    pub materialized: bool,
    /// `pg_get_viewdef`, without the trailing semicolon.
    pub definition: String,
    /// Output columns and their types.
    pub columns: Vec<(String, String)>,
    pub column_comments: BTreeMap<String, String>,
    /// `security_barrier=true`, `security_invoker=true`, `check_option=local`, ...
    pub reloptions: Vec<String>,
    /// Whether a materialized view holds data.
    pub populated: bool,
    pub indexes: BTreeMap<String, Index>,
    pub triggers: BTreeMap<String, Trigger>,
    pub extras: Extras,
    /// What the view reads: columns, whole relations, functions and types (from pg_depend through
    /// pg_rewrite). Not compared: it follows from the definition.
    #[serde(skip)]
    pub depends: Depends,
}

/// The objects a view's or function's definition refers to.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Depends {
    pub columns: BTreeSet<(QName, String)>,
    pub relations: BTreeSet<QName>,
    pub functions: BTreeSet<FnName>,
    pub types: BTreeSet<QName>,
}

/// A function is identified by its name and argument types.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
pub struct FnName {
    pub name: QName,
    /// `pg_get_function_identity_arguments`, e.g. `i integer, t text[]`.
    pub args: String,
}

impl fmt::Display for FnName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}({})", self.name, self.args)
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Function {
    /// `pg_get_functiondef`: the full `CREATE OR REPLACE FUNCTION` statement.
    pub definition: String,
    /// `pg_get_function_result`.
    pub result: String,
    pub procedure: bool,
    /// The argument types without names (`oidvectortypes(proargtypes)`): two functions that differ
    /// only in parameter names are one function to PostgreSQL, and `CREATE OR REPLACE` cannot
    /// rename an input parameter. Follows from the key, so it never makes two models differ.
    #[serde(skip)]
    pub arg_types: String,
    /// Names and types of the OUT, INOUT and TABLE parameters: the row type they define, which
    /// `pg_get_function_result` renders as `record` for two or more. In the definition too.
    #[serde(skip)]
    pub out_params: String,
    /// How many input parameters have defaults (`pronargdefaults`). In the definition too.
    #[serde(skip)]
    pub defaults: i32,
    pub extras: Extras,
    /// Relations whose row type the signature uses (they must exist first). Not compared.
    #[serde(skip)]
    pub uses_relations: BTreeSet<QName>,
}

impl Function {
    /// Whether `CREATE OR REPLACE` cannot turn this function into `to`, so it is dropped and
    /// created: PostgreSQL refuses to change the result type, the row type of OUT parameters or
    /// the kind, and to remove parameter defaults.
    pub fn replacing_needs_drop(&self, to: &Function) -> bool {
        to.result != self.result
            || to.procedure != self.procedure
            || to.out_params != self.out_params
            || to.defaults < self.defaults
    }
}

/// Everything the engine knows about one database's user schemas.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct Model {
    pub namespaces: BTreeMap<String, Namespace>,
    pub extensions: BTreeMap<String, Extension>,
    pub collations: BTreeMap<QName, Collation>,
    pub enums: BTreeMap<QName, EnumType>,
    pub sequences: BTreeMap<QName, Sequence>,
    pub tables: BTreeMap<QName, Table>,
    pub views: BTreeMap<QName, View>,
    pub functions: BTreeMap<FnName, Function>,
    pub domains: BTreeMap<QName, crate::kinds::domain::Domain>,
    pub aggregates: BTreeMap<FnName, crate::kinds::aggregate::Aggregate>,
    pub composites: BTreeMap<QName, crate::kinds::types::Composite>,
    pub ranges: BTreeMap<QName, crate::kinds::types::Range>,
    pub statistics: BTreeMap<QName, crate::kinds::statistics::Statistics>,
    /// Publications, by name (they are not in a schema).
    pub publications: BTreeMap<String, crate::kinds::publication::Publication>,
    /// Objects of kinds the engine does not model, keyed `domain public.posint`, with their catalog
    /// definition so a difference in them is seen (and blocks a plan).
    pub unmodelled: BTreeMap<String, crate::unmodelled::Unmodelled>,
    /// The introspecting role's default privileges (what objects it creates are granted).
    pub default_privileges: BTreeMap<DefaultPrivilegeKey, BTreeSet<Grant>>,
    /// What each object needs (pg_depend), for ordering a plan. Not compared.
    #[serde(skip)]
    pub needs: crate::objects::Needs,
    /// The role that introspected (and would own what a plan creates). Not compared.
    #[serde(skip)]
    pub current_user: String,
    /// The schemas this model was cut down to (`scope::restrict`), if it was. Not compared.
    #[serde(skip)]
    pub scope: Option<crate::scope::Scope>,
}

/// Where a default privilege applies: whose new objects, a schema (or every schema) and a kind
/// of object.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
pub struct DefaultPrivilegeKey {
    /// `None`: the role that introspects (the one that creates what a plan creates); another
    /// role's are `ALTER DEFAULT PRIVILEGES FOR ROLE`.
    pub role: Option<String>,
    /// `None`: every schema (`ALTER DEFAULT PRIVILEGES` without `IN SCHEMA`).
    pub schema: Option<String>,
    /// `TABLES`, `SEQUENCES`, `FUNCTIONS`, `TYPES`, `SCHEMAS`.
    pub objects: String,
}

impl fmt::Display for DefaultPrivilegeKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.schema {
            Some(s) => write!(f, "{} in schema {s}", self.objects)?,
            None => write!(f, "{} in every schema", self.objects)?,
        }
        match &self.role {
            Some(r) => write!(f, " for role {r}"),
            None => Ok(()),
        }
    }
}

impl Model {
    /// Whether `name` is a table or a view here.
    pub fn has_relation(&self, name: &QName) -> bool {
        self.tables.contains_key(name) || self.views.contains_key(name)
    }

    pub fn object_count(&self) -> usize {
        self.namespaces.len()
            + self.extensions.len()
            + self.collations.len()
            + self.enums.len()
            + self.sequences.len()
            + self.tables.len()
            + self.views.len()
            + self.functions.len()
            + self.domains.len()
            + self.aggregates.len()
            + self.composites.len()
            + self.ranges.len()
            + self.statistics.len()
            + self.publications.len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn catalog_codes_round_trip_and_an_unknown_code_is_an_error() {
        for code in ["p", "u", "f", "c", "x"] {
            assert_eq!(ConstraintKind::from_code(code).unwrap().code(), code);
        }
        assert_eq!(
            TriggerState::from_code("R").unwrap().sql(),
            "ENABLE REPLICA"
        );
        assert_eq!(PolicyCommand::from_code("w").unwrap().sql(), "UPDATE");
        assert!(matches!(
            ConstraintKind::from_code("n"),
            Err(crate::SchemaError::UnknownCatalogCode { code, .. }) if code == "n"
        ));
    }

    #[test]
    fn identifiers_are_quoted_only_when_needed() {
        assert_eq!(ident("users"), "users");
        assert_eq!(ident("Users"), "\"Users\"");
        assert_eq!(ident("strange_name(((yo?)))"), "\"strange_name(((yo?)))\"");
        assert_eq!(ident("user"), "\"user\"");
        assert_eq!(ident("a\"b"), "\"a\"\"b\"");
        assert_eq!(literal("it's"), "'it''s'");
    }
}
