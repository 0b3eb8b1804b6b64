//! The declared schema: the `.sql` files of `crates/store/schema/`, embedded in the binary.

/// One file of the declared schema.
#[derive(Debug, Clone, Copy)]
pub struct SqlFile {
    pub name: &'static str,
    pub sql: &'static str,
}

macro_rules! schema_files {
    ($($name:literal),* $(,)?) => {
        &[$(SqlFile { name: $name, sql: include_str!(concat!("../schema/", $name)) }),*]
    };
}

/// Applied in this order (file names sort the same way).
const FILES: &[SqlFile] = schema_files![
    "010_users.sql",
    "020_letters.sql",
    "030_billing.sql",
    "040_tracking.sql",
    "045_analytics.sql",
    "046_analytics_retention.sql",
    "050_views.sql",
    "055_funnel.sql",
    "070_conversation.sql",
];

/// The files of the declared schema, in the order they run.
pub fn declared_schema() -> &'static [SqlFile] {
    FILES
}

/// The whole declared schema as one script.
pub fn declared_sql() -> String {
    FILES
        .iter()
        .map(|f| format!("-- {}\n{}\n", f.name, f.sql))
        .collect()
}

#[cfg(test)]
mod tests {
    #[test]
    fn every_sql_file_in_the_schema_directory_is_embedded() {
        let dir = concat!(env!("CARGO_MANIFEST_DIR"), "/schema");
        let mut on_disk: Vec<String> = std::fs::read_dir(dir)
            .unwrap()
            .map(|e| e.unwrap().file_name().into_string().unwrap())
            .filter(|n| n.ends_with(".sql"))
            .collect();
        on_disk.sort();
        let embedded: Vec<String> = super::FILES.iter().map(|f| f.name.to_string()).collect();
        assert_eq!(on_disk, embedded);
    }
}
