//! Generator of tables: create, drop, recreate, and column grants.

use super::*;

impl Planner<'_> {
    /// `parent`: TO's table a partition belongs to, whose columns it takes.
    pub(super) fn create_table_sql(name: &QName, t: &Table, parent: Option<&Table>) -> String {
        let unlogged = if t.unlogged { "UNLOGGED " } else { "" };
        let mut sql = if let Some((parent_name, bound)) = &t.partition_of {
            // A partition takes its parent's columns with their defaults; its own default or
            // NOT NULL is stated per column (`WITH OPTIONS`), or it would be the parent's.
            let overrides: Vec<String> = t
                .columns
                .iter()
                .filter_map(|c| {
                    let pc = parent?.column(&c.name)?;
                    let mut o = String::new();
                    if let (Some(d), true) = (&c.default, c.default != pc.default) {
                        o.push_str(&format!(" DEFAULT {d}"));
                    }
                    if c.not_null && !pc.not_null {
                        o.push_str(" NOT NULL");
                    }
                    (!o.is_empty()).then(|| format!("    {} WITH OPTIONS{o}", ident(&c.name)))
                })
                .collect();
            let columns = if overrides.is_empty() {
                String::new()
            } else {
                format!(" (\n{}\n)", overrides.join(",\n"))
            };
            format!(
                "CREATE {unlogged}TABLE {} PARTITION OF {}{columns} {bound}",
                name.sql(),
                parent_name.sql()
            )
        } else {
            let cols: Vec<String> = t
                .columns
                .iter()
                .filter(|c| c.local)
                .map(|c| format!("    {}", column_sql(c)))
                .collect();
            let mut s = format!(
                "CREATE {unlogged}TABLE {} (\n{}\n)",
                name.sql(),
                cols.join(",\n")
            );
            if cols.is_empty() {
                s = format!("CREATE {unlogged}TABLE {} ()", name.sql());
            }
            if !t.inherits.is_empty() {
                s.push_str(&format!(
                    " INHERITS ({})",
                    t.inherits
                        .iter()
                        .map(QName::sql)
                        .collect::<Vec<_>>()
                        .join(", ")
                ));
            }
            s
        };
        if let Some(key) = &t.partition_key {
            sql.push_str(&format!(" PARTITION BY {key}"));
        }
        if !t.reloptions.is_empty() {
            sql.push_str(&format!(" WITH ({})", t.reloptions.join(", ")));
        }
        sql.push(';');
        sql
    }

    pub(super) fn tables(&mut self) {
        // Parents before children when creating, children before parents when dropping.
        let depth = |m: &Model, n: &QName| -> usize {
            let mut d = 0;
            let mut cur = n.clone();
            while let Some(p) = m.tables.get(&cur).and_then(|t| {
                t.partition_of
                    .as_ref()
                    .map(|p| p.0.clone())
                    .or_else(|| t.inherits.first().cloned())
            }) {
                d += 1;
                cur = p;
                if d > 32 {
                    break;
                }
            }
            d
        };
        let mut to_names: Vec<&QName> = self.to.tables.keys().collect();
        to_names.sort_by_key(|n| depth(self.to, n));
        for name in to_names {
            let tt = &self.to.tables[name];
            let object = format!("table {name}");
            let recreated = self.recreated_tables.contains(name);
            let ft = self.from.tables.get(name).filter(|_| !recreated);
            if recreated {
                self.push(
                    Phase::DropConstraints,
                    step(&object, "drop to recreate (partitioning changes)", format!("DROP TABLE {};", name.sql()))
                        .dropping(ObjKey::Relation(name.clone()))
                        .hazard(
                            HazardKind::DataLoss,
                            "the table is dropped and created again with other partitioning; its rows are not copied",
                        )
                        .touching(name),
                );
            }
            let phase = Phase::CreateTables;
            match ft {
                None => {
                    self.push(
                        phase,
                        step(
                            &object,
                            "create",
                            Self::create_table_sql(
                                name,
                                tt,
                                tt.partition_of
                                    .as_ref()
                                    .and_then(|(p, _)| self.to.tables.get(p)),
                            ),
                        )
                        .creating(ObjKey::Relation(name.clone())),
                    );
                    for c in &tt.columns {
                        if c.comment.is_some() {
                            let target = format!("{}.{}", name.sql(), ident(&c.name));
                            self.push(
                                Phase::Extras,
                                step(
                                    &object,
                                    format!("comment on column {}", c.name),
                                    comment_sql("COLUMN", &target, &c.comment),
                                )
                                .needing(ObjKey::Column(name.clone(), c.name.clone())),
                            );
                        }
                        self.column_grants(name, &c.name, &BTreeSet::new(), &c.grants);
                    }
                }
                Some(ft) => self.alter_table(name, ft, tt),
            }
            self.table_parts(name, ft, tt);
            self.extras(
                Phase::Extras,
                "TABLE",
                &name.sql(),
                &object,
                &ObjKey::Relation(name.clone()),
                ft.map(|f| &f.extras),
                &tt.extras,
            );
        }
        let mut dropped: Vec<&QName> = self
            .from
            .tables
            .keys()
            .filter(|n| !self.to.tables.contains_key(*n))
            .collect();
        dropped.sort_by_key(|n| std::cmp::Reverse(depth(self.from, n)));
        for name in dropped {
            // Its foreign keys go first, so dropped tables that reference each other drop in any order.
            let fks: Vec<String> = self.from.tables[name]
                .constraints
                .iter()
                .filter(|(_, c)| {
                    c.kind == ConstraintKind::ForeignKey && c.references.as_ref() != Some(name)
                })
                .map(|(cn, _)| cn.clone())
                .collect();
            for cn in fks {
                self.push(
                    Phase::DropForeignKeys,
                    step(
                        format!("table {name}"),
                        format!("drop constraint {cn}"),
                        format!("ALTER TABLE {} DROP CONSTRAINT {};", name.sql(), ident(&cn)),
                    )
                    .dropping(ObjKey::Constraint(name.clone(), cn.clone()))
                    .touching(name),
                );
            }
            let rows_note = "the table and its rows are dropped";
            self.push(
                Phase::DropTables,
                step(
                    format!("table {name}"),
                    "drop",
                    format!("DROP TABLE {};", name.sql()),
                )
                .dropping(ObjKey::Relation(name.clone()))
                .hazard(HazardKind::DataLoss, rows_note)
                .touching(name),
            );
        }
    }

    pub(super) fn column_grants(
        &mut self,
        table: &QName,
        column: &str,
        from: &BTreeSet<Grant>,
        to: &BTreeSet<Grant>,
    ) {
        for g in from.difference(to) {
            self.push(
                Phase::Extras,
                step(
                    format!("table {table}"),
                    format!("revoke {} on column {column}", g.privilege),
                    format!(
                        "REVOKE {} ({}) ON TABLE {} FROM {};",
                        g.privilege,
                        ident(column),
                        table.sql(),
                        grantee(&g.grantee)
                    ),
                )
                .needing(ObjKey::Column(table.clone(), column.into()))
                .hazard(
                    HazardKind::Security,
                    format!(
                        "{} loses {} on column {column} of {table}",
                        g.grantee, g.privilege
                    ),
                ),
            );
        }
        for g in to.difference(from) {
            let option = if g.grantable {
                " WITH GRANT OPTION"
            } else {
                ""
            };
            // After the table's own grants and revokes (phase `Extras`): revoking a privilege on
            // the table takes it from every column too, so a column grant made first is lost.
            self.push(
                Phase::DropLate,
                step(
                    format!("table {table}"),
                    format!("grant {} on column {column}", g.privilege),
                    format!(
                        "GRANT {} ({}) ON TABLE {} TO {}{option};",
                        g.privilege,
                        ident(column),
                        table.sql(),
                        grantee(&g.grantee)
                    ),
                )
                .needing(ObjKey::Column(table.clone(), column.into())),
            );
        }
    }
}
