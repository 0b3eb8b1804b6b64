//! Compiles the tests on the old Python bot's database only where its SQL
//! (`../shared/reference/legacy`) is beside the repository, as CI provides it;
//! `SOPROVOD_REQUIRE_SHARED=1` makes its absence an error.

fn main() {
    let legacy = std::path::PathBuf::from(
        std::env::var_os("CARGO_MANIFEST_DIR").expect("cargo sets CARGO_MANIFEST_DIR"),
    )
    .join("../../../shared/reference/legacy");
    println!("cargo::rustc-check-cfg=cfg(legacy_corpus)");
    println!("cargo::rerun-if-env-changed=SOPROVOD_REQUIRE_SHARED");
    println!("cargo::rerun-if-changed={}", legacy.display());
    if legacy.join("supabase_schema.sql").is_file() {
        println!("cargo::rustc-cfg=legacy_corpus");
    } else if std::env::var_os("SOPROVOD_REQUIRE_SHARED").is_some_and(|v| v == "1") {
        panic!(
            "SOPROVOD_REQUIRE_SHARED=1 but the legacy SQL is missing at {}",
            legacy.display()
        );
    } else {
        println!("cargo::warning=../shared/reference/legacy is absent: the tests on the old bot's database are not built");
    }
}
