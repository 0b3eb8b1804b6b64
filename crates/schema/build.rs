//! Compiles the peer-suite test (and the legacy Supabase test) only where the peer corpus (`../shared/corpus/migra`) is beside
//! the repository, as CI provides it; `SOPROVOD_REQUIRE_SHARED=1` makes its absence an error.

fn main() {
    legacy();
    let corpus = std::path::PathBuf::from(
        std::env::var_os("CARGO_MANIFEST_DIR").expect("cargo sets CARGO_MANIFEST_DIR"),
    )
    .join("../../../shared/corpus/migra");
    println!("cargo::rustc-check-cfg=cfg(peer_corpus)");
    println!("cargo::rerun-if-env-changed=SOPROVOD_REQUIRE_SHARED");
    println!("cargo::rerun-if-changed={}", corpus.display());
    if corpus.join("everything/a.sql").is_file() {
        println!("cargo::rustc-cfg=peer_corpus");
    } else if std::env::var_os("SOPROVOD_REQUIRE_SHARED").is_some_and(|v| v == "1") {
        panic!(
            "SOPROVOD_REQUIRE_SHARED=1 but the peer corpus is missing at {}",
            corpus.display()
        );
    } else {
        println!("cargo::warning=the peer corpus ../shared/corpus/migra is absent: the peer-suite test is not built");
    }
}

/// The old bot's SQL (`../shared/reference/legacy`): cfg `legacy_corpus` for the tests that load it.
fn legacy() {
    let dir = std::path::PathBuf::from(
        std::env::var_os("CARGO_MANIFEST_DIR").expect("cargo sets CARGO_MANIFEST_DIR"),
    )
    .join("../../../shared/reference/legacy");
    println!("cargo::rustc-check-cfg=cfg(legacy_corpus)");
    println!("cargo::rerun-if-changed={}", dir.display());
    if dir.join("00_supabase_platform.sql").is_file() {
        println!("cargo::rustc-cfg=legacy_corpus");
    } else if std::env::var_os("SOPROVOD_REQUIRE_SHARED").is_some_and(|v| v == "1") {
        panic!(
            "SOPROVOD_REQUIRE_SHARED=1 but the legacy corpus is missing at {}",
            dir.display()
        );
    } else {
        println!("cargo::warning=../shared/reference/legacy is absent: the Supabase default-privileges test is not built");
    }
}
