//! The README's own chat examples, run as written from the repository root with the built binary
//! (only the binary's path and the test database are substituted).

use std::process::{Command, Stdio};

const ROOT: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../..");

/// The shell lines of the code block under "Write a letter in the terminal".
fn chat_examples() -> Vec<String> {
    let readme = std::fs::read_to_string(format!("{ROOT}/README.md")).unwrap();
    let section = readme
        .split("**Write a letter in the terminal.**")
        .nth(1)
        .expect("the README's chat section");
    let block = section
        .split("```sh\n")
        .nth(1)
        .and_then(|b| b.split("```").next())
        .expect("a shell block in the chat section");
    block
        .lines()
        .map(|l| l.split("     #").next().unwrap_or(l).trim().to_string())
        .filter(|l| !l.is_empty())
        .collect()
}

fn run(line: &str, db_url: &str) -> std::process::Output {
    let bin = env!("CARGO_BIN_EXE_soprovod");
    let line = line.replace("./target/release/soprovod", &format!("'{bin}'"));
    Command::new("bash")
        .args(["-c", &line])
        .current_dir(ROOT)
        .env("DATABASE_URL", db_url)
        .env_remove("OPENAI_API_KEY")
        .stdin(Stdio::null())
        .output()
        .expect("run bash")
}

#[tokio::test]
async fn the_readme_chat_examples_run_as_written_and_the_scripted_one_writes_a_letter() {
    let db = testkit::empty_db().await;
    let lines = chat_examples();
    assert!(
        lines.iter().any(|l| l.contains("db down")),
        "the README says how the database is stopped: {lines:?}"
    );
    let chats: Vec<&String> = lines.iter().filter(|l| l.contains(" chat")).collect();
    assert!(chats.len() >= 2, "{lines:?}");
    for line in chats {
        assert!(line.contains("./target/release/soprovod"), "{line}");
        let out = run(line, &db.url);
        let stdout = String::from_utf8_lossy(&out.stdout);
        assert!(
            out.status.success(),
            "{line}\nstderr: {}\nstdout: {stdout}",
            String::from_utf8_lossy(&out.stderr)
        );
        if line.starts_with("printf") {
            assert_eq!(stdout.matches("Шаг 1 из 2").count(), 1, "{stdout}");
            assert!(stdout.contains("Шаг 2 из 2"), "{stdout}");
            assert!(
                stdout.contains("«Python-разработчик» в компании «Ромашка»")
                    && stdout.contains("С уважением,\nИван Петров"),
                "a letter: {stdout}"
            );
            assert!(stdout.contains("До встречи!"), "{stdout}");
        }
    }
}
