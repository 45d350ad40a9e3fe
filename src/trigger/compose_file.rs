//! Editing a compose file (and its `.env`) without touching anything but the image.
//!
//! Users keep compose files in git, with comments, anchors and their own quoting; a YAML
//! round-trip through serde would rewrite all of it. So this reads the file as lines, finds
//! the service's `image:` scalar by the YAML structure compose files use (block or flow
//! mappings, the `services:` map or the version-1 top level, `<<: *anchor` merges), and
//! replaces the characters of that one scalar, in its own quoting. Everything else — comments,
//! key order, indentation, CRLF line ends — stays byte for byte. What it cannot place with
//! certainty (an image inherited from an anchor other services share too, a service without
//! an image) is an error naming the service, never a guess.

use regex::Regex;

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ComposeError {
    #[error("service {service}: not in this file")]
    NoService { service: String },
    #[error("service {service}: has no image (built from source?)")]
    NoImage { service: String },
    #[error(
        "service {service}: its image comes from anchor &{anchor}, which other services use too; \
         change it by hand or give the service its own image"
    )]
    SharedAnchor { service: String, anchor: String },
    #[error("service {service}: cannot read its image value: {reason}")]
    Unreadable { service: String, reason: String },
    #[error(
        "service {service}: image `{template}` cannot be made to say `{wanted}` by its variables"
    )]
    Template {
        service: String,
        template: String,
        wanted: String,
    },
    #[error(".env: {variable} is not set there (it may come from the shell that ran compose)")]
    MissingVariable { variable: String },
}

impl ComposeError {
    /// The file does not define the service: look in the project's other files.
    pub fn is_missing_service(&self) -> bool {
        matches!(self, ComposeError::NoService { .. })
    }
}

/// What a rewrite changes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Rewrite {
    /// The image already is the new one.
    Unchanged,
    /// The file's new text.
    File(String),
    /// The image comes from variables: these must get these values in `.env`.
    Variables(Vec<(String, String)>),
}

/// One line: its text without the line end, and where it starts in the file.
struct Line<'a> {
    start: usize,
    text: &'a str,
}

fn lines(text: &str) -> Vec<Line<'_>> {
    let mut out = Vec::new();
    let mut start = 0;
    for piece in text.split_inclusive('\n') {
        let body = piece.trim_end_matches('\n').trim_end_matches('\r');
        out.push(Line { start, text: body });
        start += piece.len();
    }
    out
}

fn indent(line: &str) -> usize {
    line.len() - line.trim_start_matches(' ').len()
}

/// Blank, a comment, or a document marker: no structure.
fn is_noise(line: &str) -> bool {
    let t = line.trim();
    t.is_empty() || t.starts_with('#') || t == "---" || t == "..."
}

/// The key of a block-mapping line (`  web:` → `web`), quotes removed, and where the text
/// after the colon starts.
fn key_of(line: &str) -> Option<(String, usize)> {
    let t = line.trim_start();
    let offset = line.len() - t.len();
    let (key, rest_at) = if let Some(quote) = t.chars().next().filter(|c| *c == '"' || *c == '\'') {
        let end = t[1..].find(quote)? + 1;
        (t[1..end].to_string(), end + 1)
    } else {
        let end = t.find(':')?;
        let key = &t[..end];
        if key.is_empty() || key.starts_with(['-', '#', '{', '[']) || key.contains(" #") {
            return None;
        }
        (key.trim_end().to_string(), end)
    };
    let after = &t[rest_at..];
    let after_colon = after.strip_prefix(':')?;
    if !(after_colon.is_empty() || after_colon.starts_with([' ', '\t'])) {
        return None;
    }
    Some((key, offset + rest_at + 1))
}

/// A scalar's place in the file and how it was quoted.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Quote {
    Plain,
    Single,
    Double,
}

#[derive(Debug, Clone)]
struct Scalar {
    /// Byte range in the file of the characters inside the quotes.
    start: usize,
    end: usize,
    quote: Quote,
    value: String,
}

/// Reads the scalar that starts at `at` in `line` (which starts at `base` in the file). `flow`:
/// inside `{…}`, where `,` and `}` end a plain scalar.
fn scalar_at(line: &str, base: usize, at: usize, flow: bool) -> Option<Scalar> {
    let rest = &line[at..];
    let skipped = rest.len() - rest.trim_start().len();
    let at = at + skipped;
    let rest = &line[at..];
    match rest.chars().next()? {
        '\'' => {
            let body = &rest[1..];
            let mut i = 0;
            let bytes = body.as_bytes();
            while i < bytes.len() {
                if bytes[i] == b'\'' {
                    if bytes.get(i + 1) == Some(&b'\'') {
                        i += 2;
                        continue;
                    }
                    return Some(Scalar {
                        start: base + at + 1,
                        end: base + at + 1 + i,
                        quote: Quote::Single,
                        value: body[..i].replace("''", "'"),
                    });
                }
                i += 1;
            }
            None
        }
        '"' => {
            let body = &rest[1..];
            let mut escaped = false;
            for (i, c) in body.char_indices() {
                match c {
                    '\\' if !escaped => escaped = true,
                    '"' if !escaped => {
                        return Some(Scalar {
                            start: base + at + 1,
                            end: base + at + 1 + i,
                            quote: Quote::Double,
                            value: body[..i].replace("\\\"", "\"").replace("\\\\", "\\"),
                        });
                    }
                    _ => escaped = false,
                }
            }
            None
        }
        '|' | '>' | '[' | '{' | '&' | '*' | '!' => None,
        _ => {
            let mut end = rest.len();
            if let Some(comment) = rest.find(" #") {
                end = end.min(comment);
            }
            if flow && let Some(stop) = rest.find([',', '}']) {
                end = end.min(stop);
            }
            let value = rest[..end].trim_end();
            (!value.is_empty()).then(|| Scalar {
                start: base + at,
                end: base + at + value.len(),
                quote: Quote::Plain,
                value: value.to_string(),
            })
        }
    }
}

/// The `image` scalar in a flow mapping on one line (`{image: x, ports: [...]}`).
fn image_in_flow(line: &Line<'_>, from: usize) -> Option<Scalar> {
    let text = line.text;
    let re = Regex::new(r#"[{,]\s*(?:image|"image"|'image')\s*:\s"#).ok()?;
    let found = re.find(&text[from..])?;
    scalar_at(text, line.start, from + found.end(), true)
}

/// The block of a key at line `i`: the following lines indented deeper (noise included).
fn block(lines: &[Line<'_>], i: usize) -> std::ops::Range<usize> {
    let own = indent(lines[i].text);
    let mut end = i + 1;
    while end < lines.len() && (is_noise(lines[end].text) || indent(lines[end].text) > own) {
        end += 1;
    }
    // Trailing noise belongs to what follows.
    while end > i + 1 && is_noise(lines[end - 1].text) {
        end -= 1;
    }
    (i + 1)..end
}

/// Keys directly inside a block (at its first key's indent), with their line numbers.
fn children(lines: &[Line<'_>], range: std::ops::Range<usize>) -> Vec<(usize, String, usize)> {
    let mut out = Vec::new();
    let mut level = None;
    for i in range {
        let text = lines[i].text;
        if is_noise(text) {
            continue;
        }
        let ind = indent(text);
        let level = *level.get_or_insert(ind);
        if ind != level {
            continue;
        }
        if let Some((key, after)) = key_of(text) {
            out.push((i, key, after));
        }
    }
    out
}

/// Where the service's image is written: the scalar, and the anchor it lives under, if any.
fn find_image(text: &str, service: &str) -> Result<Scalar, ComposeError> {
    let lines = lines(text);
    let top = children(&lines, 0..lines.len());
    let services: Vec<(usize, String, usize)> =
        match top.iter().find(|(_, key, _)| key == "services") {
            Some((i, _, _)) => children(&lines, block(&lines, *i)),
            // Version 1: services at the top level.
            None => top
                .iter()
                .filter(|(_, key, _)| {
                    !matches!(
                        key.as_str(),
                        "version" | "networks" | "volumes" | "secrets" | "configs" | "name"
                    ) && !key.starts_with("x-")
                })
                .cloned()
                .collect(),
        };
    let no_service = || ComposeError::NoService {
        service: service.to_string(),
    };
    let (line_no, _, after) = services
        .iter()
        .find(|(_, key, _)| key == service)
        .ok_or_else(no_service)?;
    let line = &lines[*line_no];
    // `web: {image: …}` on one line.
    if line.text[*after..].trim_start().starts_with('{') {
        return image_in_flow(line, *after).ok_or_else(|| ComposeError::NoImage {
            service: service.to_string(),
        });
    }
    let body = block(&lines, *line_no);
    let keys = children(&lines, body.clone());
    if let Some((i, _, after)) = keys.iter().find(|(_, key, _)| key == "image") {
        return scalar_at(lines[*i].text, lines[*i].start, *after, false).ok_or_else(|| {
            ComposeError::Unreadable {
                service: service.to_string(),
                reason: "not a single-line scalar".into(),
            }
        });
    }
    // Inherited through `<<: *anchor`.
    for (i, key, after) in &keys {
        if key != "<<" {
            continue;
        }
        let Some(anchor) = lines[*i].text[*after..].trim().strip_prefix('*') else {
            continue;
        };
        let anchor = anchor
            .split_whitespace()
            .next()
            .unwrap_or_default()
            .to_string();
        let uses = Regex::new(&format!(r"\*{}\b", regex::escape(&anchor)))
            .map(|re| re.find_iter(text).count())
            .unwrap_or(0);
        if uses > 1 {
            return Err(ComposeError::SharedAnchor {
                service: service.to_string(),
                anchor,
            });
        }
        let defined = lines.iter().position(|l| {
            key_of(l.text).is_some_and(|(_, after)| {
                l.text[after..]
                    .trim_start()
                    .starts_with(&format!("&{anchor}"))
            })
        });
        if let Some(def) = defined {
            let (_, after) = key_of(lines[def].text).unwrap_or_default();
            let rest = lines[def].text[after..].trim_start();
            let value_at = lines[def].text.len() - rest.len() + anchor.len() + 1;
            if lines[def].text[value_at..].trim_start().starts_with('{') {
                if let Some(found) = image_in_flow(&lines[def], value_at) {
                    return Ok(found);
                }
            }
            for (j, key, after) in children(&lines, block(&lines, def)) {
                if key == "image" {
                    return scalar_at(lines[j].text, lines[j].start, after, false).ok_or_else(
                        || ComposeError::Unreadable {
                            service: service.to_string(),
                            reason: "not a single-line scalar".into(),
                        },
                    );
                }
            }
        }
    }
    Err(ComposeError::NoImage {
        service: service.to_string(),
    })
}

/// `value` written in `quote` style.
fn quoted(value: &str, quote: Quote) -> String {
    match quote {
        Quote::Plain => value.to_string(),
        Quote::Single => value.replace('\'', "''"),
        Quote::Double => value.replace('\\', "\\\\").replace('"', "\\\""),
    }
}

/// `${NAME}`, `${NAME:-default}`, `${NAME-default}`, `$NAME`.
fn variable_regex() -> Regex {
    Regex::new(r"\$\{([A-Za-z_][A-Za-z0-9_]*)(?::?[-?][^}]*)?\}|\$([A-Za-z_][A-Za-z0-9_]*)")
        .expect("a valid regex")
}

/// The values the variables of `template` must take for it to say `wanted`.
fn solve(
    template: &str,
    wanted: &str,
    service: &str,
) -> Result<Vec<(String, String)>, ComposeError> {
    let vars = variable_regex();
    let mut pattern = String::from("^");
    let mut names = Vec::new();
    let mut last = 0;
    for m in vars.captures_iter(template) {
        let whole = m.get(0).expect("a match");
        pattern.push_str(&regex::escape(&template[last..whole.start()]));
        // Tags and names hold no `:` or `/` in the part a variable usually stands for: prefer
        // the shortest match so `${REG}/app:${TAG}` splits where the literals are.
        pattern.push_str("(.+?)");
        let name = m.get(1).or_else(|| m.get(2)).expect("a name").as_str();
        names.push(name.to_string());
        last = whole.end();
    }
    pattern.push_str(&regex::escape(&template[last..]));
    pattern.push('$');
    let fail = || ComposeError::Template {
        service: service.to_string(),
        template: template.to_string(),
        wanted: wanted.to_string(),
    };
    let re = Regex::new(&pattern).map_err(|_| fail())?;
    let caps = re.captures(wanted).ok_or_else(fail)?;
    let mut out: Vec<(String, String)> = Vec::new();
    for (i, name) in names.iter().enumerate() {
        let value = caps.get(i + 1).map(|m| m.as_str()).unwrap_or_default();
        match out.iter().find(|(n, _)| n == name) {
            Some((_, v)) if v != value => return Err(fail()),
            Some(_) => {}
            None => out.push((name.clone(), value.to_string())),
        }
    }
    Ok(out)
}

/// Changes the image of `service` to `new_image` (`name:tag`, spelt as the file should say
/// it). A pinned `name:tag@sha256:…` value keeps its pin, moved to `digest` (the new image's);
/// without a digest to pin, the pin is dropped rather than left pointing at the old image.
pub fn rewrite_image(
    text: &str,
    service: &str,
    new_image: &str,
    digest: Option<&str>,
) -> Result<Rewrite, ComposeError> {
    let scalar = find_image(text, service)?;
    let wanted = match (scalar.value.contains('@'), digest) {
        (true, Some(digest)) => format!("{new_image}@{digest}"),
        _ => new_image.to_string(),
    };
    if variable_regex().is_match(&scalar.value) {
        let vars = solve(&scalar.value, &wanted, service)?;
        return Ok(Rewrite::Variables(vars));
    }
    if scalar.value == wanted {
        return Ok(Rewrite::Unchanged);
    }
    let mut out = String::with_capacity(text.len() + wanted.len());
    out.push_str(&text[..scalar.start]);
    out.push_str(&quoted(&wanted, scalar.quote));
    out.push_str(&text[scalar.end..]);
    Ok(Rewrite::File(out))
}

/// Sets `vars` in a `.env` file, each on its own line and in its own quoting; comments and
/// every other line stay as they are. A variable the file does not set is an error: it
/// comes from elsewhere, and adding it here could silently change what compose sees.
pub fn rewrite_env(text: &str, vars: &[(String, String)]) -> Result<String, ComposeError> {
    let mut out = text.to_string();
    for (name, value) in vars {
        let all = lines(&out);
        let line = all.iter().find(|l| {
            let t = l.text.trim_start();
            let t = t.strip_prefix("export ").unwrap_or(t).trim_start();
            t.strip_prefix(name.as_str())
                .is_some_and(|rest| rest.trim_start().starts_with('='))
        });
        let Some(line) = line else {
            return Err(ComposeError::MissingVariable {
                variable: name.clone(),
            });
        };
        let eq = line.text.find('=').expect("found by `=`");
        let scalar = scalar_at(line.text, line.start, eq + 1, false);
        let (start, end, quote) = match scalar {
            Some(s) => (s.start, s.end, s.quote),
            // `KEY=` with no value.
            None => (line.start + eq + 1, line.start + eq + 1, Quote::Plain),
        };
        let replacement = quoted(value, quote);
        out = format!("{}{}{}", &out[..start], replacement, &out[end..]);
    }
    Ok(out)
}

#[cfg(test)]
mod tests;
