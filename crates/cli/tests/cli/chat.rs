//! `soprovod chat` scripted through piped stdin against a test database: the whole first letter
//! from the offline composer, a button pressed by number, and the rows it leaves.

use std::io::Write;
use std::process::{Command, Stdio};

const VACANCY: &str = "Backend-разработчик на Rust в команду платежей.
Требования:
- опыт коммерческой разработки на Rust от 2 лет
- уверенное знание PostgreSQL
- опыт с Kafka";

const RESUME: &str = "Мария Соколова, backend-разработчик.
- 2020–2026: сервисы на Rust (tokio, axum) для платёжной системы, 3 года в проде
- оптимизировала запросы PostgreSQL, сократив время отчётов вдвое
- наставничество двух младших разработчиков
Образование: СПбГУ, математико-механический факультет, 2019. Английский B2.";

fn soprovod_chat(url: &str, script: &str) -> std::process::Output {
    let mut child = Command::new(env!("CARGO_BIN_EXE_soprovod"))
        .args(["--database-url", url, "chat", "--user-id", "4242"])
        .env_remove("OPENAI_API_KEY")
        .env_remove("DATABASE_URL")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("run soprovod chat");
    child
        .stdin
        .take()
        .unwrap()
        .write_all(script.as_bytes())
        .unwrap();
    child.wait_with_output().unwrap()
}

#[tokio::test]
async fn a_scripted_chat_writes_an_offline_letter_and_takes_a_button_by_number() {
    let db = testkit::empty_db().await;
    // Vacancy, resume, then choice 1 (❤️ like) and /subscription.
    let script = format!("{VACANCY}\n.\n{RESUME}\n.\n1\n/subscription\n/quit\n");
    let out = soprovod_chat(&db.url, &script);
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "stderr: {}\nstdout: {stdout}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        stdout.contains("строкой из одной точки"),
        "the way to end a message is shown: {stdout}"
    );
    assert!(
        stdout.contains("Шаг 1 из 2") && stdout.contains("Шаг 2 из 2"),
        "{stdout}"
    );
    assert!(stdout.contains("офлайн-черновик"), "{stdout}");
    assert!(
        stdout.contains("я оптимизировала запросы PostgreSQL, сократив время отчётов вдвое"),
        "{stdout}"
    );
    assert!(
        stdout.contains("«Backend-разработчик на Rust»")
            && stdout.contains("С уважением,\nМария Соколова"),
        "{stdout}"
    );
    assert!(!stdout.contains("Kafka"), "not in the resume: {stdout}");
    assert!(stdout.contains("[1] ❤️ Нравится"), "{stdout}");
    assert!(
        stdout.contains("Спасибо"),
        "the like was answered: {stdout}"
    );
    assert!(
        stdout.contains("Писем осталось в этом месяце: 2/3"),
        "{stdout}"
    );
    // No HTML tags reach the terminal.
    assert!(!stdout.contains("<b>"), "{stdout}");

    let pool = db.pool().await;
    let (status, model): (String, String) =
        sqlx::query_as("SELECT status, model_used FROM letter_sessions")
            .fetch_one(&pool)
            .await
            .unwrap();
    assert_eq!(
        (status.as_str(), model.as_str()),
        ("completed", "offline-composer")
    );
    let feedback: String = sqlx::query_scalar("SELECT feedback_type FROM letter_feedback")
        .fetch_one(&pool)
        .await
        .unwrap();
    assert_eq!(feedback, "like");

    // A second run continues with the same user: the quota remembers the first letter.
    let out = soprovod_chat(&db.url, "/subscription\n");
    assert!(String::from_utf8_lossy(&out.stdout).contains("2/3"));
}
