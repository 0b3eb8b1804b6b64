//! Generators of schemas, extensions and collations.

use super::*;

impl Planner<'_> {
    pub(super) fn namespaces(&mut self) {
        for (name, tn) in &self.to.namespaces {
            let object = format!("schema {name}");
            let fnm = self.from.namespaces.get(name);
            if fnm.is_none() {
                self.push(
                    Phase::CreateSchemas,
                    step(&object, "create", format!("CREATE SCHEMA {};", ident(name)))
                        .creating(ObjKey::Schema(name.clone())),
                );
            }
            self.extras(
                Phase::Extras,
                "SCHEMA",
                &ident(name),
                &object,
                &ObjKey::Schema(name.clone()),
                fnm.map(|f| &f.extras),
                &tn.extras,
            );
        }
        for name in self
            .from
            .namespaces
            .keys()
            .filter(|n| !self.to.namespaces.contains_key(*n))
        {
            self.push(
                Phase::DropSchemas,
                step(
                    format!("schema {name}"),
                    "drop",
                    format!("DROP SCHEMA {};", ident(name)),
                )
                .dropping(ObjKey::Schema(name.clone())),
            );
        }
    }

    pub(super) fn extensions(&mut self) {
        for (name, te) in &self.to.extensions {
            let object = format!("extension {name}");
            match self.from.extensions.get(name) {
                None => self.push(
                    Phase::Extensions,
                    step(
                        &object,
                        "create",
                        format!(
                            "CREATE EXTENSION IF NOT EXISTS {} WITH SCHEMA {} VERSION {};",
                            ident(name),
                            ident(&te.schema),
                            literal(&te.version)
                        ),
                    )
                    .creating(ObjKey::Extension(name.clone())),
                ),
                Some(fe) => {
                    if fe.schema != te.schema {
                        self.push(
                            Phase::Extensions,
                            step(
                                &object,
                                "move",
                                format!(
                                    "ALTER EXTENSION {} SET SCHEMA {};",
                                    ident(name),
                                    ident(&te.schema)
                                ),
                            )
                            .needing(ObjKey::Extension(name.clone()))
                            .needing(ObjKey::Schema(te.schema.clone())),
                        );
                    }
                    if fe.version != te.version {
                        self.push(
                            Phase::Extensions,
                            step(
                                &object,
                                format!("update {} → {}", fe.version, te.version),
                                format!(
                                    "ALTER EXTENSION {} UPDATE TO {};",
                                    ident(name),
                                    literal(&te.version)
                                ),
                            )
                            .needing(ObjKey::Extension(name.clone())),
                        );
                    }
                }
            }
        }
        for name in self
            .from
            .extensions
            .keys()
            .filter(|n| !self.to.extensions.contains_key(*n))
        {
            self.push(
                Phase::DropExtensions,
                step(
                    format!("extension {name}"),
                    "drop",
                    format!("DROP EXTENSION {};", ident(name)),
                )
                .dropping(ObjKey::Extension(name.clone()))
                .hazard(
                    HazardKind::DataLoss,
                    format!(
                        "extension {name} and the functions, types and operators it installed are dropped"
                    ),
                ),
            );
        }
    }

    pub(super) fn collations(&mut self) {
        for (name, tc) in &self.to.collations {
            let object = format!("collation {name}");
            let fc = self.from.collations.get(name);
            if fc.is_some_and(|f| f.options != tc.options) {
                self.push(
                    Phase::Collations,
                    step(
                        &object,
                        "drop to recreate",
                        format!("DROP COLLATION {};", name.sql()),
                    )
                    .dropping(ObjKey::Collation(name.clone())),
                );
            }
            if fc.is_none_or(|f| f.options != tc.options) {
                self.push(
                    Phase::Collations,
                    step(
                        &object,
                        "create",
                        format!("CREATE COLLATION {} ({});", name.sql(), tc.options),
                    )
                    .creating(ObjKey::Collation(name.clone())),
                );
            }
            let kept = fc.filter(|f| f.options == tc.options).map(|f| &f.extras);
            self.extras(
                Phase::Extras,
                "COLLATION",
                &name.sql(),
                &object,
                &ObjKey::Collation(name.clone()),
                kept,
                &tc.extras,
            );
        }
        for name in self
            .from
            .collations
            .keys()
            .filter(|n| !self.to.collations.contains_key(*n))
        {
            self.push(
                Phase::DropLate,
                step(
                    format!("collation {name}"),
                    "drop",
                    format!("DROP COLLATION {};", name.sql()),
                )
                .dropping(ObjKey::Collation(name.clone())),
            );
        }
    }
}
