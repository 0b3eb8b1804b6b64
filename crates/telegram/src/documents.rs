//! Text out of resume documents (.txt, .pdf, .docx up to 5 MB), so a user can send the file
//! instead of pasting it. The extracted text then goes through the same resume rules as typed text.

use std::io::{Cursor, Read};

/// Largest document accepted (bot.md: up to 5 MB).
pub const MAX_DOCUMENT_BYTES: usize = 5 * 1024 * 1024;

/// A .docx unpacks to XML several times its size; more than this is a zip bomb, not a resume.
const MAX_DOCX_XML_BYTES: u64 = 40 * 1024 * 1024;

/// The kinds of document the bot reads.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DocumentKind {
    Text,
    Pdf,
    Docx,
}

/// Why a document gave no text. Carries no document content (it may be logged).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DocumentError {
    #[error("only .txt, .pdf and .docx documents are read")]
    Unsupported,
    #[error("the document is {bytes} bytes, over the limit of {max}")]
    TooLarge { bytes: usize, max: usize },
    #[error("the document could not be read: {0}")]
    Unreadable(String),
    #[error("the document has no text (a scan or an image?)")]
    NoText,
    #[error("reading the document took more memory or time than allowed")]
    OverBudget,
}

impl DocumentError {
    /// What went wrong, in a word for the log: the messages of [`DocumentError::Unreadable`]
    /// come from the parsers, which may quote the document (an XML tag name, a PDF token).
    pub fn reason(&self) -> &'static str {
        match self {
            Self::Unsupported => "unsupported",
            Self::TooLarge { .. } => "too large",
            Self::Unreadable(_) => "unreadable",
            Self::NoText => "no text",
            Self::OverBudget => "over budget",
        }
    }
}

impl DocumentKind {
    /// The kind from the file name, or from the MIME type when the name says nothing.
    pub fn detect(file_name: Option<&str>, mime: Option<&str>) -> Result<Self, DocumentError> {
        let ext = file_name
            .and_then(|n| n.rsplit_once('.'))
            .map(|(_, e)| e.to_ascii_lowercase());
        match ext.as_deref() {
            Some("txt") | Some("text") | Some("md") => return Ok(Self::Text),
            Some("pdf") => return Ok(Self::Pdf),
            Some("docx") => return Ok(Self::Docx),
            _ => {}
        }
        match mime.map(|m| m.to_ascii_lowercase()) {
            Some(m) if m.starts_with("text/plain") => Ok(Self::Text),
            Some(m) if m == "application/pdf" => Ok(Self::Pdf),
            Some(m) if m == "application/vnd.openxmlformats-officedocument.wordprocessingml.document" => Ok(Self::Docx),
            _ => Err(DocumentError::Unsupported),
        }
    }
}

/// The text of a document, with no memory bound of its own: the bot calls it in a child process
/// (`sandbox`).
pub fn extract_text(kind: DocumentKind, bytes: &[u8]) -> Result<String, DocumentError> {
    if bytes.len() > MAX_DOCUMENT_BYTES {
        return Err(DocumentError::TooLarge {
            bytes: bytes.len(),
            max: MAX_DOCUMENT_BYTES,
        });
    }
    let text = match kind {
        DocumentKind::Text => decode_plain_text(bytes),
        DocumentKind::Docx => docx_text(bytes)?,
        // A malformed PDF must not take the bot down, whatever the parser does with it.
        DocumentKind::Pdf => std::panic::catch_unwind(|| pdf_text(bytes))
            .unwrap_or_else(|_| Err(DocumentError::Unreadable("the PDF parser gave up".into())))?,
    };
    let text = normalise(&text);
    if text.trim().is_empty() {
        return Err(DocumentError::NoText);
    }
    Ok(text)
}

/// The encoding its BOM names (UTF-8, UTF-16 LE/BE), else UTF-8 when the bytes are valid UTF-8,
/// else Windows-1251, the usual encoding of Russian text files that are not UTF-8.
fn decode_plain_text(bytes: &[u8]) -> String {
    if let Some((encoding, bom_len)) = encoding_rs::Encoding::for_bom(bytes) {
        return encoding
            .decode_without_bom_handling(&bytes[bom_len..])
            .0
            .into_owned();
    }
    match std::str::from_utf8(bytes) {
        Ok(s) => s.to_string(),
        Err(_) => encoding_rs::WINDOWS_1251.decode(bytes).0.into_owned(),
    }
}

/// The text of `word/document.xml`: runs joined, a line per paragraph, tabs and breaks kept.
fn docx_text(bytes: &[u8]) -> Result<String, DocumentError> {
    use quick_xml::events::Event;

    let mut archive = zip::ZipArchive::new(Cursor::new(bytes))
        .map_err(|e| DocumentError::Unreadable(format!("not a .docx ({e})")))?;
    let mut xml = Vec::new();
    {
        let entry = archive
            .by_name("word/document.xml")
            .map_err(|_| DocumentError::Unreadable("a .docx without word/document.xml".into()))?;
        entry
            .take(MAX_DOCX_XML_BYTES + 1)
            .read_to_end(&mut xml)
            .map_err(|e| DocumentError::Unreadable(format!("unpacking the .docx: {e}")))?;
    }
    if xml.len() as u64 > MAX_DOCX_XML_BYTES {
        return Err(DocumentError::Unreadable(
            "the .docx unpacks to too much data".into(),
        ));
    }
    let mut reader = quick_xml::Reader::from_reader(xml.as_slice());
    let mut out = String::new();
    let mut in_text = false;
    let mut buf = Vec::new();
    loop {
        match reader.read_event_into(&mut buf) {
            Ok(Event::Start(e)) if e.local_name().as_ref() == "t" => in_text = true,
            Ok(Event::End(e)) => match e.local_name().as_ref() {
                "t" => in_text = false,
                "p" => out.push('\n'),
                _ => {}
            },
            Ok(Event::Empty(e)) => match e.local_name().as_ref() {
                "tab" => out.push('\t'),
                "br" | "cr" => out.push('\n'),
                _ => {}
            },
            // quick-xml reports each `&…;` as a reference of its own, so text has none left.
            Ok(Event::Text(t)) if in_text => out.push_str(&t.xml10_content()),
            Ok(Event::GeneralRef(r)) if in_text => match r.resolve_char_ref() {
                Ok(Some(c)) => out.push(c),
                _ => match quick_xml::escape::resolve_predefined_entity(&r.xml10_content()) {
                    Some(s) => out.push_str(s),
                    // An entity a .docx cannot define: kept as written rather than dropped.
                    None => {
                        out.push('&');
                        out.push_str(&r.xml10_content());
                        out.push(';');
                    }
                },
            },
            Ok(Event::Eof) => break,
            Ok(_) => {}
            Err(e) => {
                return Err(DocumentError::Unreadable(format!(
                    "bad XML in the .docx: {e}"
                )))
            }
        }
        buf.clear();
    }
    Ok(out)
}

fn pdf_text(bytes: &[u8]) -> Result<String, DocumentError> {
    let doc = lopdf::Document::load_mem(bytes)
        .map_err(|e| DocumentError::Unreadable(format!("not a readable PDF ({e})")))?;
    if doc.is_encrypted() {
        return Err(DocumentError::Unreadable("the PDF is encrypted".into()));
    }
    let pages: Vec<u32> = doc.get_pages().keys().copied().collect();
    if pages.is_empty() {
        return Err(DocumentError::NoText);
    }
    let mut out = String::new();
    for page in pages {
        // A page the layout cannot follow is skipped rather than failing the whole resume.
        let mut text = String::new();
        let mut layout = pdf_extract::PlainTextOutput::new(&mut text);
        if pdf_extract::output_doc_page(&doc, &mut layout, page).is_ok() {
            out.push_str(&text);
            out.push('\n');
        }
    }
    Ok(out)
}

/// Line endings unified, trailing spaces dropped, runs of blank lines collapsed.
fn normalise(text: &str) -> String {
    let text = text
        .replace("\r\n", "\n")
        .replace('\r', "\n")
        .replace('\u{0}', "");
    let mut out = String::with_capacity(text.len());
    let mut blank = 0;
    for line in text.lines() {
        let line = line.trim_end();
        if line.trim().is_empty() {
            blank += 1;
            if blank > 1 {
                continue;
            }
        } else {
            blank = 0;
        }
        out.push_str(line);
        out.push('\n');
    }
    out.trim().to_string()
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Write;

    pub(crate) fn docx_with(paragraphs: &[&str]) -> Vec<u8> {
        let body: String = paragraphs
            .iter()
            .map(|p| format!("<w:p><w:r><w:t xml:space=\"preserve\">{p}</w:t></w:r></w:p>"))
            .collect();
        let xml = format!(
            "<?xml version=\"1.0\" encoding=\"UTF-8\" standalone=\"yes\"?>\
             <w:document xmlns:w=\"http://schemas.openxmlformats.org/wordprocessingml/2006/main\"><w:body>{body}</w:body></w:document>"
        );
        let mut buf = Cursor::new(Vec::new());
        {
            let mut zip = zip::ZipWriter::new(&mut buf);
            let opts = zip::write::SimpleFileOptions::default()
                .compression_method(zip::CompressionMethod::Deflated);
            zip.start_file("[Content_Types].xml", opts).unwrap();
            zip.write_all(b"<Types/>").unwrap();
            zip.start_file("word/document.xml", opts).unwrap();
            zip.write_all(xml.as_bytes()).unwrap();
            zip.finish().unwrap();
        }
        buf.into_inner()
    }

    #[test]
    fn the_kind_comes_from_the_name_or_the_mime_type() {
        assert_eq!(
            DocumentKind::detect(Some("CV.PDF"), None),
            Ok(DocumentKind::Pdf)
        );
        assert_eq!(
            DocumentKind::detect(Some("resume.docx"), Some("application/octet-stream")),
            Ok(DocumentKind::Docx)
        );
        assert_eq!(
            DocumentKind::detect(None, Some("text/plain; charset=utf-8")),
            Ok(DocumentKind::Text)
        );
        assert_eq!(
            DocumentKind::detect(Some("resume.doc"), Some("application/msword")),
            Err(DocumentError::Unsupported)
        );
        assert_eq!(
            DocumentKind::detect(Some("photo.jpg"), Some("image/jpeg")),
            Err(DocumentError::Unsupported)
        );
    }

    #[test]
    fn a_docx_gives_its_paragraphs_with_entities_decoded() {
        let bytes = docx_with(&[
            "Иван Петров",
            "Rust &amp; PostgreSQL, 5 лет",
            "Опыт: &lt;бэкенд&gt; &quot;ООО&quot; &#1046;&#x416; &apos;A&apos;",
        ]);
        let text = extract_text(DocumentKind::Docx, &bytes).unwrap();
        assert_eq!(
            text,
            "Иван Петров\nRust & PostgreSQL, 5 лет\nОпыт: <бэкенд> \"ООО\" ЖЖ 'A'"
        );
    }

    #[test]
    fn a_windows_1251_text_file_is_decoded() {
        let (bytes, _, _) = encoding_rs::WINDOWS_1251.encode("Опыт работы: 5 лет");
        assert_eq!(
            extract_text(DocumentKind::Text, &bytes).unwrap(),
            "Опыт работы: 5 лет"
        );
        let mut bom = vec![0xEF, 0xBB, 0xBF];
        bom.extend_from_slice("Резюме\r\n\r\n\r\nНавыки".as_bytes());
        assert_eq!(
            extract_text(DocumentKind::Text, &bom).unwrap(),
            "Резюме\n\nНавыки"
        );
        for (bom, encode) in [
            ([0xFF, 0xFE], u16::to_le_bytes as fn(u16) -> [u8; 2]),
            ([0xFE, 0xFF], u16::to_be_bytes),
        ] {
            let mut bytes = bom.to_vec();
            bytes.extend("Опыт: Rust".encode_utf16().flat_map(encode));
            assert_eq!(
                extract_text(DocumentKind::Text, &bytes).unwrap(),
                "Опыт: Rust"
            );
        }
    }

    #[test]
    fn a_pdf_with_text_is_read() {
        let bytes =
            crate::documents::tests::pdf_with("Senior Rust engineer, five years of PostgreSQL");
        let text = extract_text(DocumentKind::Pdf, &bytes).unwrap();
        assert!(text.contains("Senior Rust engineer"), "{text:?}");
    }

    #[test]
    fn broken_and_oversized_documents_are_refused_not_panicked_on() {
        assert!(matches!(
            extract_text(DocumentKind::Pdf, b"%PDF-1.4 garbage"),
            Err(DocumentError::Unreadable(_))
        ));
        assert!(matches!(
            extract_text(DocumentKind::Docx, b"PK not a zip"),
            Err(DocumentError::Unreadable(_))
        ));
        assert_eq!(
            extract_text(DocumentKind::Text, b"  \n \n"),
            Err(DocumentError::NoText)
        );
        let big = vec![b'a'; MAX_DOCUMENT_BYTES + 1];
        assert!(matches!(
            extract_text(DocumentKind::Text, &big),
            Err(DocumentError::TooLarge { .. })
        ));
    }

    /// A one-page PDF with `text` in Helvetica, built with lopdf.
    pub(crate) fn pdf_with(text: &str) -> Vec<u8> {
        use lopdf::content::{Content, Operation};
        use lopdf::{dictionary, Object, Stream};
        let mut doc = lopdf::Document::with_version("1.5");
        let pages_id = doc.new_object_id();
        let font_id = doc.add_object(dictionary! {
            "Type" => "Font", "Subtype" => "Type1", "BaseFont" => "Helvetica", "Encoding" => "WinAnsiEncoding",
        });
        let resources_id =
            doc.add_object(dictionary! { "Font" => dictionary! { "F1" => font_id } });
        let content = Content {
            operations: vec![
                Operation::new("BT", vec![]),
                Operation::new("Tf", vec!["F1".into(), 12.into()]),
                Operation::new("Td", vec![72.into(), 720.into()]),
                Operation::new("Tj", vec![Object::string_literal(text)]),
                Operation::new("ET", vec![]),
            ],
        };
        let content_id = doc.add_object(Stream::new(dictionary! {}, content.encode().unwrap()));
        let page_id = doc.add_object(dictionary! {
            "Type" => "Page", "Parent" => pages_id, "Contents" => content_id,
        });
        doc.objects.insert(
            pages_id,
            Object::Dictionary(dictionary! {
                "Type" => "Pages", "Kids" => vec![page_id.into()], "Count" => 1,
                "Resources" => resources_id, "MediaBox" => vec![0.into(), 0.into(), 595.into(), 842.into()],
            }),
        );
        let catalog_id = doc.add_object(dictionary! { "Type" => "Catalog", "Pages" => pages_id });
        doc.trailer.set("Root", catalog_id);
        let mut out = Vec::new();
        doc.save_to(&mut out).unwrap();
        out
    }
}
