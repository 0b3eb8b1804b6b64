//! The document extraction child on its own, for this crate's tests and benchmarks (which have
//! no `soprovod` binary to re-execute). The product runs the same code as
//! `soprovod __extract-document <kind>`.

use std::process::ExitCode;

fn main() -> ExitCode {
    let mut args = std::env::args().skip(1);
    if args.next().as_deref() != Some(telegram::sandbox::CHILD_ARG) {
        eprintln!(
            "usage: soprovod-extract {} text|pdf|docx < document",
            telegram::sandbox::CHILD_ARG
        );
        return ExitCode::from(64);
    }
    ExitCode::from(telegram::sandbox::child_main(
        &args.next().unwrap_or_default(),
    ))
}
