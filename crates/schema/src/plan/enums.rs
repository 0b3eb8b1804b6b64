//! Generator of enum types, and the late drop of unused types.

use super::*;

impl Planner<'_> {
    pub(super) fn enums(&mut self) {
        for (name, te) in &self.to.enums {
            let object = format!("type {name}");
            let labels = te
                .labels
                .iter()
                .map(|l| literal(l))
                .collect::<Vec<_>>()
                .join(", ");
            let create = format!("CREATE TYPE {} AS ENUM ({labels});", name.sql());
            match self.from.enums.get(name) {
                None => {
                    self.push(
                        Phase::Types,
                        step(&object, "create", create).creating(ObjKey::Type(name.clone())),
                    );
                    self.extras(
                        Phase::Extras,
                        "TYPE",
                        &name.sql(),
                        &object,
                        None,
                        &te.extras,
                    );
                }
                Some(fe) if self.replaced_enums.contains(name) => {
                    let old = QName::new(&name.schema, format!("{}__soprovod_old", name.name));
                    let removed: Vec<&String> = fe
                        .labels
                        .iter()
                        .filter(|l| !te.labels.contains(l))
                        .collect();
                    let mut s = step(
                        &object,
                        "rename the old type to recreate it with other labels",
                        format!("ALTER TYPE {} RENAME TO {};", name.sql(), ident(&old.name)),
                    );
                    if !removed.is_empty() {
                        s = s.hazard(
                            HazardKind::DataLoss,
                            format!("enum labels {removed:?} are removed; rows holding them make the change fail"),
                        );
                    }
                    self.push(Phase::Types, s);
                    self.push(
                        Phase::Types,
                        step(&object, "create with the target labels", create),
                    );
                    self.push(
                        Phase::DropLate,
                        step(
                            &object,
                            "drop the old type",
                            format!("DROP TYPE {};", old.sql()),
                        ),
                    );
                    self.extras(
                        Phase::Extras,
                        "TYPE",
                        &name.sql(),
                        &object,
                        None,
                        &te.extras,
                    );
                }
                Some(fe) => {
                    for (i, label) in te.labels.iter().enumerate() {
                        if fe.labels.contains(label) {
                            continue;
                        }
                        let place = match i {
                            0 => format!("BEFORE {}", literal(&te.labels[1])),
                            _ => format!("AFTER {}", literal(&te.labels[i - 1])),
                        };
                        self.push(
                            Phase::Types,
                            step(
                                &object,
                                format!("add label {label}"),
                                format!(
                                    "ALTER TYPE {} ADD VALUE {} {place};",
                                    name.sql(),
                                    literal(label)
                                ),
                            ),
                        );
                    }
                    self.extras(
                        Phase::Extras,
                        "TYPE",
                        &name.sql(),
                        &object,
                        Some(&fe.extras),
                        &te.extras,
                    );
                }
            }
        }
    }

    pub(super) fn drop_unused_types(&mut self) {
        for name in self
            .from
            .enums
            .keys()
            .filter(|n| !self.to.enums.contains_key(*n))
        {
            self.push(
                Phase::DropLate,
                step(
                    format!("type {name}"),
                    "drop",
                    format!("DROP TYPE {};", name.sql()),
                )
                .dropping(ObjKey::Type(name.clone())),
            );
        }
    }
}
