//! Resume documents read by the real `soprovod __extract-document` child (`telegram::sandbox`:
//! address space and CPU time capped by setrlimit): directly as a subprocess, and through the
//! real `soprovod serve`. The readable fixtures were made by the tools people use: a .docx by
//! pandoc 2.17 from `fixtures/resume-ru.md`, a .pdf by `groff -ms -Tpdf` 1.22 from
//! `fixtures/resume-en.ms`. The hostile ones are built here: a real .docx whose document part
//! inflates to 200 MB, a PDF whose pages all show one stream of 200 MB of text (past the 512 MB
//! budget once read three times), and a .docx whose broken XML an error message would quote.
//! Nothing of a document's text reaches the log. (The groff PDF is what showed lopdf's own
//! `extract_text` mangling real PDFs — "Orlo v", "eet" for "fleet" — hence `pdf-extract`.)

use std::io::{Cursor, Read, Write};
use std::process::{Command, Output, Stdio};

use testkit::doubles::bot_api::{message_containing, TgUser};
use testkit::doubles::texts::{RESUME, VACANCY};

use crate::kill_nine::bot_process::World;
use crate::kill_nine::count;

const DOCX: &[u8] = include_bytes!("../fixtures/resume-ru.docx");
const PDF: &[u8] = include_bytes!("../fixtures/resume-en.pdf");
/// Phrases of the fixtures: found in the extracted text, never in the log.
const DOCX_PHRASES: [&str; 3] = ["Мария Ковалёва", "Северный ветер", "с 900 до 120 мс"];
/// groff kerns "Orlov" in two pieces, sets "fl" as a ligature and places "failover" in three.
const PDF_PHRASES: [&str; 3] = [
    "Pavel Orlov",
    "PostgreSQL fleet of forty clusters",
    "cut failover time",
];
const DOCX_MIME: &str = "application/vnd.openxmlformats-officedocument.wordprocessingml.document";
const UNREADABLE: &str = "Не получилось прочитать этот файл";
/// A name only the broken .docx carries (as an XML tag name, which parser errors quote).
const BROKEN_NAME: &str = "ЗакрытоеИмя";

/// `soprovod __extract-document <kind>` with `bytes` on stdin.
fn extract(kind: &str, bytes: &[u8]) -> Output {
    let mut child = Command::new(env!("CARGO_BIN_EXE_soprovod"))
        .args(["__extract-document", kind])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("starting the extraction child");
    let mut stdin = child.stdin.take().unwrap();
    let bytes = bytes.to_vec();
    // Fed from a thread so a child that stops reading cannot stall the test on a full pipe.
    let feed = std::thread::spawn(move || {
        let _ = stdin.write_all(&bytes);
    });
    let out = child.wait_with_output().unwrap();
    feed.join().unwrap();
    out
}

/// The text a child answered (`{"Text": …}`), or a panic with what it answered instead.
fn text_of(out: &Output) -> String {
    assert!(out.status.success(), "{out:?}");
    let answer: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    answer["Text"]
        .as_str()
        .unwrap_or_else(|| panic!("no text: {answer}"))
        .to_string()
}

/// The pandoc .docx with its document part replaced by `xml`, stored deflated.
fn docx_with_document(xml: &[u8]) -> Vec<u8> {
    let mut original = zip::ZipArchive::new(Cursor::new(DOCX)).unwrap();
    let mut out = Cursor::new(Vec::new());
    {
        let mut zip = zip::ZipWriter::new(&mut out);
        let opts = zip::write::SimpleFileOptions::default()
            .compression_method(zip::CompressionMethod::Deflated);
        for i in 0..original.len() {
            let mut entry = original.by_index(i).unwrap();
            let name = entry.name().unwrap().to_string();
            zip.start_file(name.as_str(), opts).unwrap();
            if name == "word/document.xml" {
                zip.write_all(xml).unwrap();
            } else {
                let mut bytes = Vec::new();
                entry.read_to_end(&mut bytes).unwrap();
                zip.write_all(&bytes).unwrap();
            }
        }
        zip.finish().unwrap();
    }
    out.into_inner()
}

/// A decompression bomb: one paragraph of 200 MB of letters in a few hundred kilobytes.
fn docx_bomb() -> Vec<u8> {
    let mut xml = b"<?xml version=\"1.0\" encoding=\"UTF-8\"?><w:document xmlns:w=\"http://schemas.openxmlformats.org/wordprocessingml/2006/main\"><w:body><w:p><w:r><w:t>".to_vec();
    xml.resize(xml.len() + (200 << 20), b'A');
    xml.extend_from_slice(b"</w:t></w:r></w:p></w:body></w:document>");
    let docx = docx_with_document(&xml);
    assert!(docx.len() < telegram::documents::MAX_DOCUMENT_BYTES);
    docx
}

/// A .docx whose XML breaks on an end tag named after the user.
fn docx_broken() -> Vec<u8> {
    let xml = format!(
        "<?xml version=\"1.0\" encoding=\"UTF-8\"?><w:document xmlns:w=\"http://schemas.openxmlformats.org/wordprocessingml/2006/main\"><w:body><w:p><w:r><w:t>{}</w:t></w:{BROKEN_NAME}></w:p></w:body></w:document>",
        DOCX_PHRASES[0]
    );
    docx_with_document(xml.as_bytes())
}

/// A PDF of three pages that all show one deflated stream: a string of 200 MB of letters.
fn pdf_bomb() -> Vec<u8> {
    use lopdf::{dictionary, Object, Stream};
    let mut z = flate2::write::ZlibEncoder::new(Vec::new(), flate2::Compression::fast());
    z.write_all(b"BT /F1 12 Tf 72 720 Td (").unwrap();
    let chunk = vec![b'A'; 1 << 20];
    for _ in 0..200 {
        z.write_all(&chunk).unwrap();
    }
    z.write_all(b") Tj ET").unwrap();
    let mut doc = lopdf::Document::with_version("1.5");
    let pages_id = doc.new_object_id();
    let font_id = doc.add_object(dictionary! {
        "Type" => "Font", "Subtype" => "Type1", "BaseFont" => "Helvetica",
    });
    let resources_id = doc.add_object(dictionary! { "Font" => dictionary! { "F1" => font_id } });
    let mut stream = Stream::new(
        dictionary! { "Filter" => "FlateDecode" },
        z.finish().unwrap(),
    );
    stream.allows_compression = false;
    let content_id = doc.add_object(stream);
    let kids: Vec<Object> = (0..3)
        .map(|_| {
            doc.add_object(
                dictionary! { "Type" => "Page", "Parent" => pages_id, "Contents" => content_id },
            )
            .into()
        })
        .collect();
    doc.objects.insert(
        pages_id,
        Object::Dictionary(dictionary! {
            "Type" => "Pages", "Kids" => kids, "Count" => 3,
            "Resources" => resources_id, "MediaBox" => vec![0.into(), 0.into(), 595.into(), 842.into()],
        }),
    );
    let catalog_id = doc.add_object(dictionary! { "Type" => "Catalog", "Pages" => pages_id });
    doc.trailer.set("Root", catalog_id);
    let mut out = Vec::new();
    doc.save_to(&mut out).unwrap();
    assert!(out.len() < telegram::documents::MAX_DOCUMENT_BYTES);
    out
}

#[test]
fn the_extract_subcommand_reads_a_docx_made_by_pandoc_and_a_pdf_made_by_groff() {
    let docx = text_of(&extract("docx", DOCX));
    for phrase in DOCX_PHRASES {
        assert!(docx.contains(phrase), "{phrase:?} not in {docx:?}");
    }
    let pdf = text_of(&extract("pdf", PDF));
    for phrase in PDF_PHRASES {
        assert!(pdf.contains(phrase), "{phrase:?} not in {pdf:?}");
    }
}

#[test]
fn the_extract_subcommand_dies_at_its_memory_budget_on_a_pdf_bomb_and_refuses_a_docx_bomb() {
    let out = extract("pdf", &pdf_bomb());
    assert!(!out.status.success(), "{out:?}");
    assert!(out.stdout.is_empty(), "no answer from a child that died");
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("memory allocation"),
        "ended by the address-space limit: {out:?}"
    );
    let out = extract("docx", &docx_bomb());
    assert!(out.status.success(), "{out:?}");
    let answer: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert!(
        answer["Unreadable"]
            .as_str()
            .is_some_and(|why| why.contains("too much data")),
        "{answer}"
    );
}

/// One user: /start, the vacancy, then a document; returns the user.
async fn send_document(w: &World, telegram_id: i64, file: &str, name: &str, mime: &str) -> TgUser {
    let u = TgUser::new(telegram_id);
    w.api.push(u.text("/start"));
    w.api.push(u.text(VACANCY));
    message_containing(&w.api, u.id, 1, "Шаг 2 из 2").await;
    w.api.push(u.document(file, name, mime, 0));
    u
}

/// Fails if any of `phrases` is in the log; the log must show the bot at work (info lines).
fn assert_log_holds_none_of(log: &str, phrases: &[&str]) {
    assert!(log.contains("update recorded in the inbox"), "{log}");
    for phrase in phrases {
        assert!(!log.contains(phrase), "{phrase:?} is in the log:\n{log}");
    }
}

#[tokio::test]
async fn resumes_sent_as_a_pandoc_docx_and_a_groff_pdf_become_letters_and_stay_out_of_the_log() {
    let w = &World::polling().await;
    w.api
        .add_file("cv-docx", "documents/file_1.docx", DOCX.to_vec());
    w.api
        .add_file("cv-pdf", "documents/file_2.pdf", PDF.to_vec());
    let bot = w.start();
    let log = bot.log.clone();
    let maria = send_document(w, 830_000_001, "cv-docx", "Резюме.docx", DOCX_MIME).await;
    message_containing(&w.api, maria.id, 2, "Версия письма номер").await;
    let pavel = send_document(w, 830_000_002, "cv-pdf", "cv.pdf", "application/pdf").await;
    message_containing(&w.api, pavel.id, 2, "Версия письма номер").await;
    bot.stop().await;
    // The model was given the documents' text.
    let prompts: Vec<String> = (0..2).map(|n| w.llm.user_message(n)).collect();
    assert!(
        prompts.iter().any(|p| p.contains(DOCX_PHRASES[1])),
        "{prompts:?}"
    );
    assert!(
        prompts.iter().any(|p| p.contains(PDF_PHRASES[1])),
        "{prompts:?}"
    );
    let log = std::fs::read_to_string(log).unwrap();
    assert_log_holds_none_of(&log, &[&DOCX_PHRASES[..], &PDF_PHRASES[..]].concat());
}

#[tokio::test]
async fn hostile_documents_get_a_clear_answer_and_the_bot_keeps_serving() {
    let w = &World::polling().await;
    let (docx_bomb, pdf_bomb, broken) =
        tokio::task::spawn_blocking(|| (docx_bomb(), pdf_bomb(), docx_broken()))
            .await
            .unwrap();
    w.api
        .add_file("docx-bomb", "documents/file_1.docx", docx_bomb);
    w.api.add_file("pdf-bomb", "documents/file_2.pdf", pdf_bomb);
    w.api.add_file("broken", "documents/file_3.docx", broken);
    let bot = w.start();
    let log = bot.log.clone();
    let files = [
        ("docx-bomb", "Резюме.docx", DOCX_MIME),
        ("pdf-bomb", "Резюме.pdf", "application/pdf"),
        ("broken", "Резюме.docx", DOCX_MIME),
    ];
    for (n, (file, name, mime)) in files.into_iter().enumerate() {
        let u = send_document(w, 830_000_010 + n as i64, file, name, mime).await;
        message_containing(&w.api, u.id, 2, UNREADABLE).await;
        // Still waiting for the resume, and still working: the text resume gets the letter.
        w.api.push(u.text(RESUME));
        message_containing(&w.api, u.id, 3, "Версия письма номер").await;
        assert_eq!(count(w, u.id, UNREADABLE), 1);
    }
    bot.stop().await;
    assert_eq!(w.llm.count(), 3);
    let log = std::fs::read_to_string(log).unwrap();
    assert!(log.contains("document text not extracted"), "{log}");
    assert_log_holds_none_of(&log, &[BROKEN_NAME, DOCX_PHRASES[0], "AAAAAAAA"]);
}
