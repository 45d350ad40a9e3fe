//! The compose file as a tree of nodes that know where they are in the text.
//!
//! saphyr-parser is an event parser: it says "a scalar `nginx:1.25`, plain, at characters
//! 30..40" and nothing more. This builds those events into a small arena (mappings keep their
//! entries in file order, aliases point at the node their anchor names) and converts the
//! parser's *character* positions into *byte* offsets, since the edit splices bytes.
//!
//! The parser's span is exact where it matters least: for a quoted scalar at the end of a block
//! line it runs on over the trailing comment. So [`token`] finds a scalar's own characters by
//! reading the text from where the node starts, and the caller never trusts the span's end for
//! anything but a plain scalar.

use saphyr_parser::{Event, Parser, ScalarStyle};
use std::collections::HashMap;

/// An index into [`Document::nodes`].
pub(super) type NodeId = usize;

/// How a scalar is written, which decides how a new value must be written in its place.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Style {
    Plain,
    Single,
    Double,
    /// `|` or `>`: a whole indented block, which an image never needs and this does not edit.
    Block,
}

#[derive(Debug)]
pub(super) enum Kind {
    Scalar {
        value: String,
        style: Style,
    },
    /// Entries in file order: keys and values are nodes (a key may be an alias, or even a
    /// collection).
    Mapping(Vec<(NodeId, NodeId)>),
    Sequence(Vec<NodeId>),
    /// `*name`: the node that `&name` marked when the parser met this alias.
    Alias(NodeId),
}

#[derive(Debug)]
pub(super) struct Node {
    pub kind: Kind,
    /// Byte offset of the node's first character, properties (`&anchor`, `!tag`) included.
    pub start: usize,
    /// Byte offset where the parser says the node ends: exact for plain scalars only.
    pub end: usize,
    /// The anchor this node defines (`&name`), for error messages.
    pub anchor: Option<String>,
    /// Inside `{…}` or `[…]`, where `,[]{}` would end a plain scalar.
    pub flow: bool,
}

#[derive(Debug)]
pub(super) struct Document {
    pub nodes: Vec<Node>,
    /// `None` for an empty file (or one of comments only).
    pub root: Option<NodeId>,
}

/// An open collection while its events arrive.
enum Open {
    Mapping { id: NodeId, key: Option<NodeId> },
    Sequence { id: NodeId },
}

/// Character index → byte offset, since the parser counts characters.
struct Offsets(Vec<usize>);

impl Offsets {
    fn new(text: &str) -> Self {
        let mut offsets: Vec<usize> = text.char_indices().map(|(at, _)| at).collect();
        offsets.push(text.len());
        Offsets(offsets)
    }

    fn byte(&self, char_index: usize) -> usize {
        // Past the end only on a parser bug; the end is the safe answer, never a panic.
        self.0
            .get(char_index)
            .or(self.0.last())
            .copied()
            .unwrap_or(0)
    }
}

/// Parses the text: one document, or an error message that says where the YAML is wrong.
pub(super) fn parse(text: &str) -> Result<Document, String> {
    let offsets = Offsets::new(text);
    let mut parser = Parser::new_from_str(text);
    let mut doc = Document {
        nodes: Vec::new(),
        root: None,
    };
    let mut open: Vec<Open> = Vec::new();
    // The parser numbers anchors (a redefined name gets a new number); aliases use the number.
    let mut anchors: HashMap<usize, NodeId> = HashMap::new();
    let mut documents = 0usize;

    while let Some(next) = parser.next_event() {
        let (event, span) = next.map_err(|err| err.to_string())?;
        let start = offsets.byte(span.start.index());
        let end = offsets.byte(span.end.index()).max(start);
        let flow = open.last().is_some_and(|o| {
            let id = match o {
                Open::Mapping { id, .. } | Open::Sequence { id } => *id,
            };
            doc.nodes[id].flow
        });
        let (kind, anchor_id, opens) = match event {
            Event::StreamStart | Event::StreamEnd | Event::DocumentEnd | Event::Nothing => {
                continue;
            }
            Event::DocumentStart(_) => {
                documents += 1;
                if documents > 1 {
                    // Compose reads one document; a second could override the first.
                    return Err("the file holds several YAML documents (`---`)".into());
                }
                continue;
            }
            Event::MappingEnd | Event::SequenceEnd => {
                open.pop();
                continue;
            }
            Event::Scalar(value, style, anchor_id, _tag) => {
                let style = match style {
                    ScalarStyle::Plain => Style::Plain,
                    ScalarStyle::SingleQuoted => Style::Single,
                    ScalarStyle::DoubleQuoted => Style::Double,
                    ScalarStyle::Literal | ScalarStyle::Folded => Style::Block,
                };
                let value = value.into_owned();
                (Kind::Scalar { value, style }, anchor_id, None)
            }
            Event::Alias(anchor_id) => {
                let Some(&target) = anchors.get(&anchor_id) else {
                    return Err(format!("an alias at byte {start} names no anchor"));
                };
                (Kind::Alias(target), 0, None)
            }
            Event::MappingStart(anchor_id, _tag) => {
                (Kind::Mapping(Vec::new()), anchor_id, Some(true))
            }
            Event::SequenceStart(anchor_id, _tag) => {
                (Kind::Sequence(Vec::new()), anchor_id, Some(false))
            }
        };
        let id = doc.nodes.len();
        let anchor = (anchor_id != 0)
            .then(|| properties(text, start).0.map(str::to_owned))
            .flatten();
        let own_flow = opens.is_some() && {
            let head = text.get(start..end).unwrap_or("").trim_end();
            head.ends_with('{') || head.ends_with('[')
        };
        doc.nodes.push(Node {
            kind,
            start,
            end,
            anchor,
            flow: flow || own_flow,
        });
        if anchor_id != 0 {
            // Registered before the node's children arrive, as the parser does: `&a [*a]` is a
            // cycle, which the walks over the tree guard against.
            anchors.insert(anchor_id, id);
        }
        attach(&mut doc, &mut open, id)?;
        match opens {
            Some(true) => open.push(Open::Mapping { id, key: None }),
            Some(false) => open.push(Open::Sequence { id }),
            None => {}
        }
    }
    Ok(doc)
}

/// Hangs a new node on the collection being built (as a key, a value or an item).
fn attach(doc: &mut Document, open: &mut [Open], id: NodeId) -> Result<(), String> {
    match open.last_mut() {
        None if doc.root.is_none() => {
            doc.root = Some(id);
            Ok(())
        }
        None => Err("the document has more than one top-level node".into()),
        Some(Open::Sequence { id: seq }) => {
            if let Kind::Sequence(items) = &mut doc.nodes[*seq].kind {
                items.push(id);
            }
            Ok(())
        }
        Some(Open::Mapping { id: map, key }) => {
            match key.take() {
                None => *key = Some(id),
                Some(k) => {
                    if let Kind::Mapping(entries) = &mut doc.nodes[*map].kind {
                        entries.push((k, id));
                    }
                }
            }
            Ok(())
        }
    }
}

/// Reads the properties (`&anchor`, `!tag`, in either order) that start at `at`: the anchor's
/// name, and the offset of the first character after them (and after the blanks, line breaks
/// and comments that may separate properties from content).
pub(super) fn properties(text: &str, at: usize) -> (Option<&str>, usize) {
    let bytes = text.as_bytes();
    let mut i = at.min(bytes.len());
    let mut anchor = None;
    loop {
        while i < bytes.len() && matches!(bytes[i], b' ' | b'\t' | b'\r' | b'\n') {
            i += 1;
        }
        match bytes.get(i) {
            Some(b'#') => {
                while i < bytes.len() && bytes[i] != b'\n' {
                    i += 1;
                }
            }
            Some(b'&') => {
                let name_start = i + 1;
                i = name_start;
                while i < bytes.len() && !ends_name(bytes[i]) {
                    i += 1;
                }
                anchor = text.get(name_start..i);
            }
            Some(b'!') => {
                if bytes.get(i + 1) == Some(&b'<') {
                    while i < bytes.len() && bytes[i] != b'>' {
                        i += 1;
                    }
                    i = (i + 1).min(bytes.len());
                } else {
                    while i < bytes.len() && !matches!(bytes[i], b' ' | b'\t' | b'\r' | b'\n') {
                        i += 1;
                    }
                }
            }
            _ => return (anchor, i),
        }
    }
}

/// Where an anchor or alias name stops: a blank, a line break or a flow indicator.
fn ends_name(b: u8) -> bool {
    matches!(
        b,
        b' ' | b'\t' | b'\r' | b'\n' | b',' | b'[' | b']' | b'{' | b'}'
    )
}

/// The byte range of a scalar's own characters (quotes included, properties and any trailing
/// comment excluded), or `None` when the text there is not what the parser described.
pub(super) fn token(doc: &Document, text: &str, id: NodeId) -> Option<(usize, usize)> {
    let node = doc.nodes.get(id)?;
    let Kind::Scalar { value, style } = &node.kind else {
        return None;
    };
    let (_, start) = properties(text, node.start);
    let bytes = text.as_bytes();
    let end = match style {
        Style::Single => {
            if bytes.get(start) != Some(&b'\'') {
                return None;
            }
            let mut i = start + 1;
            loop {
                match bytes.get(i)? {
                    b'\'' if bytes.get(i + 1) == Some(&b'\'') => i += 2,
                    b'\'' => break i + 1,
                    _ => i += 1,
                }
            }
        }
        Style::Double => {
            if bytes.get(start) != Some(&b'"') {
                return None;
            }
            let mut i = start + 1;
            loop {
                match bytes.get(i)? {
                    // An escape covers the next byte; a UTF-8 continuation byte is never `"`.
                    b'\\' => i += 2,
                    b'"' => break i + 1,
                    _ => i += 1,
                }
            }
        }
        Style::Plain => node.end,
        Style::Block => return None,
    };
    let raw = text.get(start..end)?;
    agrees(raw, value, *style).then_some((start, end))
}

/// Whether the characters found decode to the value the parser read: a cross-check that the
/// edit replaces exactly the scalar. Where decoding would need the full YAML rules (escapes,
/// folded line breaks), it compares what it can and leaves the rest to the re-parse that
/// checks every edit.
fn agrees(raw: &str, value: &str, style: Style) -> bool {
    let folded = |s: &str| s.split_whitespace().collect::<Vec<_>>().join(" ");
    match style {
        Style::Plain if raw.contains('\n') => folded(raw) == folded(value),
        Style::Plain => raw == value,
        Style::Single => {
            let inner = &raw[1..raw.len() - 1];
            inner.contains('\n') || inner.replace("''", "'") == value
        }
        Style::Double => {
            let inner = &raw[1..raw.len() - 1];
            inner.contains('\n') || inner.contains('\\') || inner == value
        }
        Style::Block => false,
    }
}
