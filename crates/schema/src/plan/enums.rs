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
                        &ObjKey::Type(name.clone()),
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
                    // The old type keeps its columns, views and functions until each moves to the
                    // new one; it is dropped once they have (the graph orders that by the keys).
                    let mut s = step(
                        &object,
                        "rename the old type to recreate it with other labels",
                        format!("ALTER TYPE {} RENAME TO {};", name.sql(), ident(&old.name)),
                    )
                    .renaming(ObjKey::Type(name.clone()));
                    if !removed.is_empty() {
                        s = s.hazard(
                            HazardKind::DataLoss,
                            format!("enum labels {removed:?} are removed; rows holding them make the change fail"),
                        );
                    }
                    self.push(Phase::Types, s);
                    self.push(
                        Phase::Types,
                        step(&object, "create with the target labels", create)
                            .creating(ObjKey::Type(name.clone())),
                    );
                    self.push(
                        Phase::DropLate,
                        step(
                            &object,
                            "drop the old type",
                            format!("DROP TYPE {};", old.sql()),
                        )
                        .dropping(ObjKey::Type(name.clone())),
                    );
                    self.extras(
                        Phase::Extras,
                        "TYPE",
                        &name.sql(),
                        &object,
                        &ObjKey::Type(name.clone()),
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
                            )
                            // The type in TO's shape: what uses the label comes after.
                            .creating(ObjKey::Type(name.clone())),
                        );
                    }
                    self.extras(
                        Phase::Extras,
                        "TYPE",
                        &name.sql(),
                        &object,
                        &ObjKey::Type(name.clone()),
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

/// Whether an expression of TO (a column default, constraint, index, policy, trigger, view or
/// domain) names a label that FROM's enum lacks. `ALTER TYPE … ADD VALUE` in the plan's
/// transaction leaves a label unusable until COMMIT ("unsafe use of new value"), so such an enum
/// is recreated instead (a type made in the transaction can be used at once). An object FROM
/// already has cannot name a label FROM lacks, so only the plan's own statements match.
pub(super) fn new_label_used(to: &Model, name: &QName, fe: &EnumType, te: &EnumType) -> bool {
    let needles: Vec<String> = te
        .labels
        .iter()
        .filter(|l| !fe.labels.contains(l))
        .map(|l| format!("{}::{}", literal(l), name.sql()))
        .collect();
    if needles.is_empty() {
        return false;
    }
    let mut texts: Vec<&str> = Vec::new();
    for t in to.tables.values() {
        texts.extend(t.columns.iter().filter_map(|c| c.default.as_deref()));
        texts.extend(t.constraints.values().map(|c| c.definition.as_str()));
        texts.extend(t.indexes.values().map(|i| i.definition.as_str()));
        texts.extend(t.triggers.values().map(|t| t.definition.as_str()));
        for p in t.policies.values() {
            texts.extend(p.using.as_deref());
            texts.extend(p.with_check.as_deref());
        }
    }
    for v in to.views.values() {
        texts.push(&v.definition);
        texts.extend(v.indexes.values().map(|i| i.definition.as_str()));
    }
    for d in to.domains.values() {
        texts.extend(d.default.as_deref());
        texts.extend(d.constraints.values().map(|c| c.definition.as_str()));
    }
    texts
        .iter()
        .any(|t| needles.iter().any(|n| t.contains(n.as_str())))
}
