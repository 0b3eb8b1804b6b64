//! The shape of an expand/contract retype: the shadow column, its trigger and backfill, the
//! shadow indexes and keys, and the swap transaction's statements.

use std::collections::BTreeSet;

use serde::Serialize;

use super::{col, shadow_name};
use crate::model::ConstraintKind;
use crate::model::{ident, literal, QName, Table};
use crate::plan::grantee;

/// One retyped column of an expand/contract.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct RetypedColumn {
    pub name: String,
    /// The column that is filled while writers go on, renamed to `name` by the swap.
    pub shadow: String,
    pub to_type: String,
    /// The CHECK that carries the target's NOT NULL into the swap (validated before it).
    pub not_null_check: Option<String>,
}

/// An expand/contract retype of one table.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Retype {
    pub table: QName,
    /// A single-column key the backfill walks in batches, and its type.
    pub key: String,
    pub key_type: String,
    pub columns: Vec<RetypedColumn>,
    pub function: QName,
    pub trigger: String,
    /// (shadow index name, its `CREATE INDEX` on the shadow column).
    pub indexes: Vec<(String, String)>,
    /// (shadow constraint name, its definition on the shadow column).
    pub foreign_keys: Vec<(String, String)>,
    /// After the swap: the retired indexes, keys and columns dropped, one short statement each.
    pub cleanup: Vec<String>,
    /// Tables the swap locks after this one: those its dropped foreign keys reference
    /// (PostgreSQL takes them ACCESS EXCLUSIVE to drop the key's triggers).
    pub referenced: Vec<QName>,
    /// The swap transaction's statements, in order (the caller adds the locks and the timeout).
    pub swap: Vec<String>,
}

impl Retype {
    /// The expand statements (each in a short transaction of its own), for people and `--format
    /// sql`; the backfill is a loop, shown as its statement.
    pub fn prepare_sql(&self) -> Vec<String> {
        let mut out = self.expand_sql();
        out.push(format!(
            "-- backfill, batches of short transactions: {}",
            self.backfill_sql(Some("<lo>"), "<hi>")
        ));
        for (_, def) in &self.indexes {
            out.push(format!("{def};"));
        }
        out.extend(self.constraint_sql());
        out
    }

    pub(crate) fn expand_sql(&self) -> Vec<String> {
        let t = self.table.sql();
        let mut out: Vec<String> = self
            .columns
            .iter()
            .map(|c| {
                format!(
                    "ALTER TABLE {t} ADD COLUMN IF NOT EXISTS {} {};",
                    ident(&c.shadow),
                    c.to_type
                )
            })
            .collect();
        let sets: String = self
            .columns
            .iter()
            .map(|c| format!("NEW.{} := NEW.{};", ident(&c.shadow), col(&c.name)))
            .collect::<Vec<_>>()
            .join(" ");
        out.push(format!(
            "CREATE OR REPLACE FUNCTION {}() RETURNS trigger LANGUAGE plpgsql AS $online$ BEGIN {sets} RETURN NEW; END $online$;",
            self.function.sql()
        ));
        out.push(format!(
            "CREATE OR REPLACE TRIGGER {} BEFORE INSERT OR UPDATE ON {t} FOR EACH ROW EXECUTE FUNCTION {}();",
            ident(&self.trigger),
            self.function.sql()
        ));
        out
    }

    /// One batch: the rows with keys in (lo, hi] whose shadow differs from the column.
    pub(crate) fn backfill_sql(&self, lo: Option<&str>, hi: &str) -> String {
        let sets = self
            .columns
            .iter()
            .map(|c| format!("{} = {}", ident(&c.shadow), col(&c.name)))
            .collect::<Vec<_>>()
            .join(", ");
        let differs = self
            .columns
            .iter()
            .map(|c| format!("{} IS DISTINCT FROM {}", ident(&c.shadow), col(&c.name)))
            .collect::<Vec<_>>()
            .join(" OR ");
        let key = col(&self.key);
        let from = lo
            .map(|lo| format!("{key} > {lo} AND "))
            .unwrap_or_default();
        format!(
            "UPDATE {} SET {sets} WHERE {from}{key} <= {hi} AND ({differs});",
            self.table.sql()
        )
    }

    /// Shadow keys and NOT NULL checks, added NOT VALID and validated (after the backfill).
    pub(crate) fn constraint_sql(&self) -> Vec<String> {
        let t = self.table.sql();
        let mut out = Vec::new();
        for (name, def) in &self.foreign_keys {
            out.push(format!(
                "ALTER TABLE {t} ADD CONSTRAINT {} {def} NOT VALID;",
                ident(name)
            ));
            out.push(format!(
                "ALTER TABLE {t} VALIDATE CONSTRAINT {};",
                ident(name)
            ));
        }
        for c in &self.columns {
            if let Some(check) = &c.not_null_check {
                out.push(format!(
                    "ALTER TABLE {t} ADD CONSTRAINT {} CHECK ({} IS NOT NULL) NOT VALID;",
                    ident(check),
                    ident(&c.shadow)
                ));
                out.push(format!(
                    "ALTER TABLE {t} VALIDATE CONSTRAINT {};",
                    ident(check)
                ));
            }
        }
        out
    }
}

/// The shadow of column `name`.
pub(crate) fn shadow_column(name: &str) -> String {
    shadow_name(name, "__online_new")
}

/// Replaces the identifier `name` (as a whole word) in `text` by `with`.
fn replace_word(text: &str, name: &str, with: &str) -> String {
    let word = ident(name);
    let is_word = |c: char| c.is_ascii_alphanumeric() || c == '_' || c == '"';
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(pos) = rest.find(&word) {
        let before = rest[..pos].chars().next_back();
        let after = rest[pos + word.len()..].chars().next();
        out.push_str(&rest[..pos]);
        if before.is_some_and(is_word) || after.is_some_and(is_word) || before == Some('.') {
            out.push_str(&word);
        } else {
            out.push_str(with);
        }
        rest = &rest[pos + word.len()..];
    }
    out.push_str(rest);
    out
}

/// What the swap takes over from the plan: the dependent views' statements, the renames of the
/// shadow indexes and keys, and the target's defaults of the retyped columns.
pub(crate) struct SwapParts {
    pub view_drops: Vec<String>,
    pub view_creates: Vec<String>,
    pub renames: Vec<String>,
    pub defaults: Vec<String>,
}

/// The shadow indexes and keys of a retype and what the swap and the cleanup do with them.
pub(crate) struct Shadows {
    /// (shadow index name, its concurrent `CREATE INDEX` on the shadow column).
    pub indexes: Vec<(String, String)>,
    /// (shadow key name, its definition on the shadow column).
    pub foreign_keys: Vec<(String, String)>,
    /// In the swap: the old index or key renamed out of the way, the shadow given its name.
    pub renames: Vec<String>,
    /// After the swap, outside it: the old indexes dropped concurrently, the old keys and column
    /// dropped (short locks, no file to remove while the swap holds its lock).
    pub cleanup: Vec<String>,
}

/// Shadow indexes and foreign keys (on the shadow columns) of the table's indexes and keys that
/// use a retyped column.
pub(crate) fn shadows(
    table: &QName,
    ft: &Table,
    names: &BTreeSet<String>,
    columns: &[RetypedColumn],
) -> Shadows {
    let t = table.sql();
    let mut indexes = Vec::new();
    let mut renames = Vec::new();
    let mut cleanup = Vec::new();
    for (n, ix) in &ft.indexes {
        let Some((head, keys)) = ix.definition.split_once(" USING ") else {
            continue;
        };
        let mut new_keys = keys.to_string();
        for c in columns {
            new_keys = replace_word(&new_keys, &c.name, &ident(&c.shadow));
        }
        if new_keys == keys {
            continue;
        }
        let shadow = shadow_name(n, "__online");
        let head = head.replacen(
            &format!(" {} ON ", ident(n)),
            &format!(" {} ON ", ident(&shadow)),
            1,
        );
        indexes.push((
            shadow.clone(),
            super::tail::concurrently(&format!("{head} USING {new_keys}")),
        ));
        let retired = shadow_name(n, "__online_old");
        renames.push(format!(
            "ALTER INDEX {} RENAME TO {};",
            QName::new(&table.schema, n).sql(),
            ident(&retired)
        ));
        renames.push(format!(
            "ALTER INDEX {} RENAME TO {};",
            QName::new(&table.schema, &shadow).sql(),
            ident(n)
        ));
        cleanup.push(format!(
            "DROP INDEX CONCURRENTLY IF EXISTS {};",
            QName::new(&table.schema, &retired).sql()
        ));
    }
    let mut foreign_keys = Vec::new();
    for (cn, c) in &ft.constraints {
        if c.kind != ConstraintKind::ForeignKey || !c.columns.iter().any(|x| names.contains(x)) {
            continue;
        }
        let Some((local, rest)) = c.definition.split_once(" REFERENCES ") else {
            continue;
        };
        let mut local = local.to_string();
        for rc in columns {
            local = replace_word(&local, &rc.name, &ident(&rc.shadow));
        }
        let shadow = shadow_name(cn, "__online");
        let def = format!("{local} REFERENCES {rest}");
        foreign_keys.push((
            shadow.clone(),
            def.trim_end_matches(" NOT VALID").to_string(),
        ));
        let retired = shadow_name(cn, "__online_old");
        renames.push(format!(
            "ALTER TABLE {t} RENAME CONSTRAINT {} TO {};",
            ident(cn),
            ident(&retired)
        ));
        renames.push(format!(
            "ALTER TABLE {t} RENAME CONSTRAINT {} TO {};",
            ident(&shadow),
            ident(cn)
        ));
        cleanup.push(format!(
            "ALTER TABLE {t} DROP CONSTRAINT IF EXISTS {};",
            ident(&retired)
        ));
    }
    for c in columns {
        cleanup.push(format!(
            "ALTER TABLE {t} DROP COLUMN IF EXISTS {};",
            ident(&shadow_name(&c.name, "__online_old"))
        ));
    }
    Shadows {
        indexes,
        foreign_keys,
        renames,
        cleanup,
    }
}

/// The swap transaction: views dropped, trigger dropped, the old column made nullable and renamed
/// out of the way (dropped later, by the cleanup), the shadow renamed, NOT NULL set over the
/// validated check, names, defaults, comments and grants back, views recreated, the trigger
/// function dropped.
pub(crate) fn swap_sql(
    table: &QName,
    ft: &Table,
    tt: &Table,
    columns: &[RetypedColumn],
    (trigger, function): (&str, &QName),
    parts: SwapParts,
) -> Vec<String> {
    let t = table.sql();
    let SwapParts {
        view_drops,
        view_creates,
        renames,
        defaults,
    } = parts;
    let mut swap = Vec::new();
    swap.extend(view_drops);
    swap.push(format!("DROP TRIGGER {} ON {t};", ident(trigger)));
    for c in columns {
        let old = shadow_name(&c.name, "__online_old");
        let fc = ft.column(&c.name).expect("retyped column");
        if fc.default.is_some() {
            swap.push(format!(
                "ALTER TABLE {t} ALTER COLUMN {} DROP DEFAULT;",
                col(&c.name)
            ));
        }
        if fc.not_null {
            // Rows written between the swap and the cleanup leave it empty.
            swap.push(format!(
                "ALTER TABLE {t} ALTER COLUMN {} DROP NOT NULL;",
                col(&c.name)
            ));
        }
        swap.push(format!(
            "ALTER TABLE {t} RENAME COLUMN {} TO {};",
            col(&c.name),
            ident(&old)
        ));
        swap.push(format!(
            "ALTER TABLE {t} RENAME COLUMN {} TO {};",
            ident(&c.shadow),
            col(&c.name)
        ));
        if let Some(check) = &c.not_null_check {
            swap.push(format!(
                "ALTER TABLE {t} ALTER COLUMN {} SET NOT NULL;",
                col(&c.name)
            ));
            swap.push(format!("ALTER TABLE {t} DROP CONSTRAINT {};", ident(check)));
        }
    }
    swap.extend(renames);
    swap.extend(defaults);
    for c in columns {
        let tc = tt.column(&c.name).expect("target column");
        let target = format!("{t}.{}", col(&c.name));
        if let Some(comment) = &tc.comment {
            swap.push(format!(
                "COMMENT ON COLUMN {target} IS {};",
                literal(comment)
            ));
        }
        for g in &tc.grants {
            let option = if g.grantable {
                " WITH GRANT OPTION"
            } else {
                ""
            };
            swap.push(format!(
                "GRANT {} ({}) ON TABLE {t} TO {}{option};",
                g.privilege,
                col(&c.name),
                grantee(&g.grantee)
            ));
        }
    }
    swap.extend(view_creates);
    swap.push(format!("DROP FUNCTION {}();", function.sql()));
    swap
}

#[cfg(test)]
mod tests {
    use super::replace_word;

    #[test]
    fn only_whole_identifiers_are_replaced() {
        assert_eq!(
            replace_word("btree (user_id, other_user_id, t.user_id)", "user_id", "x"),
            "btree (x, other_user_id, t.user_id)"
        );
        assert_eq!(replace_word("(user_id)", "user_id", "x"), "(x)");
    }
}
