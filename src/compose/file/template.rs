//! Compose's variable interpolation in an `image:` value, read and solved backwards.
//!
//! `app:${APP_TAG}` with the new image `app:1.5.0` gives `APP_TAG=1.5.0`: the template is
//! matched against the new text, each variable standing for a non-empty piece of it. The
//! answer must be unique — `${A}${B}` against `app:1.5` has many — and must split the
//! reference where a reader would: a literal `:` that is the template's tag colon lands on the
//! new reference's tag colon, a literal `@` on its digest. Otherwise `${IMAGE}:${TAG}` against
//! `registry:5000/app:1.5` could put the registry's port into `TAG`.
//!
//! Syntax as compose reads it: `$$` is a dollar sign; `$NAME`, `${NAME}`, `${NAME:-default}`,
//! `${NAME-default}`, `${NAME:?error}`, `${NAME?error}` take the variable's value (a default
//! may hold further variables); `${NAME:+alt}` and `${NAME+alt}` show `alt`, not the value,
//! so no value of `NAME` can spell a new image there and they are refused.

use super::image::tag_colon;

/// Caps the backtracking match on adversarial templates; real ones take a handful of steps.
const MAX_STEPS: usize = 100_000;

#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) enum Part {
    Lit(String),
    Var(Var),
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) struct Var {
    pub name: String,
    /// `:+` / `+`: the value shown is the alternative, not the variable.
    pub alternative: bool,
    /// The default (`:-` / `-`) when it is plain text, without variables of its own.
    pub default: Option<String>,
}

/// Reads a template into literal text and variables (adjacent text joined).
pub(super) fn parse(s: &str) -> Result<Vec<Part>, String> {
    let bytes = s.as_bytes();
    let mut parts: Vec<Part> = Vec::new();
    let mut lit = String::new();
    let mut i = 0;
    let name_len = |from: usize| {
        let mut j = from;
        while j < bytes.len()
            && (bytes[j] == b'_'
                || bytes[j].is_ascii_alphabetic()
                || (j > from && bytes[j].is_ascii_digit()))
        {
            j += 1;
        }
        j - from
    };
    while i < bytes.len() {
        if bytes[i] != b'$' {
            let next = s[i..].find('$').map_or(s.len(), |n| i + n);
            lit.push_str(&s[i..next]);
            i = next;
            continue;
        }
        let var = match bytes.get(i + 1) {
            Some(b'$') => {
                lit.push('$');
                i += 2;
                continue;
            }
            Some(b'{') => {
                let from = i + 2;
                let len = name_len(from);
                if len == 0 {
                    return Err("`${` names no variable".into());
                }
                let name = s[from..from + len].to_owned();
                let mut j = from + len;
                let rest = &s[j..];
                if rest.is_empty() {
                    return Err(format!("`${{{name}` is never closed"));
                }
                if rest.starts_with('}') {
                    i = j + 1;
                    Var {
                        name,
                        alternative: false,
                        default: None,
                    }
                } else {
                    let op = [":-", "-", ":?", "?", ":+", "+"]
                        .into_iter()
                        .find(|op| rest.starts_with(op))
                        .ok_or_else(|| {
                            format!("`${{{name}` is followed by neither `}}` nor an operator")
                        })?;
                    j += op.len();
                    let arg_start = j;
                    let mut depth = 1;
                    while depth > 0 {
                        match bytes.get(j) {
                            None => return Err(format!("`${{{name}` is never closed")),
                            Some(b'$') if bytes.get(j + 1) == Some(&b'{') => {
                                depth += 1;
                                j += 2;
                            }
                            Some(b'}') => {
                                depth -= 1;
                                j += 1;
                            }
                            Some(_) => j += 1,
                        }
                    }
                    let arg = &s[arg_start..j - 1];
                    i = j;
                    Var {
                        name,
                        alternative: op.ends_with('+'),
                        default: (op.ends_with('-') && !arg.contains('$')).then(|| arg.to_owned()),
                    }
                }
            }
            Some(_) if name_len(i + 1) > 0 => {
                let len = name_len(i + 1);
                let name = s[i + 1..i + 1 + len].to_owned();
                i += 1 + len;
                Var {
                    name,
                    alternative: false,
                    default: None,
                }
            }
            _ => return Err("a `$` starts no variable (a dollar sign is written `$$`)".into()),
        };
        if !lit.is_empty() {
            parts.push(Part::Lit(std::mem::take(&mut lit)));
        }
        parts.push(Part::Var(var));
    }
    if !lit.is_empty() {
        parts.push(Part::Lit(lit));
    }
    Ok(parts)
}

/// The value itself when the template has no variables (`$$` already read as `$`).
pub(super) fn literal(parts: &[Part]) -> Option<String> {
    parts
        .iter()
        .map(|part| match part {
            Part::Lit(text) => Some(text.as_str()),
            Part::Var(_) => None,
        })
        .collect()
}

/// The names of the variables a template uses, each once.
pub(super) fn names(parts: &[Part]) -> Vec<&str> {
    let mut out: Vec<&str> = Vec::new();
    for part in parts {
        if let Part::Var(var) = part
            && !out.contains(&var.name.as_str())
        {
            out.push(&var.name);
        }
    }
    out
}

/// The template's form as its literal text shows it: whether a digest is pinned, and whether
/// it is pinned without a tag (all literal before the `@`, no tag colon).
pub(super) fn form(parts: &[Part]) -> super::image::Form {
    use super::image::{Form, split_tag};
    let mut before_at = String::new();
    let mut vars_before = false;
    for part in parts {
        match part {
            Part::Lit(text) => {
                if let Some((head, _)) = text.split_once('@') {
                    before_at.push_str(head);
                    return if vars_before || split_tag(&before_at).1.is_some() {
                        Form::Pinned
                    } else {
                        Form::DigestOnly
                    };
                }
                before_at.push_str(text);
            }
            Part::Var(_) => vars_before = true,
        }
    }
    Form::Floating
}

/// A literal character with a structural meaning that must line up with the new reference.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Mark {
    None,
    /// The template's tag colon.
    TagColon,
    /// Any other literal colon (a registry port's): must not land on the tag colon.
    OtherColon,
    At,
}

/// One solution: each variable's value, and where in the new text it sits.
type Binding = Vec<(String, String, usize)>;

struct Matcher<'a> {
    parts: &'a [Part],
    marks: Vec<Vec<Mark>>,
    wanted: &'a str,
    tag_colon: Option<usize>,
    at: Option<usize>,
    steps: usize,
    solutions: Vec<Binding>,
}

/// The variables to set so the template reads `wanted`, each with its value; an error that
/// says why when there is no such assignment or more than one.
///
/// A variable whose default already is its value and that sits in the repository name (not
/// the tag or digest) is left out: it is usually not in `.env` at all (`${REGISTRY:-docker.io}`)
/// and an update, which keeps the name, does not need it changed.
pub(super) fn solve(parts: &[Part], wanted: &str) -> Result<Vec<(String, String)>, String> {
    if let Some(var) = parts.iter().find_map(|p| match p {
        Part::Var(var) if var.alternative => Some(var),
        _ => None,
    }) {
        return Err(format!(
            "`${{{}:+…}}` shows its alternative text, never the variable's value",
            var.name
        ));
    }
    let mut matcher = Matcher {
        parts,
        marks: marks(parts),
        wanted,
        tag_colon: tag_colon(wanted),
        at: wanted.find('@'),
        steps: 0,
        solutions: Vec::new(),
    };
    let mut binding = Vec::new();
    matcher.go(0, 0, &mut binding)?;
    let mut solutions = matcher.solutions;
    match solutions.len() {
        0 => Err("no values of its variables spell it".into()),
        1 => {
            let name_end = tag_colon(wanted)
                .or(wanted.find('@'))
                .unwrap_or(wanted.len());
            let mut out: Vec<(String, String)> = Vec::new();
            for (name, value, end) in solutions.remove(0) {
                let default = parts.iter().find_map(|p| match p {
                    Part::Var(var) if var.name == name => var.default.as_deref(),
                    _ => None,
                });
                let keep = !(default == Some(value.as_str()) && end <= name_end);
                if keep && !out.iter().any(|(n, _)| *n == name) {
                    out.push((name, value));
                }
            }
            Ok(out)
        }
        _ => {
            let show = |b: &Binding| {
                b.iter()
                    .map(|(n, v, _)| format!("{n}={v}"))
                    .collect::<Vec<_>>()
                    .join(", ")
            };
            Err(format!(
                "it is ambiguous: {} or {}",
                show(&solutions[0]),
                show(&solutions[1])
            ))
        }
    }
}

/// Marks the structural characters of each literal part: the tag colon is the last literal
/// `:` before the first `@` with no literal `/` after it.
fn marks(parts: &[Part]) -> Vec<Vec<Mark>> {
    let mut marks: Vec<Vec<Mark>> = parts
        .iter()
        .map(|p| match p {
            Part::Lit(text) => text
                .chars()
                .map(|c| match c {
                    ':' => Mark::OtherColon,
                    '@' => Mark::At,
                    _ => Mark::None,
                })
                .collect(),
            Part::Var(_) => Vec::new(),
        })
        .collect();
    let mut candidate: Option<(usize, usize)> = None;
    'parts: for (p, part) in parts.iter().enumerate() {
        if let Part::Lit(text) = part {
            for (c_index, c) in text.chars().enumerate() {
                match c {
                    '@' => break 'parts,
                    ':' => candidate = Some((p, c_index)),
                    '/' => candidate = None,
                    _ => {}
                }
            }
        }
    }
    if let Some((p, c)) = candidate {
        marks[p][c] = Mark::TagColon;
    }
    marks
}

impl Matcher<'_> {
    fn go(&mut self, part: usize, pos: usize, binding: &mut Binding) -> Result<(), String> {
        self.steps += 1;
        if self.steps > MAX_STEPS {
            return Err("it is too intricate to match".into());
        }
        if self.solutions.len() >= 2 {
            return Ok(());
        }
        let Some(current) = self.parts.get(part) else {
            if pos == self.wanted.len() {
                self.solutions.push(binding.clone());
            }
            return Ok(());
        };
        match current {
            Part::Lit(text) => {
                let Some(rest) = self.wanted.get(pos..) else {
                    return Ok(());
                };
                if !rest.starts_with(text.as_str()) {
                    return Ok(());
                }
                for ((offset, _), mark) in text.char_indices().zip(&self.marks[part]) {
                    let at = pos + offset;
                    let fits = match mark {
                        Mark::None => true,
                        Mark::TagColon => self.tag_colon == Some(at),
                        Mark::OtherColon => self.tag_colon != Some(at),
                        Mark::At => self.at == Some(at),
                    };
                    if !fits {
                        return Ok(());
                    }
                }
                self.go(part + 1, pos + text.len(), binding)
            }
            Part::Var(var) => {
                if let Some((_, value, _)) = binding.iter().find(|(n, _, _)| *n == var.name) {
                    let value = value.clone();
                    if self
                        .wanted
                        .get(pos..)
                        .is_some_and(|r| r.starts_with(&value))
                    {
                        return self.go(part + 1, pos + value.len(), binding);
                    }
                    return Ok(());
                }
                for end in pos + 1..=self.wanted.len() {
                    if !self.wanted.is_char_boundary(end) {
                        continue;
                    }
                    binding.push((var.name.clone(), self.wanted[pos..end].to_owned(), end));
                    self.go(part + 1, end, binding)?;
                    binding.pop();
                    if self.solutions.len() >= 2 {
                        break;
                    }
                }
                Ok(())
            }
        }
    }
}
