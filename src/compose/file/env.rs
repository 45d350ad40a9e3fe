//! Setting variables in a project's `.env`, as compose reads that file, changing nothing else.
//!
//! compose's `.env` grammar (compose-go's `dotenv` parser): blank lines and `#` comment lines;
//! statements `KEY=value` or `KEY: value`, optionally after `export `; a key is letters,
//! digits, `_` and `.`; an unquoted value runs to the end of the line, stops at the first `#`
//! and loses trailing blanks; a quoted value (`'…'` or `"…"`) ends at the first matching
//! quote not preceded by a backslash and may span lines; a bare `KEY` takes its value from
//! the environment compose runs in.
//!
//! Only the value's characters change: the key, `export`, spacing, comments, quotes and line
//! ends (LF or CRLF) stay byte for byte. Every assignment of a variable is updated, so the
//! answer is right whichever one a reader takes.
//!
//! A variable that `.env` does not assign is an error ([`ComposeError::MissingVariable`])
//! rather than a line appended: it may come from the shell that ran compose, which wins over
//! `.env`, so an appended line could leave the running image unchanged while the edit reports
//! success; and adding configuration to a user's file is a bigger step than changing a value
//! the user wrote.

use super::ComposeError;

/// How a value is written in `.env`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Quote {
    None,
    Single,
    Double,
}

/// One assignment: its key, the byte range of the value (inside any quotes), the quoting.
#[derive(Debug)]
struct Assignment<'a> {
    key: &'a str,
    value: (usize, usize),
    quote: Quote,
    /// An unquoted, empty value followed directly by a comment (`KEY= # note`).
    before_comment: bool,
}

/// A statement that only names a variable, taking it from the environment.
#[derive(Debug)]
struct Inherited<'a> {
    key: &'a str,
    line: usize,
}

fn line_of(text: &str, at: usize) -> usize {
    text.as_bytes()[..at.min(text.len())]
        .iter()
        .filter(|&&b| b == b'\n')
        .count()
        + 1
}

fn env_error(text: &str, at: usize, reason: impl Into<String>) -> ComposeError {
    ComposeError::Env {
        line: line_of(text, at),
        reason: reason.into(),
    }
}

/// Blanks within a line, as compose's parser counts them.
fn is_blank(b: u8) -> bool {
    matches!(b, b' ' | b'\t' | b'\r' | 0x0b | 0x0c)
}

fn is_key_char(c: char) -> bool {
    c.is_alphanumeric() || matches!(c, '_' | '.')
}

/// Reads every statement of the file.
fn statements(text: &str) -> Result<(Vec<Assignment<'_>>, Vec<Inherited<'_>>), ComposeError> {
    let bytes = text.as_bytes();
    let mut assignments = Vec::new();
    let mut inherited = Vec::new();
    let mut i = 0;
    if text.starts_with('\u{feff}') {
        i = '\u{feff}'.len_utf8();
    }
    loop {
        while i < bytes.len() && (is_blank(bytes[i]) || bytes[i] == b'\n') {
            i += 1;
        }
        if i >= bytes.len() {
            break;
        }
        if bytes[i] == b'#' {
            while i < bytes.len() && bytes[i] != b'\n' {
                i += 1;
            }
            continue;
        }
        let statement = i;
        if text[i..].starts_with("export") && bytes.get(i + 6).is_some_and(|&b| is_blank(b)) {
            i += 6;
            while i < bytes.len() && is_blank(bytes[i]) {
                i += 1;
            }
        }
        let key_start = i;
        let key_end = key_start
            + text[key_start..]
                .find(|c: char| !is_key_char(c))
                .unwrap_or(text.len() - key_start);
        let key = &text[key_start..key_end];
        i = key_end;
        while i < bytes.len() && is_blank(bytes[i]) {
            i += 1;
        }
        match bytes.get(i) {
            None | Some(b'\n') if !key.is_empty() => {
                inherited.push(Inherited {
                    key,
                    line: line_of(text, statement),
                });
                continue;
            }
            Some(b'=' | b':') if !key.is_empty() => i += 1,
            _ => {
                let what = text[i..]
                    .chars()
                    .next()
                    .map_or("the end".into(), |c| format!("{c:?}"));
                return Err(env_error(
                    text,
                    statement,
                    format!("unexpected {what} in a variable name"),
                ));
            }
        }
        while i < bytes.len() && is_blank(bytes[i]) {
            i += 1;
        }
        match bytes.get(i) {
            Some(&q @ (b'\'' | b'"')) => {
                let open = i;
                let mut j = i + 1;
                loop {
                    match bytes.get(j) {
                        None => {
                            return Err(env_error(
                                text,
                                open,
                                format!("the quoted value of {key} is never closed"),
                            ));
                        }
                        Some(&b) if b == q && bytes[j - 1] != b'\\' => break,
                        Some(_) => j += 1,
                    }
                }
                assignments.push(Assignment {
                    key,
                    value: (open + 1, j),
                    quote: if q == b'\'' {
                        Quote::Single
                    } else {
                        Quote::Double
                    },
                    before_comment: false,
                });
                i = j + 1;
            }
            _ => {
                let line_end = text[i..].find('\n').map_or(text.len(), |n| i + n);
                let comment = text[i..line_end].find('#').map_or(line_end, |n| i + n);
                let mut end = comment;
                while end > i && is_blank(bytes[end - 1]) {
                    end -= 1;
                }
                assignments.push(Assignment {
                    key,
                    value: (i, end),
                    quote: Quote::None,
                    before_comment: end == i && comment < line_end,
                });
                i = line_end;
            }
        }
    }
    Ok((assignments, inherited))
}

/// Sets each variable to its value wherever `.env` assigns it, keeping the rest of the text
/// byte for byte. Fails, changing nothing, when a variable is not assigned there, when it only
/// names the environment (`KEY` alone), when the file is not valid `.env`, or when a value
/// cannot be written in the quoting its assignment uses.
pub fn rewrite_env(text: &str, vars: &[(String, String)]) -> Result<String, ComposeError> {
    let (assignments, inherited) = statements(text)?;
    let mut edits: Vec<(usize, usize, String)> = Vec::new();
    let mut seen: Vec<&str> = Vec::new();
    for (name, value) in vars {
        // A variable named twice: the first value stands.
        if seen.contains(&name.as_str()) {
            continue;
        }
        seen.push(name);
        if name.is_empty() || !name.chars().all(is_key_char) {
            return Err(ComposeError::InvalidValue {
                variable: name.clone(),
                reason: "it is not a variable name".into(),
            });
        }
        let mut found = false;
        for assignment in assignments.iter().filter(|a| a.key == name) {
            found = true;
            let written = write(name, value, assignment)?;
            edits.push((assignment.value.0, assignment.value.1, written));
        }
        if !found {
            if let Some(bare) = inherited.iter().find(|b| b.key == name) {
                return Err(ComposeError::Env {
                    line: bare.line,
                    reason: format!(
                        "{name} takes its value from the environment compose runs in, not from this file"
                    ),
                });
            }
            return Err(ComposeError::MissingVariable {
                variable: name.clone(),
            });
        }
    }
    edits.sort_by_key(|(start, _, _)| *start);
    let mut out = String::with_capacity(text.len() + 16);
    let mut at = 0;
    for (start, end, written) in edits {
        out.push_str(&text[at..start]);
        out.push_str(&written);
        at = end;
    }
    out.push_str(&text[at..]);
    Ok(out)
}

/// The value's new characters, in the assignment's quoting.
fn write(name: &str, value: &str, assignment: &Assignment) -> Result<String, ComposeError> {
    let refuse = |reason: &str| ComposeError::InvalidValue {
        variable: name.to_owned(),
        reason: reason.to_owned(),
    };
    if value.chars().any(char::is_control) {
        return Err(refuse(
            "the value contains a control character or line break",
        ));
    }
    match assignment.quote {
        Quote::None => {
            // Unquoted, compose cuts at `#`, trims blanks and expands `$`; a value that needs
            // any of those characters is single-quoted instead, where it is read as written.
            let needs_quotes = value.is_empty()
                || value.starts_with(['\'', '"'])
                || value.contains(['#', '$', '\\'])
                || value.contains(char::is_whitespace);
            if !needs_quotes {
                let mut written = value.to_owned();
                if assignment.before_comment {
                    written.push(' ');
                }
                return Ok(written);
            }
            if value.contains('\'') || value.ends_with('\\') {
                return Err(refuse(
                    "the value cannot be written unquoted or in single quotes",
                ));
            }
            Ok(format!("'{value}'"))
        }
        Quote::Single => {
            if value.contains('\'') || value.ends_with('\\') {
                return Err(refuse("the value cannot be written in single quotes"));
            }
            Ok(value.to_owned())
        }
        Quote::Double => {
            if value.contains(['$', '\\', '"']) {
                return Err(refuse(
                    "the value cannot be written in double quotes, which expand `$` and `\\`",
                ));
            }
            Ok(value.to_owned())
        }
    }
}
