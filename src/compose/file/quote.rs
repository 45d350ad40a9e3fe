//! Writing a new value in the quoting the file already uses.
//!
//! A user who wrote `image: "nginx:1.25"` gets `image: "nginx:1.26"`. Single quotes double an
//! embedded `'`; double quotes escape `\` and `"`. A plain scalar holds no escapes, so a value
//! that plain YAML would misread (an indicator at the start, `: ` or ` #` inside, a number or
//! a boolean, `,[]{}` inside a flow collection) is double-quoted instead — the one case where
//! the style changes, and no image reference is such a value.

use super::yaml::Style;

/// The scalar text for `value` in `style`.
pub(super) fn render(value: &str, style: Style, flow: bool) -> String {
    match style {
        Style::Plain if plain_safe(value, flow) => value.to_owned(),
        Style::Single => format!("'{}'", value.replace('\'', "''")),
        Style::Plain | Style::Double | Style::Block => double(value),
    }
}

fn double(value: &str) -> String {
    let mut out = String::with_capacity(value.len() + 2);
    out.push('"');
    for c in value.chars() {
        match c {
            '\\' => out.push_str("\\\\"),
            '"' => out.push_str("\\\""),
            '\n' => out.push_str("\\n"),
            '\t' => out.push_str("\\t"),
            c if c.is_control() => out.push_str(&format!("\\u{:04x}", c as u32)),
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

/// Whether YAML reads `value` back as this same string when written plain.
pub(super) fn plain_safe(value: &str, flow: bool) -> bool {
    let Some(first) = value.chars().next() else {
        return false;
    };
    if "-?:,[]{}#&*!|>'\"%@`".contains(first) || first.is_whitespace() {
        return false;
    }
    if value.ends_with(char::is_whitespace) || value.ends_with(':') {
        return false;
    }
    if value.contains(": ") || value.contains(" #") || value.chars().any(char::is_control) {
        return false;
    }
    if flow && value.contains([',', '[', ']', '{', '}']) {
        return false;
    }
    !resolves_to_non_string(value)
}

/// Values a YAML 1.1 or 1.2 reader takes for null, a boolean or a number.
fn resolves_to_non_string(value: &str) -> bool {
    let lower = value.to_ascii_lowercase();
    if matches!(
        lower.as_str(),
        "~" | "null"
            | "true"
            | "false"
            | "yes"
            | "no"
            | "on"
            | "off"
            | "y"
            | "n"
            | ".inf"
            | "-.inf"
            | "+.inf"
            | ".nan"
    ) {
        return true;
    }
    // Numbers in every base and YAML 1.1's sexagesimal `1:20`: digits with at most these.
    value.chars().any(|c| c.is_ascii_digit())
        && value
            .chars()
            .all(|c| c.is_ascii_hexdigit() || matches!(c, '.' | '_' | ':' | '+' | '-' | 'x' | 'o'))
        && (value.starts_with(|c: char| c.is_ascii_digit() || matches!(c, '.' | '+' | '-')))
}
