//! The text of a PDF page as a reader sees it, from its content stream: a line break where the
//! text moves to another line, a space where it leaves a gap wider than a fifth of the font
//! size, nothing where a word is only kerned in pieces (groff and TeX place each piece with its
//! own move). Ligature glyphs (fi, fl, ff, ffi, ffl) named in a font's `/Differences` come out as
//! their letters. lopdf's own `extract_text` puts a space after every `TJ` array, ignores moves
//! and drops ligatures: "Pavel Orlo v", "PostgreSQL eet".

use std::collections::{BTreeMap, HashMap};

use lopdf::content::{Content, Operation};
use lopdf::{Dictionary, Document, Encoding, Object, ObjectId};

/// A gap wider than this share of the font size is a space between words.
const SPACE_GAP: f32 = 0.2;
/// A move up or down by more than this share of the font size starts another line.
const LINE_MOVE: f32 = 0.5;
/// Width of a glyph whose font gives none, in thousandths of the font size.
const DEFAULT_WIDTH: f32 = 500.0;

/// What a font needs for decoding and measuring.
struct Font<'a> {
    encoding: Option<Encoding<'a>>,
    /// Widths by character code for one-byte fonts (`/FirstChar`, `/Widths`).
    widths: Option<(i64, Vec<f32>)>,
    /// Codes whose glyph is a ligature, with its letters.
    ligatures: HashMap<u8, &'static str>,
}

impl<'a> Font<'a> {
    fn new(doc: &'a Document, dict: &'a Dictionary, limit: usize) -> Self {
        let number = |o: &Object| match o {
            Object::Integer(i) => Some(*i as f32),
            Object::Real(r) => Some(*r),
            _ => None,
        };
        let widths = dict
            .get(b"Widths")
            .ok()
            .and_then(|w| doc.dereference(w).ok())
            .and_then(|(_, w)| w.as_array().ok())
            .map(|a| {
                a.iter()
                    .map(|w| number(w).unwrap_or(DEFAULT_WIDTH))
                    .collect()
            })
            .map(|w| {
                let first = dict.get(b"FirstChar").and_then(Object::as_i64).unwrap_or(0);
                (first, w)
            });
        let mut ligatures = HashMap::new();
        let differences = dict
            .get(b"Encoding")
            .ok()
            .and_then(|e| doc.dereference(e).ok())
            .and_then(|(_, e)| e.as_dict().ok())
            .and_then(|e| e.get(b"Differences").ok())
            .and_then(|d| doc.dereference(d).ok())
            .and_then(|(_, d)| d.as_array().ok());
        let mut code: i64 = 0;
        for item in differences.into_iter().flatten() {
            match item {
                Object::Integer(i) => code = *i,
                Object::Name(name) => {
                    let letters = match name.as_slice() {
                        b"fi" => Some("fi"),
                        b"fl" => Some("fl"),
                        b"ff" => Some("ff"),
                        b"ffi" => Some("ffi"),
                        b"ffl" => Some("ffl"),
                        _ => None,
                    };
                    if let (Some(letters), Ok(byte)) = (letters, u8::try_from(code)) {
                        ligatures.insert(byte, letters);
                    }
                    code += 1;
                }
                _ => {}
            }
        }
        Self {
            encoding: dict.get_font_encoding_with_limit(doc, limit).ok(),
            widths,
            ligatures,
        }
    }

    /// The text of a string operand; None when the font cannot decode it.
    fn decode(&self, bytes: &[u8]) -> Option<String> {
        let encoding = self.encoding.as_ref()?;
        let mut out = String::new();
        if self.ligatures.is_empty() {
            encoding.write_to_string(bytes, &mut out).ok()?;
            return Some(out);
        }
        // A font with ligatures in /Differences is a one-byte font: decoded byte by byte.
        for b in bytes {
            match self.ligatures.get(b) {
                Some(letters) => out.push_str(letters),
                None => encoding.write_to_string(&[*b], &mut out).ok()?,
            }
        }
        Some(out)
    }

    /// Width of a string in thousandths of the font size (without character spacing).
    fn width(&self, bytes: &[u8], text: &str) -> f32 {
        match &self.widths {
            Some((first, widths)) => bytes
                .iter()
                .map(|b| {
                    usize::try_from(i64::from(*b) - first)
                        .ok()
                        .and_then(|i| widths.get(i).copied())
                        .unwrap_or(DEFAULT_WIDTH)
                })
                .sum(),
            None => text.chars().count() as f32 * DEFAULT_WIDTH,
        }
    }
}

/// Where the text stands and how it is drawn (the part of the text state layout depends on).
#[derive(Default)]
struct State {
    /// Start of the current line and the current point, in text space scaled to the page.
    line: (f32, f32),
    at: (f32, f32),
    /// Horizontal and vertical scale of the text matrix.
    scale: (f32, f32),
    size: f32,
    char_spacing: f32,
    word_spacing: f32,
    leading: f32,
    font: Vec<u8>,
    /// Where the last text shown ended, if any.
    ended: Option<(f32, f32)>,
}

impl State {
    fn move_line(&mut self, tx: f32, ty: f32) {
        self.line = (
            self.line.0 + tx * self.scale.0,
            self.line.1 + ty * self.scale.1,
        );
        self.at = self.line;
    }

    /// The font size on the page.
    fn em(&self) -> f32 {
        (self.size * self.scale.1.abs().max(self.scale.0.abs())).max(1.0)
    }
}

/// The text of one page; `limit` bounds its decompressed content.
pub fn page_text(doc: &Document, page: ObjectId, limit: usize) -> Result<String, lopdf::Error> {
    let dicts: BTreeMap<Vec<u8>, &Dictionary> = doc.get_page_fonts(page)?;
    let fonts: HashMap<Vec<u8>, Font> = dicts
        .into_iter()
        .map(|(name, dict)| (name, Font::new(doc, dict, limit)))
        .collect();
    let content = Content::decode(&doc.get_page_content_with_limit(page, limit)?)?;
    let mut s = State {
        scale: (1.0, 1.0),
        ..State::default()
    };
    let mut out = String::new();
    for op in &content.operations {
        apply(op, &mut s, &fonts, &mut out);
    }
    Ok(out)
}

fn num(op: &Operation, i: usize) -> f32 {
    match op.operands.get(i) {
        Some(Object::Integer(n)) => *n as f32,
        Some(Object::Real(r)) => *r,
        _ => 0.0,
    }
}

fn apply(op: &Operation, s: &mut State, fonts: &HashMap<Vec<u8>, Font>, out: &mut String) {
    match op.operator.as_str() {
        "BT" => {
            s.scale = (1.0, 1.0);
            s.line = (0.0, 0.0);
            s.at = s.line;
        }
        "Tf" => {
            if let Some(Object::Name(name)) = op.operands.first() {
                s.font = name.clone();
            }
            s.size = num(op, 1);
        }
        "Tc" => s.char_spacing = num(op, 0),
        "Tw" => s.word_spacing = num(op, 0),
        "TL" => s.leading = num(op, 0),
        "Tm" => {
            s.scale = (num(op, 0), num(op, 3));
            s.line = (num(op, 4), num(op, 5));
            s.at = s.line;
        }
        "Td" => s.move_line(num(op, 0), num(op, 1)),
        "TD" => {
            s.leading = -num(op, 1);
            s.move_line(num(op, 0), num(op, 1));
        }
        "T*" => s.move_line(0.0, -s.leading),
        "Tj" => show(op.operands.first(), s, fonts, out),
        "'" => {
            s.move_line(0.0, -s.leading);
            show(op.operands.first(), s, fonts, out);
        }
        "\"" => {
            s.word_spacing = num(op, 0);
            s.char_spacing = num(op, 1);
            s.move_line(0.0, -s.leading);
            show(op.operands.get(2), s, fonts, out);
        }
        "TJ" => {
            for item in op
                .operands
                .first()
                .and_then(|a| a.as_array().ok())
                .into_iter()
                .flatten()
            {
                match item {
                    Object::Integer(_) | Object::Real(_) => {
                        let adjust = match item {
                            Object::Integer(n) => *n as f32,
                            Object::Real(r) => *r,
                            _ => 0.0,
                        };
                        // A positive number moves the next glyph left (kerning), a negative
                        // one right (a gap, which `show` turns into a space when it is wide).
                        s.at.0 -= adjust / 1000.0 * s.size * s.scale.0;
                    }
                    string => show(Some(string), s, fonts, out),
                }
            }
        }
        _ => {}
    }
}

/// Shows one string operand at the current point: a line break or a space first if its place
/// says so, then its text; the point moves past it.
fn show(operand: Option<&Object>, s: &mut State, fonts: &HashMap<Vec<u8>, Font>, out: &mut String) {
    let Some(Object::String(bytes, _)) = operand else {
        return;
    };
    let Some(font) = fonts.get(&s.font) else {
        return;
    };
    let Some(text) = font.decode(bytes) else {
        return;
    };
    let em = s.em();
    if let Some((x, y)) = s.ended {
        if (s.at.1 - y).abs() > LINE_MOVE * em {
            if !out.ends_with('\n') {
                out.push('\n');
            }
        } else if s.at.0 - x > SPACE_GAP * em && !out.ends_with(char::is_whitespace) {
            out.push(' ');
        }
    }
    out.push_str(&text);
    let spaces = bytes.iter().filter(|b| **b == b' ').count() as f32;
    let advance = font.width(bytes, &text) / 1000.0 * s.size
        + s.char_spacing * bytes.len() as f32
        + s.word_spacing * spaces;
    s.at.0 += advance * s.scale.0;
    s.ended = Some(s.at);
}

#[cfg(test)]
mod tests {
    use lopdf::content::{Content, Operation};
    use lopdf::{dictionary, Object, Stream};

    /// A one-page PDF whose font (every glyph half an em wide, code 1 the `fl` ligature)
    /// draws `operations` at 10 points.
    fn page(operations: Vec<Operation>) -> String {
        let mut doc = lopdf::Document::with_version("1.5");
        let pages_id = doc.new_object_id();
        let font_id = doc.add_object(dictionary! {
            "Type" => "Font", "Subtype" => "Type1", "BaseFont" => "Times-Roman",
            "FirstChar" => 0, "Widths" => vec![Object::Integer(500); 256],
            "Encoding" => dictionary! { "Type" => "Encoding", "Differences" => vec![1.into(), Object::Name(b"fl".to_vec())] },
        });
        let resources_id =
            doc.add_object(dictionary! { "Font" => dictionary! { "F1" => font_id } });
        let content = Content { operations };
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
        super::page_text(&doc, page_id, 1 << 20).unwrap()
    }

    fn op(name: &str, operands: Vec<Object>) -> Operation {
        Operation::new(name, operands)
    }

    fn s(text: &[u8]) -> Object {
        Object::string_literal(text.to_vec())
    }

    #[test]
    fn kerned_pieces_join_gaps_become_spaces_lines_break_and_ligatures_are_letters() {
        let text = page(vec![
            op("BT", vec![]),
            op("Tf", vec!["F1".into(), 10.into()]),
            op(
                "Tm",
                vec![
                    1.into(),
                    0.into(),
                    0.into(),
                    1.into(),
                    72.into(),
                    700.into(),
                ],
            ),
            // "Orlo" is 20 points wide: the next piece starts where it ends (kerned, one word).
            op("Tj", vec![s(b"Orlo")]),
            op("Td", vec![20.into(), 0.into()]),
            op("Tj", vec![s(b"v")]),
            // 25 points after the "v" ended: a space.
            op("Td", vec![30.into(), 0.into()]),
            // A gap of 0.6 em inside the array is a space, a kerning of 0.08 em is not.
            op(
                "TJ",
                vec![Object::Array(vec![
                    s(b"ran the"),
                    (-600).into(),
                    s(b"\x01eet"),
                    80.into(),
                    s(b"s"),
                ])],
            ),
            op(
                "Tm",
                vec![
                    1.into(),
                    0.into(),
                    0.into(),
                    1.into(),
                    72.into(),
                    686.into(),
                ],
            ),
            op("Tj", vec![s(b"second line")]),
            op("ET", vec![]),
        ]);
        assert_eq!(text, "Orlov ran the fleets\nsecond line");
    }
}
