//! Generators of indexes and triggers of tables and views.

use super::*;

impl Planner<'_> {
    #[allow(clippy::too_many_arguments)]
    pub(super) fn indexes(
        &mut self,
        object: &str,
        table: &QName,
        schema: &str,
        from: &BTreeMap<String, Index>,
        to: &BTreeMap<String, Index>,
        existing: bool,
    ) {
        let rebuilt_set = self.rebuilt.clone();
        let rebuilt = |n: &String| rebuilt_set.contains(&ObjKey::Index(QName::new(schema, n)));
        for (n, fi) in from {
            if to.get(n).is_none_or(|ti| ti.definition != fi.definition) || rebuilt(n) {
                self.push(
                    Phase::DropConstraints,
                    step(
                        object,
                        format!("drop index {n}"),
                        format!("DROP INDEX {};", QName::new(schema, n).sql()),
                    )
                    .dropping(ObjKey::Index(QName::new(schema, n))),
                );
            }
        }
        for (n, ti) in to {
            let fi = from
                .get(n)
                .filter(|fi| fi.definition == ti.definition && !rebuilt(n));
            if fi.is_none() {
                // pg_get_indexdef renders a partitioned table's index `ON ONLY` (the parent alone,
                // as pg_dump makes it before attaching each partition's index): created that way
                // it stays invalid and the partitions get none. Plain `ON` builds it everywhere.
                let sql = ti.definition.replacen(" ON ONLY ", " ON ", 1);
                let mut s = step(object, format!("create index {n}"), format!("{sql};"))
                    .creating(ObjKey::Index(QName::new(schema, n)));
                if let (true, Some((keys, predicate, nulls_distinct))) = (
                    existing && self.from.tables.contains_key(table),
                    unique_index_parts(&ti.definition),
                ) {
                    s = s.checking(DataCheck::Unique {
                        table: table.clone(),
                        name: n.clone(),
                        keys,
                        predicate,
                        nulls_distinct,
                    });
                }
                self.push(Phase::Indexes, s);
            }
            if fi.map(|f| &f.comment) != Some(&ti.comment) && (ti.comment.is_some() || fi.is_some())
            {
                self.push(
                    Phase::Extras,
                    step(
                        object,
                        format!("comment on index {n}"),
                        comment_sql("INDEX", &QName::new(schema, n).sql(), &ti.comment),
                    )
                    .needing(ObjKey::Index(QName::new(schema, n))),
                );
            }
        }
    }

    pub(super) fn triggers(
        &mut self,
        object: &str,
        table: &QName,
        from: &BTreeMap<String, Trigger>,
        to: &BTreeMap<String, Trigger>,
    ) {
        let on = &table.sql();
        for (n, ft) in from {
            let function_replaced = self.replaced_functions.contains(&ft.function)
                || self.is_rebuilt(&ObjKey::Trigger(table.clone(), n.clone()));
            if to.get(n).is_none_or(|tt| tt.definition != ft.definition) || function_replaced {
                self.push(
                    Phase::DropTriggers,
                    step(
                        object,
                        format!("drop trigger {n}"),
                        format!("DROP TRIGGER {} ON {on};", ident(n)),
                    )
                    .dropping(ObjKey::Trigger(table.clone(), n.clone())),
                );
            }
        }
        for (n, tt) in to {
            let kept = from.get(n).filter(|ft| {
                ft.definition == tt.definition
                    && !self.replaced_functions.contains(&ft.function)
                    && !self.is_rebuilt(&ObjKey::Trigger(table.clone(), n.clone()))
            });
            if kept.is_none() {
                self.push(
                    Phase::CreateTriggers,
                    step(
                        object,
                        format!("create trigger {n}"),
                        format!("{};", tt.definition),
                    )
                    .creating(ObjKey::Trigger(table.clone(), n.clone())),
                );
            }
            if kept.map(|k| &k.enabled) != Some(&tt.enabled)
                && (kept.is_some() || tt.enabled != TriggerState::Origin)
            {
                let what = format!("{} TRIGGER", tt.enabled.sql());
                self.push(
                    Phase::CreateTriggers,
                    step(
                        object,
                        format!("trigger {n} state"),
                        format!("ALTER TABLE {on} {what} {};", ident(n)),
                    )
                    .needing(ObjKey::Trigger(table.clone(), n.clone())),
                );
            }
            if kept.map(|k| &k.comment) != Some(&tt.comment)
                && (tt.comment.is_some() || kept.is_some())
            {
                self.push(
                    Phase::Extras,
                    step(
                        object,
                        format!("comment on trigger {n}"),
                        comment_sql("TRIGGER", &format!("{} ON {on}", ident(n)), &tt.comment),
                    )
                    .needing(ObjKey::Trigger(table.clone(), n.clone())),
                );
            }
        }
    }
}
