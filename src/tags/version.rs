//! Reading a version out of an image tag. Tags are not semver: `16.2-bookworm`,
//! `4.0.2.1183-ls221`, `v3.0.0-rc1`, `3.13.0a4-slim` and `2024.5.3` all name a release, while
//! `latest`, `lts-alpine`, `alpine3.18` and `a1b2c3d` name a moving target or a commit. A strict
//! semver parser rejects half of the first group and orders `1.2.3-alpine` below `1.2.3`, so
//! this parser is our own and lenient about what a release looks like, but strict about what it
//! is not: anything it cannot place is watched by digest only.
//!
//! A tag reads as `prefix numbers [pre-release] [flavour] [+build]`:
//!
//! - **prefix**: empty, or letters ending in a separator (`release-`, `jammy-`), or a `v`/`V`
//!   alone or after one (`v`, `release-v`). Letters running straight into digits (`alpine3.18`,
//!   `php8.2-fpm`, `abc1234`) are not a prefix: such tags are rolling aliases or commits.
//! - **numbers**: 1 or more dot-separated integers, leading zeros allowed (`24.04` is 24, 4).
//! - **pre-release**: a known word, directly after the numbers or after one `-`, `.` or `_`,
//!   followed by optional numbers (`rc1`, `-rc.1`, `-beta`, `-beta.2`, `-alpha3`, `-ea-14`). The
//!   words are `alpha`, `beta`, `rc`, `pre`, `preview`, `milestone`, `ea` (early access) and
//!   `snapshot`, any case; `m`, and the Python forms `a` and `b` (the last two only attached, as in
//!   `3.13.0a4`), count only with a number. Everything else is a flavour, notably `dev` and
//!   `nightly`: a misread flavour only hides tags of that flavour, while a misread pre-release
//!   lets a stable user be offered it, so unknown words err on the flavour side.
//! - **flavour**: whatever follows, up to `+` (`-alpine3.19`, `-slim-bookworm`, `-ls221`). Tags
//!   compete only with the same flavour once its digit runs are masked, so `-alpine3.18` meets
//!   `-alpine3.19` and `-ls221` meets `-ls225`, never `-alpine` or `-perl`.
//! - **build**: `+` and anything (semver build metadata); ignored when ordering, as semver says.
//!   Docker tags cannot contain `+`, so it only arrives through a `tag.transform`.
//!
//! A tag containing a commit-like word (7 or more lowercase hex characters with both a letter and
//! a digit, such as `7b368146`) is not a version: build hashes change with every push and order
//! nothing.

use std::cmp::Ordering;
use std::fmt;

/// Docker's limit; a longer string is not a tag, and the bound keeps parsing cheap.
const MAX_TAG_LEN: usize = 128;

/// How far along a pre-release is. The order (earliest first) only matters between two
/// pre-releases of the same numbers, which few projects publish with different words.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Stage {
    /// `snapshot`: a build of whatever the branch held.
    Snapshot,
    /// `ea`: the JDK's early-access builds.
    EarlyAccess,
    /// `alpha`, or `a` with a number (`3.13.0a4`).
    Alpha,
    /// `beta`, or `b` with a number (`2024.6.0b3`).
    Beta,
    /// `milestone`, or `m` with a number (`M1`).
    Milestone,
    /// `pre` and `preview`.
    Preview,
    /// `rc`.
    Rc,
}

/// The pre-release part of a version: `-rc.1` is `Rc` with `[1]`, `-beta` is `Beta` with `[]`.
/// The derived order compares the stage, then the numbers, so `rc` < `rc1` < `rc.1.1` < `rc2`.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Pre {
    pub stage: Stage,
    pub numbers: Vec<u64>,
}

/// A tag read as a version. Only versions of the same shape (prefix, flavour with digits
/// masked, count of numbers, date stamp or not) are comparable; [`crate::tags::newest`] checks
/// the shape before it compares.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Version {
    raw: String,
    prefix: String,
    numbers: Vec<u64>,
    /// The first number is a date (`20240315`, `202403151200`): such tags are snapshots of a
    /// rolling line and must not compete with `3` or `3.19` (Alpine publishes both kinds).
    stamp: bool,
    pre: Option<Pre>,
    flavour: String,
    /// The flavour with every digit run replaced by `#`: the part that must match exactly.
    flavour_shape: String,
    /// The digit runs of the flavour, which may move (`-ls221` → `-ls225`).
    flavour_numbers: Vec<u64>,
    build: Option<String>,
}

impl Version {
    /// The string parsed: the tag, or the tag after `tag.transform`.
    pub fn raw(&self) -> &str {
        &self.raw
    }

    pub fn prefix(&self) -> &str {
        &self.prefix
    }

    pub fn numbers(&self) -> &[u64] {
        &self.numbers
    }

    pub fn pre(&self) -> Option<&Pre> {
        self.pre.as_ref()
    }

    /// Including its leading separator (`-alpine3.19`), so `-alpine` and `_alpine` differ.
    pub fn flavour(&self) -> &str {
        &self.flavour
    }

    pub fn build(&self) -> Option<&str> {
        self.build.as_deref()
    }

    pub fn is_prerelease(&self) -> bool {
        self.pre.is_some()
    }

    /// Whether the first number is a date stamp (`jammy-20240227`, Alpine's `20240315`).
    pub fn is_date_stamp(&self) -> bool {
        self.stamp
    }

    pub(crate) fn flavour_shape(&self) -> &str {
        &self.flavour_shape
    }

    pub(crate) fn flavour_numbers(&self) -> &[u64] {
        &self.flavour_numbers
    }

    /// Orders by release only: numbers (missing ones count as 0), then a release above any of
    /// its pre-releases, then the pre-releases. The flavour is left out.
    pub(crate) fn cmp_release(&self, other: &Version) -> Ordering {
        cmp_numbers(&self.numbers, &other.numbers).then_with(|| match (&self.pre, &other.pre) {
            (None, None) => Ordering::Equal,
            (None, Some(_)) => Ordering::Greater,
            (Some(_), None) => Ordering::Less,
            (Some(a), Some(b)) => a.cmp(b),
        })
    }

    /// Release order, then the flavour's numbers: `1.0-ls222` is newer than `1.0-ls221`, a
    /// rebuild of the same release. Meaningful between versions of the same shape only.
    pub(crate) fn cmp_precedence(&self, other: &Version) -> Ordering {
        self.cmp_release(other)
            .then_with(|| self.flavour_numbers.cmp(&other.flavour_numbers))
    }
}

impl fmt::Display for Version {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.raw)
    }
}

/// Compares number lists as if the shorter were padded with zeros, so `1.25` equals `1.25.0`
/// when a policy lets lengths differ.
fn cmp_numbers(a: &[u64], b: &[u64]) -> Ordering {
    let len = a.len().max(b.len());
    (0..len)
        .map(|i| {
            let x = a.get(i).copied().unwrap_or(0);
            let y = b.get(i).copied().unwrap_or(0);
            x.cmp(&y)
        })
        .find(|o| o.is_ne())
        .unwrap_or(Ordering::Equal)
}

/// Reads `tag` as a version, or `None` when it names a moving target or a commit (the image is
/// then watched by digest only). The grammar is in this module's documentation.
pub fn parse(tag: &str) -> Option<Version> {
    if tag.is_empty() || tag.len() > MAX_TAG_LEN || !tag.bytes().all(is_tag_byte) {
        return None;
    }
    if tag.split(['-', '.', '_', '+']).any(looks_like_commit) {
        return None;
    }
    let (body, build) = match tag.split_once('+') {
        Some((body, build)) => {
            if build.is_empty() || build.contains('+') {
                return None;
            }
            (body, Some(build.to_owned()))
        }
        None => (tag, None),
    };
    let b = body.as_bytes();
    let start = b.iter().position(u8::is_ascii_digit)?;
    let prefix = &body[..start];
    if !is_prefix(prefix) {
        return None;
    }
    let (numbers, end) = dotted_numbers(b, start)?;
    let first_len = b[start..].iter().take_while(|c| c.is_ascii_digit()).count();
    let stamp = is_date_stamp(&body[start..start + first_len]);
    let (pre, end) = match pre_release(b, end) {
        Some((pre, end)) => (Some(pre), end),
        None => (None, end),
    };
    let flavour = &body[end..];
    let (flavour_shape, flavour_numbers) = mask_digits(flavour)?;
    if !flavour.is_empty() && !flavour.bytes().any(|c| c.is_ascii_alphanumeric()) {
        return None;
    }
    Some(Version {
        raw: tag.to_owned(),
        prefix: prefix.to_owned(),
        numbers,
        stamp,
        pre,
        flavour: flavour.to_owned(),
        flavour_shape,
        flavour_numbers,
        build,
    })
}

/// Docker's tag alphabet, plus `+` for build metadata a transform may produce.
fn is_tag_byte(b: u8) -> bool {
    b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_' | b'+')
}

fn is_separator(b: u8) -> bool {
    matches!(b, b'-' | b'.' | b'_')
}

/// A git commit or build hash: lowercase hex, long enough not to be a word like `beef`, with
/// both letters and digits (an all-digit word is a number, an all-letter one a word).
fn looks_like_commit(word: &str) -> bool {
    word.len() >= 7
        && word
            .bytes()
            .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
        && word.bytes().any(|b| b.is_ascii_digit())
        && word.bytes().any(|b| b.is_ascii_alphabetic())
}

/// See the module documentation: letters and separators, ending in a separator or a `v` that
/// stands alone, so `alpine3.18` (a rolling alias) does not read as version 3.18 of "alpine".
fn is_prefix(prefix: &str) -> bool {
    let b = prefix.as_bytes();
    let Some((&last, init)) = b.split_last() else {
        return true;
    };
    let first = b[0];
    if !first.is_ascii_alphabetic()
        || !b
            .iter()
            .all(|&c| c.is_ascii_alphabetic() || is_separator(c))
    {
        return false;
    }
    is_separator(last)
        || (matches!(last, b'v' | b'V') && init.last().is_none_or(|&c| is_separator(c)))
}

/// One run of digits at `at`: its value and where it ends. `None` if there is none, or if it
/// does not fit a u64 (no tag that long is a version).
fn number(b: &[u8], at: usize) -> Option<(u64, usize)> {
    let len = b
        .get(at..)?
        .iter()
        .take_while(|c| c.is_ascii_digit())
        .count();
    if len == 0 {
        return None;
    }
    let mut value: u64 = 0;
    for &c in &b[at..at + len] {
        value = value.checked_mul(10)?.checked_add(u64::from(c - b'0'))?;
    }
    Some((value, at + len))
}

/// `1`, `1.2`, `1.2.3.4`… starting at `at`; a dot not followed by a digit ends the list.
fn dotted_numbers(b: &[u8], at: usize) -> Option<(Vec<u64>, usize)> {
    let mut numbers = Vec::with_capacity(4);
    let (first, mut end) = number(b, at)?;
    numbers.push(first);
    while b.get(end) == Some(&b'.') && b.get(end + 1).is_some_and(u8::is_ascii_digit) {
        let (next, next_end) = number(b, end + 1)?;
        numbers.push(next);
        end = next_end;
    }
    Some((numbers, end))
}

/// A pre-release starting at `at`, right after the numbers, and where it ends; `None` if what
/// follows is not one (it is then the flavour).
fn pre_release(b: &[u8], at: usize) -> Option<(Pre, usize)> {
    let attached = !b.get(at).copied().is_some_and(is_separator);
    let word_start = if attached { at } else { at + 1 };
    let word_len = b
        .get(word_start..)?
        .iter()
        .take_while(|c| c.is_ascii_alphabetic())
        .count();
    let word = b
        .get(word_start..word_start + word_len)?
        .to_ascii_lowercase();
    // (stage, needs a number): a lone letter is only a pre-release with its number.
    let (stage, needs_number) = match word.as_slice() {
        b"alpha" => (Stage::Alpha, false),
        b"a" if attached => (Stage::Alpha, true),
        b"beta" => (Stage::Beta, false),
        b"b" if attached => (Stage::Beta, true),
        b"rc" => (Stage::Rc, false),
        b"pre" | b"preview" => (Stage::Preview, false),
        b"milestone" => (Stage::Milestone, false),
        b"m" => (Stage::Milestone, true),
        b"ea" => (Stage::EarlyAccess, false),
        b"snapshot" => (Stage::Snapshot, false),
        _ => return None,
    };
    let mut end = word_start + word_len;
    let digits_at = match b.get(end) {
        Some(c) if c.is_ascii_digit() => Some(end),
        Some(b'.' | b'-') if b.get(end + 1).is_some_and(u8::is_ascii_digit) => Some(end + 1),
        _ => None,
    };
    let numbers = match digits_at {
        Some(at) => {
            let (numbers, numbers_end) = dotted_numbers(b, at)?;
            end = numbers_end;
            numbers
        }
        None if needs_number => return None,
        None => Vec::new(),
    };
    // The pre-release must end at a separator or the end: `-rcx` or `-beta2b` are flavours.
    if b.get(end).is_some_and(|&c| !is_separator(c)) {
        return None;
    }
    Some((Pre { stage, numbers }, end))
}

/// The flavour with its digit runs replaced by `#`, and those runs' values.
fn mask_digits(flavour: &str) -> Option<(String, Vec<u64>)> {
    let b = flavour.as_bytes();
    let mut shape = String::with_capacity(flavour.len());
    let mut numbers = Vec::new();
    let mut i = 0;
    while i < b.len() {
        if b[i].is_ascii_digit() {
            let (value, end) = number(b, i)?;
            numbers.push(value);
            shape.push('#');
            i = end;
        } else {
            shape.push(char::from(b[i]));
            i += 1;
        }
    }
    Some((shape, numbers))
}

/// `YYYYMMDD`, `YYYYMMDDhhmm` or `YYYYMMDDhhmmss` with plausible fields: a snapshot date, not a
/// release number.
fn is_date_stamp(digits: &str) -> bool {
    if !matches!(digits.len(), 8 | 12 | 14) {
        return false;
    }
    let field = |range: std::ops::Range<usize>| {
        digits
            .get(range)
            .and_then(|s| s.parse::<u32>().ok())
            .unwrap_or(u32::MAX)
    };
    let date_ok = (1970..=2099).contains(&field(0..4))
        && (1..=12).contains(&field(4..6))
        && (1..=31).contains(&field(6..8));
    let time_ok = digits.len() < 12 || (field(8..10) < 24 && field(10..12) < 60);
    let seconds_ok = digits.len() < 14 || field(12..14) < 60;
    date_ok && time_ok && seconds_ok
}

#[cfg(test)]
mod tests {
    use super::*;

    /// What a tag should read as, in a compact form: `None` for "not a version", else
    /// `prefix|numbers|pre|flavour|build` with `~` for an absent pre-release or build, e.g.
    /// `v|3.0.0|Rc[1]|-alpine|~`.
    fn check(tag: &str, expected: Option<&str>) {
        let got = parse(tag).map(|v| {
            let numbers: Vec<String> = v.numbers().iter().map(u64::to_string).collect();
            let pre = v
                .pre()
                .map(|p| format!("{:?}{:?}", p.stage, p.numbers))
                .unwrap_or_else(|| "~".into());
            let stamp = if v.is_date_stamp() { "@" } else { "" };
            format!(
                "{}|{}{stamp}|{pre}|{}|{}",
                v.prefix(),
                numbers.join("."),
                v.flavour(),
                v.build().unwrap_or("~")
            )
        });
        assert_eq!(got.as_deref(), expected, "parsing {tag:?}");
    }

    #[test]
    fn plain_and_prefixed_versions() {
        check("1", Some("|1|~||~"));
        check("16.2", Some("|16.2|~||~"));
        check("1.25.3", Some("|1.25.3|~||~"));
        check("4.0.2.1183", Some("|4.0.2.1183|~||~"));
        check("1.2.3.4.5", Some("|1.2.3.4.5|~||~"));
        check("v2.11.0", Some("v|2.11.0|~||~"));
        check("V1.0", Some("V|1.0|~||~"));
        check("release-1.2.3", Some("release-|1.2.3|~||~"));
        check("release-v1.2.3", Some("release-v|1.2.3|~||~"));
        check("version_2.0", Some("version_|2.0|~||~"));
        check("jammy-20240227", Some("jammy-|20240227@|~||~"));
    }

    #[test]
    fn calendar_versions_and_leading_zeros() {
        check("2024.5.3", Some("|2024.5.3|~||~"));
        check("24.04", Some("|24.4|~||~"));
        check("2024.05.03", Some("|2024.5.3|~||~"));
        check("007", Some("|7|~||~"));
        check("20240315", Some("|20240315@|~||~"));
        check("202403151230", Some("|202403151230@|~||~"));
        // Not a plausible date: an ordinary (large) number.
        check("20241315", Some("|20241315|~||~"));
        check("12345678", Some("|12345678|~||~"));
    }

    #[test]
    fn pre_releases() {
        check("v3.0.0-rc1", Some("v|3.0.0|Rc[1]||~"));
        check("1.0.0-rc.1", Some("|1.0.0|Rc[1]||~"));
        check("1.0.0-RC2", Some("|1.0.0|Rc[2]||~"));
        check("1.0.0-beta", Some("|1.0.0|Beta[]||~"));
        check("1.0.0-beta.2", Some("|1.0.0|Beta[2]||~"));
        check("1.0.0-alpha3", Some("|1.0.0|Alpha[3]||~"));
        check("1.0.0-pre", Some("|1.0.0|Preview[]||~"));
        check(
            "9.0.0-preview.3-bookworm-slim",
            Some("|9.0.0|Preview[3]|-bookworm-slim|~"),
        );
        check("17beta1", Some("|17|Beta[1]||~"));
        check("17rc1", Some("|17|Rc[1]||~"));
        check("3.13.0a4", Some("|3.13.0|Alpha[4]||~"));
        check("2024.6.0b3", Some("|2024.6.0|Beta[3]||~"));
        check("3.13.0rc2-alpine3.20", Some("|3.13.0|Rc[2]|-alpine3.20|~"));
        check("2.0.0-M1", Some("|2.0.0|Milestone[1]||~"));
        check("22-ea-14-jdk", Some("|22|EarlyAccess[14]|-jdk|~"));
        check("1.0.0-SNAPSHOT", Some("|1.0.0|Snapshot[]||~"));
        check("1.0.0-rc.1.2", Some("|1.0.0|Rc[1, 2]||~"));
    }

    #[test]
    fn flavours_are_not_pre_releases() {
        check("1.25.3-alpine", Some("|1.25.3|~|-alpine|~"));
        check("16-alpine3.19", Some("|16|~|-alpine3.19|~"));
        check("3.12.2-slim-bookworm", Some("|3.12.2|~|-slim-bookworm|~"));
        check("4.0.2.1183-ls221", Some("|4.0.2.1183|~|-ls221|~"));
        check("1.25.3-alpine-perl", Some("|1.25.3|~|-alpine-perl|~"));
        check("8.3.4-fpm", Some("|8.3.4|~|-fpm|~"));
        check("3.13.0-management", Some("|3.13.0|~|-management|~"));
        check("21.0.2_13-jre-jammy", Some("|21.0.2|~|_13-jre-jammy|~"));
        check("26.1.3.Final", Some("|26.1.3|~|.Final|~"));
        // Ambiguous words err on the flavour side (module docs).
        check("1.22-dev", Some("|1.22|~|-dev|~"));
        check("2024.6.0.dev20240528", Some("|2024.6.0|~|.dev20240528|~"));
        check("1.0-nightly", Some("|1.0|~|-nightly|~"));
        check(
            "12.3.1-devel-ubuntu22.04",
            Some("|12.3.1|~|-devel-ubuntu22.04|~"),
        );
        // Words that merely start like a pre-release word.
        check("1.0-rclone", Some("|1.0|~|-rclone|~"));
        check("1.0-betas", Some("|1.0|~|-betas|~"));
        check("1.0-beta2b", Some("|1.0|~|-beta2b|~"));
        // A lone letter needs its number, and only counts attached.
        check("1.2.3a", Some("|1.2.3|~|a|~"));
        check("1.2.3-b1", Some("|1.2.3|~|-b1|~"));
        check("1.0-rc1-alpine", Some("|1.0|Rc[1]|-alpine|~"));
    }

    #[test]
    fn build_metadata() {
        check("1.2.3+build.5", Some("|1.2.3|~||build.5"));
        check("1.2.3-alpine+20240101", Some("|1.2.3|~|-alpine|20240101"));
        check("1.2.3-rc1+b", Some("|1.2.3|Rc[1]||b"));
        check("1.2.3+", None);
        check("1.2.3+a+b", None);
    }

    #[test]
    fn tags_that_are_not_versions() {
        for tag in [
            "latest",
            "stable",
            "lts-alpine",
            "edge",
            "nightly",
            "mainline",
            "stable-alpine",
            "alpine3.18",
            "php8.2-fpm",
            "mainline-alpine3.18-perl",
            "a1b2c3d",
            "7b368146",
            "sha-7b368146",
            "1.0.0-99-7b368146",
            "abc1234",
            "deadbeef1234",
            "",
            "-1.0",
            "_1.0",
            "1.0.",
            "1.0-",
            "v",
            "vv1.0",
            "99999999999999999999",
            "1.99999999999999999999",
            "1.0-alpine99999999999999999999",
            "1.0 alpine",
            "1.0/alpine",
            "1.0é",
        ] {
            check(tag, None);
        }
        check(&"1".repeat(MAX_TAG_LEN + 1), None);
    }

    #[test]
    fn release_order() {
        let v = |t: &str| parse(t).unwrap_or_else(|| panic!("{t} parses"));
        let ordered = [
            "1.0.0-snapshot",
            "1.0.0-alpha",
            "1.0.0-alpha.1",
            "1.0.0-beta",
            "1.0.0-beta2",
            "1.0.0-beta.10",
            "1.0.0-rc1",
            "1.0.0",
            "1.0.1",
            "1.10.0",
            "2.0.0",
        ];
        for pair in ordered.windows(2) {
            assert_eq!(
                v(pair[0]).cmp_release(&v(pair[1])),
                Ordering::Less,
                "{} < {}",
                pair[0],
                pair[1]
            );
        }
        assert_eq!(v("1.25").cmp_release(&v("1.25.0")), Ordering::Equal);
        assert_eq!(
            v("1.0-ls221").cmp_precedence(&v("1.0-ls225")),
            Ordering::Less
        );
    }
}
