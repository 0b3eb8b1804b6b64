//! The declared schema: the `.sql` files of `crates/store/schema/`, embedded in the binary.
//!
//! `NNN_name.data.sql` files hold the data steps of a takeover (the schema engine's directive
//! format); they are listed apart and never run as part of the schema.

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
    "056_analytics_commit.sql",
    "057_analytics_triggers.sql",
    "070_conversation.sql",
    "075_delivery.sql",
];

/// Data-step files (`*.data.sql`), in the order their steps run.
const DATA_FILES: &[SqlFile] = schema_files!["090_takeover.data.sql"];

/// The files of the declared schema, in the order they run (no data-step files).
pub fn declared_schema() -> &'static [SqlFile] {
    FILES
}

/// The declared schema's data-step files (`*.data.sql`).
pub fn declared_data_files() -> &'static [SqlFile] {
    DATA_FILES
}

/// Every file the schema engine reads as the target: the schema files and the data-step files.
pub fn declared_target_files() -> impl Iterator<Item = &'static SqlFile> {
    FILES.iter().chain(DATA_FILES.iter())
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
    fn every_sql_file_in_the_schema_directory_is_embedded_in_its_list() {
        let dir = concat!(env!("CARGO_MANIFEST_DIR"), "/schema");
        let mut on_disk: Vec<String> = std::fs::read_dir(dir)
            .unwrap()
            .map(|e| e.unwrap().file_name().into_string().unwrap())
            .filter(|n| n.ends_with(".sql"))
            .collect();
        on_disk.sort();
        let mut embedded: Vec<String> = super::declared_target_files()
            .map(|f| f.name.to_string())
            .collect();
        embedded.sort();
        assert_eq!(on_disk, embedded);
        assert!(super::FILES.iter().all(|f| !f.name.ends_with(".data.sql")));
        assert!(super::DATA_FILES
            .iter()
            .all(|f| f.name.ends_with(".data.sql")));
    }
}
