//! Generator of sequences.

use super::*;

impl Planner<'_> {
    pub(super) fn sequences(&mut self) {
        for (name, ts) in &self.to.sequences {
            let object = format!("sequence {name}");
            let options = format!(
                "AS {} INCREMENT BY {} MINVALUE {} MAXVALUE {} START WITH {} CACHE {} {}",
                ts.data_type,
                ts.increment,
                ts.min,
                ts.max,
                ts.start,
                ts.cache,
                if ts.cycle { "CYCLE" } else { "NO CYCLE" }
            );
            let fs = self.from.sequences.get(name);
            match fs {
                None => self.push(
                    Phase::CreateSequences,
                    step(
                        &object,
                        "create",
                        format!("CREATE SEQUENCE {} {options};", name.sql()),
                    )
                    .creating(ObjKey::Sequence(name.clone())),
                ),
                Some(fs) => {
                    let same = fs.data_type == ts.data_type
                        && fs.increment == ts.increment
                        && fs.min == ts.min
                        && fs.max == ts.max
                        && fs.start == ts.start
                        && fs.cache == ts.cache
                        && fs.cycle == ts.cycle;
                    if !same {
                        let what = if fs.data_type != ts.data_type {
                            format!(
                                "retype {} → {} (with its column)",
                                fs.data_type, ts.data_type
                            )
                        } else {
                            "change options".to_string()
                        };
                        self.push(
                            Phase::AlterSequences,
                            step(
                                &object,
                                what,
                                format!("ALTER SEQUENCE {} {options};", name.sql()),
                            )
                            .needing(ObjKey::Sequence(name.clone())),
                        );
                    }
                }
            }
            if fs.and_then(|f| f.owned_by.clone()) != ts.owned_by {
                let owner = match &ts.owned_by {
                    Some((t, c)) => format!("{}.{}", t.sql(), ident(c)),
                    None => "NONE".into(),
                };
                let mut s = step(
                    &object,
                    format!("owned by {owner}"),
                    format!("ALTER SEQUENCE {} OWNED BY {owner};", name.sql()),
                )
                .needing(ObjKey::Sequence(name.clone()));
                if let Some((t, c)) = &ts.owned_by {
                    s = s.needing(ObjKey::Column(t.clone(), c.clone()));
                }
                self.push(Phase::AlterSequences, s);
            }
            self.extras(
                Phase::Extras,
                "SEQUENCE",
                &name.sql(),
                &object,
                &ObjKey::Sequence(name.clone()),
                fs.map(|f| &f.extras),
                &ts.extras,
            );
        }
        let dropped: Vec<&QName> = self
            .from
            .sequences
            .keys()
            .filter(|n| {
                !self.to.sequences.contains_key(*n) && !self.serials_to_identity.contains(*n)
            })
            .collect();
        for name in dropped {
            // A serial's sequence goes with its column, so it may be gone by now.
            self.push(
                Phase::DropLate,
                step(
                    format!("sequence {name}"),
                    "drop",
                    format!("DROP SEQUENCE IF EXISTS {};", name.sql()),
                )
                .dropping(ObjKey::Sequence(name.clone())),
            );
        }
    }
}
