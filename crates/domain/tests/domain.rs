//! Domain integration tests: the compile-time guarantees the product relies on.

#[test]
fn a_telegram_id_cannot_be_used_where_a_user_id_is_expected() {
    let t = trybuild::TestCases::new();
    t.compile_fail("tests/compile_fail/*.rs");
}
