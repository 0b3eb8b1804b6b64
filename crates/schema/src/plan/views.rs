//! Generator of views and materialized views: dropped before what they read changes, recreated after.

use super::*;

impl Planner<'_> {
    pub(super) fn views(&mut self) {
        let affected = self.affected_views();
        // Drop in reverse dependency order of FROM.
        let from_order = topo_order(&self.from.views, |v| &v.depends.relations);
        for name in from_order.iter().rev().filter(|n| affected.contains(*n)) {
            let fv = &self.from.views[name];
            let kind = if fv.materialized {
                "MATERIALIZED VIEW"
            } else {
                "VIEW"
            };
            let why = if !self.to.views.contains_key(name) {
                "drop".to_string()
            } else if self.to.views[name].definition != fv.definition
                || self.to.views[name].materialized != fv.materialized
            {
                "drop to recreate with the target definition".to_string()
            } else {
                "drop to recreate around the change of what it reads".to_string()
            };
            self.push(
                Phase::DropViews,
                step(
                    format!("{} {name}", kind.to_lowercase()),
                    why,
                    format!("DROP {kind} {};", name.sql()),
                )
                .dropping(ObjKey::Relation(name.clone())),
            );
        }
        // Create in dependency order of TO.
        let to_order = topo_order(&self.to.views, |v| &v.depends.relations);
        for name in &to_order {
            let tv = &self.to.views[name];
            let kind = if tv.materialized {
                "MATERIALIZED VIEW"
            } else {
                "VIEW"
            };
            let object = format!("{} {name}", kind.to_lowercase());
            let fv = self.from.views.get(name);
            let recreate = fv.is_none() || affected.contains(name);
            if !recreate {
                let fv = fv.expect("kept view");
                self.alter_view(name, fv, tv);
                continue;
            }
            let with = if tv.reloptions.is_empty() {
                String::new()
            } else {
                format!(" WITH ({})", tv.reloptions.join(", "))
            };
            let sql = if tv.materialized {
                let data = if tv.populated {
                    "WITH DATA"
                } else {
                    "WITH NO DATA"
                };
                format!(
                    "CREATE MATERIALIZED VIEW {}{with} AS\n{}\n{data};",
                    name.sql(),
                    tv.definition
                )
            } else {
                format!("CREATE VIEW {}{with} AS\n{};", name.sql(), tv.definition)
            };
            let mut s = step(
                &object,
                if fv.is_some() {
                    "recreate from the target definition"
                } else {
                    "create"
                },
                sql,
            )
            .creating(ObjKey::Relation(name.clone()));
            if tv.materialized && fv.is_some() {
                s = s.hazard(
                    HazardKind::MatviewRepopulate,
                    "the materialized view is recreated and filled again",
                );
            }
            self.push(Phase::CreateViews, s);
            for (n, i) in &tv.indexes {
                self.push(
                    Phase::CreateViews,
                    step(&object, "create index", format!("{};", i.definition))
                        .creating(ObjKey::Index(QName::new(&name.schema, n))),
                );
            }
            for (c, comment) in &tv.column_comments {
                let target = format!("{}.{}", name.sql(), ident(c));
                self.push(
                    Phase::CreateViews,
                    step(
                        &object,
                        format!("comment on column {c}"),
                        comment_sql("COLUMN", &target, &Some(comment.clone())),
                    )
                    .needing(ObjKey::Relation(name.clone())),
                );
            }
            // Restore what the dropped view had: its owner when owners are not compared.
            let mut extras = tv.extras.clone();
            if !self.opts.owners {
                if let Some(fv) = fv {
                    extras.owner = fv.extras.owner.clone();
                }
            }
            let saved = self.opts;
            self.opts.owners = true;
            if extras.owner.is_empty() {
                extras.owner = self.from.current_user.clone();
            }
            self.extras(
                Phase::CreateViews,
                kind,
                &name.sql(),
                &object,
                &ObjKey::Relation(name.clone()),
                None,
                &extras,
            );
            self.opts = saved;
            for (n, t) in &tv.triggers {
                self.push(
                    Phase::CreateTriggers,
                    step(
                        &object,
                        format!("create trigger {n}"),
                        format!("{};", t.definition),
                    )
                    .creating(ObjKey::Trigger(name.clone(), n.clone())),
                );
                if t.comment.is_some() {
                    self.push(
                        Phase::Extras,
                        step(
                            &object,
                            format!("comment on trigger {n}"),
                            comment_sql(
                                "TRIGGER",
                                &format!("{} ON {}", ident(n), name.sql()),
                                &t.comment,
                            ),
                        )
                        .needing(ObjKey::Trigger(name.clone(), n.clone())),
                    );
                }
            }
        }
        // Triggers of views that are dropped disappear with them; nothing else to do.
    }

    pub(super) fn alter_view(&mut self, name: &QName, fv: &View, tv: &View) {
        let kind = if tv.materialized {
            "MATERIALIZED VIEW"
        } else {
            "VIEW"
        };
        let object = format!("{} {name}", kind.to_lowercase());
        if fv.reloptions != tv.reloptions {
            let removed: Vec<String> = fv
                .reloptions
                .iter()
                .filter_map(|o| o.split('=').next().map(str::to_string))
                .filter(|k| {
                    !tv.reloptions
                        .iter()
                        .any(|o| o.split('=').next() == Some(k.as_str()))
                })
                .collect();
            if !removed.is_empty() {
                self.push(
                    Phase::Extras,
                    step(
                        &object,
                        "reset options",
                        format!(
                            "ALTER {kind} {} RESET ({});",
                            name.sql(),
                            removed.join(", ")
                        ),
                    )
                    .needing(ObjKey::Relation(name.clone())),
                );
            }
            if !tv.reloptions.is_empty() {
                self.push(
                    Phase::Extras,
                    step(
                        &object,
                        "options",
                        format!(
                            "ALTER {kind} {} SET ({});",
                            name.sql(),
                            tv.reloptions.join(", ")
                        ),
                    )
                    .needing(ObjKey::Relation(name.clone())),
                );
            }
        }
        for (c, _) in &tv.columns {
            let (a, b) = (fv.column_comments.get(c), tv.column_comments.get(c));
            if a != b {
                let target = format!("{}.{}", name.sql(), ident(c));
                self.push(
                    Phase::Extras,
                    step(
                        &object,
                        format!("comment on column {c}"),
                        comment_sql("COLUMN", &target, &b.cloned()),
                    )
                    .needing(ObjKey::Relation(name.clone())),
                );
            }
        }
        if tv.materialized && fv.populated != tv.populated {
            let sql = if tv.populated {
                format!("REFRESH MATERIALIZED VIEW {};", name.sql())
            } else {
                format!("REFRESH MATERIALIZED VIEW {} WITH NO DATA;", name.sql())
            };
            self.push(
                Phase::Extras,
                step(&object, "refresh", sql)
                    .needing(ObjKey::Relation(name.clone()))
                    .hazard(
                        HazardKind::MatviewRepopulate,
                        "the materialized view is refilled",
                    ),
            );
        }
        self.indexes(&object, name, &name.schema, &fv.indexes, &tv.indexes, true);
        self.triggers(&object, name, &fv.triggers, &tv.triggers);
        self.extras(
            Phase::Extras,
            kind,
            &name.sql(),
            &object,
            &ObjKey::Relation(name.clone()),
            Some(&fv.extras),
            &tv.extras,
        );
    }
}
