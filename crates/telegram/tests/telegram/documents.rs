//! Resume documents read within a memory and time budget: a PDF built to inflate past the budget
//! ends only the extraction child; the user is told the file could not be read, and the bot goes
//! on (the same user's text resume gets the letter).

use std::io::Write;
use std::time::{Duration, Instant};

use telegram::documents::{DocumentError, DocumentKind};
use telegram::sandbox::{Extractor, MEMORY_BUDGET_BYTES, WALL_BUDGET};

use crate::support::harness::{World, RESUME, VACANCY};
use crate::support::message_containing;
use testkit::doubles::bot_api::TgUser;

fn child() -> Extractor {
    Extractor::child(env!("CARGO_BIN_EXE_soprovod-extract"), Vec::new())
}

/// A PDF of `pages` pages that all show one deflated content stream: a single string of
/// `letters` letters. Lopdf inflates each page within its own bound (256 MB), but reading the
/// text inflates the stream once per page, parses the string and keeps its text: far more
/// memory than the file's few hundred kilobytes suggest.
fn pdf_of_huge_pages(letters: usize, pages: usize) -> Vec<u8> {
    use lopdf::{dictionary, Object, Stream};
    let mut z = flate2::write::ZlibEncoder::new(Vec::new(), flate2::Compression::fast());
    z.write_all(b"BT /F1 12 Tf 72 720 Td (").unwrap();
    let chunk = vec![b'A'; 1 << 20];
    for _ in 0..letters / chunk.len() {
        z.write_all(&chunk).unwrap();
    }
    z.write_all(b") Tj ET").unwrap();
    let deflated = z.finish().unwrap();
    let mut doc = lopdf::Document::with_version("1.5");
    let pages_id = doc.new_object_id();
    let font_id = doc.add_object(dictionary! {
        "Type" => "Font", "Subtype" => "Type1", "BaseFont" => "Helvetica", "Encoding" => "WinAnsiEncoding",
    });
    let resources_id = doc.add_object(dictionary! { "Font" => dictionary! { "F1" => font_id } });
    let mut stream = Stream::new(dictionary! { "Filter" => "FlateDecode" }, deflated);
    stream.allows_compression = false;
    let content_id = doc.add_object(stream);
    let kids: Vec<Object> = (0..pages)
        .map(|_| {
            doc.add_object(dictionary! {
                "Type" => "Page", "Parent" => pages_id, "Contents" => content_id,
            })
            .into()
        })
        .collect();
    doc.objects.insert(
        pages_id,
        Object::Dictionary(dictionary! {
            "Type" => "Pages", "Kids" => kids, "Count" => pages as i64,
            "Resources" => resources_id, "MediaBox" => vec![0.into(), 0.into(), 595.into(), 842.into()],
        }),
    );
    let catalog_id = doc.add_object(dictionary! { "Type" => "Catalog", "Pages" => pages_id });
    doc.trailer.set("Root", catalog_id);
    let mut out = Vec::new();
    doc.save_to(&mut out).unwrap();
    out
}

/// Three pages of 200 MB of text each: 600 MB of text alone, past the 512 MB budget.
const PAGE_LETTERS: usize = 200 << 20;
const PAGES: usize = 3;
const _: () = assert!((PAGE_LETTERS * PAGES) as u64 > MEMORY_BUDGET_BYTES);

fn bomb() -> Vec<u8> {
    let pdf = pdf_of_huge_pages(PAGE_LETTERS, PAGES);
    assert!(
        pdf.len() < telegram::documents::MAX_DOCUMENT_BYTES,
        "the bomb passes the size check: {} bytes",
        pdf.len()
    );
    pdf
}

#[tokio::test]
async fn a_pdf_that_inflates_past_the_memory_budget_ends_only_the_extraction_child() {
    let pdf = tokio::task::spawn_blocking(bomb).await.unwrap();
    let result = child().extract(DocumentKind::Pdf, pdf).await;
    assert_eq!(result, Err(DocumentError::OverBudget));
    // The same child reads an ordinary document.
    let text = child()
        .extract(
            DocumentKind::Text,
            "Анна Смирнова, backend-разработчик".as_bytes().to_vec(),
        )
        .await
        .unwrap();
    assert_eq!(text, "Анна Смирнова, backend-разработчик");
}

/// Whether process `pid` ends (killed or exited; not yet reaped counts) within `within`: its
/// pidfd becomes readable then, so this waits for the kernel's word instead of polling /proc.
fn ends_within(pid: u32, within: Duration) -> bool {
    use rustix::event::{poll, PollFd, PollFlags, Timespec};
    use rustix::process::{pidfd_open, Pid, PidfdFlags};
    let pid = Pid::from_raw(pid as i32).expect("a pid is positive");
    let pidfd = match pidfd_open(pid, PidfdFlags::empty()) {
        Ok(fd) => fd,
        // Already reaped: it has ended.
        Err(e) if e == rustix::io::Errno::SRCH => return true,
        Err(e) => panic!("pidfd_open: {e}"),
    };
    let timeout = Timespec {
        tv_sec: within.as_secs() as i64,
        tv_nsec: 0,
    };
    let mut fds = [PollFd::new(&pidfd, PollFlags::IN)];
    poll(&mut fds, Some(&timeout)).expect("poll on the pidfd") == 1
}

#[tokio::test]
async fn an_extraction_child_that_outlives_the_wall_clock_budget_is_killed_and_the_file_refused() {
    // A child stuck forever (a parser in a loop that makes no system call looks the same from
    // outside): it notes its pid and sleeps, never answering.
    let dir = std::env::temp_dir().join(format!("soprovod-stuck-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let pid_file = dir.join("pid");
    let script = format!("echo $$ > '{}'; exec sleep 600", pid_file.display());
    let stuck = Extractor::child("sh", vec!["-c".into(), script, "stuck".into()])
        .with_wall_budget(Duration::from_secs(1));
    let result = stuck
        .extract(DocumentKind::Pdf, b"%PDF-1.4\n".to_vec())
        .await;
    assert_eq!(result, Err(DocumentError::OverBudget));
    // A second is ample for the shell to start, even on a busy machine.
    let pid: u32 = std::fs::read_to_string(&pid_file)
        .expect("the stuck child started within its budget")
        .trim()
        .parse()
        .unwrap();
    std::fs::remove_dir_all(&dir).unwrap();
    // It would sleep for 600 s; it ends only because it was killed.
    let ended = tokio::task::spawn_blocking(move || ends_within(pid, Duration::from_secs(10)))
        .await
        .unwrap();
    assert!(ended, "the stuck child {pid} still runs");
}

#[tokio::test]
async fn a_hostile_pdf_gets_a_clear_answer_and_the_bot_then_writes_the_letter_from_text() {
    let w = World::new().await;
    let pdf = tokio::task::spawn_blocking(bomb).await.unwrap();
    let size = pdf.len();
    w.api.add_file("bomb", "documents/file_9.pdf", pdf);
    let bot = w.start_polling(w.config()).await;
    let id = 620_000_001;
    let u = TgUser::new(id);
    w.api.push(u.text("/start"));
    w.api.push(u.text(VACANCY));
    message_containing(&w.api, id, 1, "Шаг 2 из 2").await;
    let sent = Instant::now();
    w.api
        .push(u.document("bomb", "Резюме.pdf", "application/pdf", size));
    message_containing(&w.api, id, 2, "Не получилось прочитать этот файл").await;
    assert!(
        sent.elapsed() < WALL_BUDGET + Duration::from_secs(10),
        "answered within the extraction budget: {:?}",
        sent.elapsed()
    );
    // Still waiting for the resume, and still working: the text resume gets the letter.
    w.api.push(u.text(RESUME));
    message_containing(&w.api, id, 3, "Версия письма номер").await;
    bot.stop().await;
    assert_eq!(w.llm.count(), 1);
}
