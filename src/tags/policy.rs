//! What the user can say about one image's tags: which to consider (`tag.include`,
//! `tag.exclude`), how to rewrite them before comparing (`tag.transform`), and whether
//! pre-releases or more precise tags may compete. The option names and the transform syntax are
//! WUD's, so existing labels keep working; regexes are Rust's `regex` syntax, which accepts what
//! WUD users write in practice (no look-around or back-references: those are reported as errors
//! naming the option, not ignored).

use crate::tags::version::{Version, parse};
use regex::Regex;
use std::borrow::Cow;
use std::fmt;
use std::str::FromStr;

/// A rejected option. One shape for all options: callers only report it, and the message names
/// the option and the value so the user finds the label to fix.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("invalid {option} `{value}`: {reason}")]
pub struct PolicyError {
    /// The option as users write it (`tag.include`), not a Rust field name.
    pub option: &'static str,
    pub value: String,
    pub reason: String,
}

impl PolicyError {
    fn new(option: &'static str, value: &str, reason: impl Into<String>) -> Self {
        PolicyError {
            option,
            value: value.to_owned(),
            reason: reason.into(),
        }
    }
}

/// The regex crate renders syntax errors over several lines with a caret; a configuration error
/// is one line, and its last line says what is wrong.
fn regex(option: &'static str, source: &str) -> Result<Regex, PolicyError> {
    Regex::new(source).map_err(|err| {
        let text = err.to_string();
        let reason = text
            .lines()
            .last()
            .unwrap_or(&text)
            .trim()
            .trim_start_matches("error: ");
        PolicyError::new(option, source, reason)
    })
}

/// `regex => replacement`, WUD's `tag.transform`: when the regex matches, the tag is replaced by
/// the replacement with `$1`, `$2`… (`$0` is the whole match) filled in from the capture groups;
/// when it does not match, the tag is used as it is. The transformed tag is only compared: the
/// tag offered is always the original.
#[derive(Debug, Clone)]
pub struct Transform {
    source: String,
    regex: Regex,
    replacement: Vec<Piece>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
enum Piece {
    Text(String),
    Group(usize),
}

const TRANSFORM: &str = "tag.transform";

impl Transform {
    /// Group references are checked here, so a typo (`$3` with two groups) is a start-up error
    /// rather than tags that silently never match.
    pub fn parse(formula: &str) -> Result<Self, PolicyError> {
        let Some((pattern, replacement)) = formula.split_once("=>") else {
            return Err(PolicyError::new(
                TRANSFORM,
                formula,
                "expected `regex => replacement`",
            ));
        };
        let (pattern, replacement) = (pattern.trim(), replacement.trim());
        if pattern.is_empty() || replacement.is_empty() {
            return Err(PolicyError::new(
                TRANSFORM,
                formula,
                "expected `regex => replacement`, one side is empty",
            ));
        }
        let regex = regex(TRANSFORM, pattern)?;
        let mut pieces = Vec::new();
        let mut text = String::new();
        let mut chars = replacement.char_indices();
        while let Some((i, c)) = chars.next() {
            let digits = replacement[i + c.len_utf8()..]
                .bytes()
                .take_while(u8::is_ascii_digit)
                .count();
            if c != '$' || digits == 0 {
                text.push(c);
                continue;
            }
            let number = &replacement[i + 1..i + 1 + digits];
            let group = number
                .parse::<usize>()
                .ok()
                .filter(|&g| g < regex.captures_len())
                .ok_or_else(|| {
                    PolicyError::new(
                        TRANSFORM,
                        formula,
                        format!(
                            "`${number}` refers to a capture group the regex does not have ({})",
                            regex.captures_len() - 1
                        ),
                    )
                })?;
            if !text.is_empty() {
                pieces.push(Piece::Text(std::mem::take(&mut text)));
            }
            pieces.push(Piece::Group(group));
            for _ in 0..digits {
                chars.next();
            }
        }
        if !text.is_empty() {
            pieces.push(Piece::Text(text));
        }
        Ok(Transform {
            source: formula.to_owned(),
            regex,
            replacement: pieces,
        })
    }

    /// The tag as compared. A group that did not take part in the match is empty.
    pub fn apply<'a>(&self, tag: &'a str) -> Cow<'a, str> {
        let Some(captures) = self.regex.captures(tag) else {
            return Cow::Borrowed(tag);
        };
        let mut out = String::with_capacity(tag.len());
        for piece in &self.replacement {
            match piece {
                Piece::Text(text) => out.push_str(text),
                Piece::Group(group) => {
                    out.push_str(captures.get(*group).map_or("", |m| m.as_str()));
                }
            }
        }
        Cow::Owned(out)
    }
}

impl FromStr for Transform {
    type Err = PolicyError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Transform::parse(s)
    }
}

impl fmt::Display for Transform {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.source)
    }
}

/// Everything that decides which tags compete with the current one, for one image. The default
/// is the cautious one: every tag, no transform, no pre-releases for a release, same precision.
#[derive(Debug, Clone, Default)]
pub struct TagPolicy {
    include: Option<Regex>,
    exclude: Option<Regex>,
    transform: Option<Transform>,
    /// Let pre-releases compete although the current tag is a release. A container already on a
    /// pre-release always sees them: whoever runs `-rc1` wants `-rc2` and the release.
    pub(crate) allow_prerelease: bool,
    /// Let tags with more numbers compete (`1.25` → `1.25.3`, missing numbers counting as 0).
    /// Off by default, since a user who pinned `1.25` chose a floating tag on purpose. Tags with
    /// fewer numbers never compete: `16` is an alias that moves, not a release.
    pub(crate) allow_more_parts: bool,
}

/// An absent or blank value: WUD ignores empty labels.
fn set(value: Option<&str>) -> Option<&str> {
    value.map(str::trim).filter(|v| !v.is_empty())
}

impl TagPolicy {
    /// From the label or option values; an absent or blank value means "not set", as in WUD.
    pub fn new(
        include: Option<&str>,
        exclude: Option<&str>,
        transform: Option<&str>,
    ) -> Result<Self, PolicyError> {
        Ok(TagPolicy {
            include: set(include).map(|v| regex("tag.include", v)).transpose()?,
            exclude: set(exclude).map(|v| regex("tag.exclude", v)).transpose()?,
            transform: set(transform).map(Transform::parse).transpose()?,
            allow_prerelease: false,
            allow_more_parts: false,
        })
    }

    /// See the field `allow_prerelease`: pre-releases compete although the current tag is a
    /// release.
    pub fn with_prerelease(mut self, allow: bool) -> Self {
        self.allow_prerelease = allow;
        self
    }

    /// Tags with more numbers than the current one compete (`1.25` → `1.25.3`).
    pub fn with_more_parts(mut self, allow: bool) -> Self {
        self.allow_more_parts = allow;
        self
    }

    /// Whether `tag` passes `tag.include` and `tag.exclude`, which match the original tag (not
    /// the transformed one) anywhere in it, as WUD's `RegExp.test` does: anchor with `^…$` to
    /// match it whole.
    pub fn admits(&self, tag: &str) -> bool {
        self.include.as_ref().is_none_or(|re| re.is_match(tag))
            && !self.exclude.as_ref().is_some_and(|re| re.is_match(tag))
    }

    /// `tag` read as a version after `tag.transform`; `None` means "watch by digest only".
    pub fn version(&self, tag: &str) -> Option<Version> {
        match &self.transform {
            Some(transform) => parse(&transform.apply(tag)),
            None => parse(tag),
        }
    }

    pub fn transform(&self) -> Option<&Transform> {
        self.transform.as_ref()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Applies `formula` to each tag, or expects the formula to be rejected with `error`.
    fn check(formula: &str, cases: &[(&str, &str)], error: Option<&str>) {
        match Transform::parse(formula) {
            Ok(transform) => {
                assert_eq!(error, None, "{formula:?} should be rejected");
                for (tag, expected) in cases {
                    assert_eq!(transform.apply(tag), *expected, "{formula:?} on {tag:?}");
                }
            }
            Err(err) => assert_eq!(Some(err.to_string().as_str()), error, "{formula:?}"),
        }
    }

    #[test]
    fn transforms_as_wud() {
        check(
            r"^(\d+\.\d+\.\d+)-ls(\d+)$ => $1.$2",
            &[
                ("4.0.2.1183-ls221", "4.0.2.1183-ls221"),
                ("1.2.3-ls221", "1.2.3.221"),
                ("latest", "latest"),
            ],
            None,
        );
        check(
            r"^(\d+\.\d+\.\d+\.\d+)-ls(\d+)$=>$1.$2",
            &[("4.0.2.1183-ls221", "4.0.2.1183.221")],
            None,
        );
        // WUD's documented example: drop a commit hash.
        check(
            r"^(\d+\.\d+\.\d+-\d+)-.*$ => $1",
            &[("1.0.0-269-7b368146", "1.0.0-269")],
            None,
        );
        // The whole tag becomes the replacement; `$0` is the match; `$` without digits is text.
        check(
            r"(\d+)\.(\d+) => v$2.$1-$0$",
            &[("app-1.2-x", "v2.1-1.2$")],
            None,
        );
        // `$12` is group 12, not group 1 then "2".
        check(
            r"^(a)(b)(c)(d)(e)(f)(g)(h)(i)(j)(k)(l)$ => $12$1",
            &[("abcdefghijkl", "la")],
            None,
        );
        // An optional group that did not match is empty.
        check(
            r"^(\d+)(-rc)?$ => $1$2",
            &[("7", "7"), ("7-rc", "7-rc")],
            None,
        );
    }

    #[test]
    fn bad_transforms_name_the_option() {
        check(
            r"^(\d+)$",
            &[],
            Some(r"invalid tag.transform `^(\d+)$`: expected `regex => replacement`"),
        );
        check(
            r" => $1",
            &[],
            Some(
                "invalid tag.transform ` => $1`: expected `regex => replacement`, one side is empty",
            ),
        );
        check(
            r"^(\d+ => $1",
            &[],
            Some(r"invalid tag.transform `^(\d+`: unclosed group"),
        );
        check(
            r"^(\d+)-(\d+)$ => $1.$3",
            &[],
            Some(
                r"invalid tag.transform `^(\d+)-(\d+)$ => $1.$3`: `$3` refers to a capture group the regex does not have (2)",
            ),
        );
    }

    #[test]
    fn include_and_exclude_filter_original_tags() {
        let policy = TagPolicy::new(Some(r"^\d+\.\d+\.\d+-alpine$"), Some("^1\\."), None)
            .expect("valid policy");
        assert!(policy.admits("2.0.0-alpine"));
        assert!(!policy.admits("1.9.0-alpine"), "excluded");
        assert!(!policy.admits("2.0.0"), "not included");
        // Unanchored, as WUD's RegExp.test.
        let policy = TagPolicy::new(Some("alpine"), None, None).expect("valid policy");
        assert!(policy.admits("1.0-alpine3.19"));
        // Blank values are unset, as WUD treats empty labels.
        let policy = TagPolicy::new(Some(""), Some("  "), Some("")).expect("blank is unset");
        assert!(policy.admits("anything") && policy.transform().is_none());
    }

    #[test]
    fn bad_regexes_name_the_option() {
        let err = |include, exclude| {
            TagPolicy::new(include, exclude, None)
                .expect_err("rejected")
                .to_string()
        };
        assert_eq!(
            err(Some("^(1|2"), None),
            "invalid tag.include `^(1|2`: unclosed group"
        );
        assert_eq!(
            err(None, Some("^(?!1)")),
            "invalid tag.exclude `^(?!1)`: look-around, including look-ahead and look-behind, is not supported"
        );
    }

    #[test]
    fn the_transform_decides_what_is_a_version() {
        let policy = TagPolicy::new(None, None, Some(r"^(\d+\.\d+\.\d+-\d+)-.*$ => $1"))
            .expect("valid policy");
        assert!(crate::tags::parse("1.0.0-269-7b368146").is_none());
        let version = policy.version("1.0.0-269-7b368146").expect("a version");
        assert_eq!(version.numbers(), &[1, 0, 0]);
        assert_eq!(version.flavour(), "-269");
    }
}
