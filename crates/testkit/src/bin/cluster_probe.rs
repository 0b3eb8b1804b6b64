//! A process that starts the test cluster and then ends badly, so the test kit's own tests can check
//! the cluster does not outlive it. Prints the server's pid and directory, then `panic` or `abort`.

fn main() {
    let how = std::env::args().nth(1).unwrap_or_default();
    let cluster = testkit::cluster();
    println!(
        "{} {}",
        cluster.pid(),
        std::env::temp_dir()
            .join(format!("soprovod-testkit-{}", std::process::id()))
            .display()
    );
    use std::io::Write;
    std::io::stdout().flush().unwrap();
    match how.as_str() {
        "abort" => std::process::abort(),
        _ => panic!("the probe fails on purpose"),
    }
}
