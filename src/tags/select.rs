//! Picking the tag to offer from a registry's tag list. The complaints about every tool in this
//! field are about what competes, not about ordering: `latest`-style tags, `-alpine` users moved
//! to Debian, stable users moved to `-rc1`, `1.25` users moved to `1.25.3-perl`. So a tag only
//! competes when it has the current tag's shape, and the rules for shape are strict, while the
//! ordering inside a shape is plain numeric.

use crate::model::UpdateKind;
use crate::tags::policy::TagPolicy;
use crate::tags::version::Version;
use std::cmp::Ordering;

/// The tag to move to, and how big a move it is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Newer {
    /// As the registry lists it (never the transformed form): this is what gets pulled.
    pub tag: String,
    pub kind: UpdateKind,
}

/// The newest tag in `available` that competes with `current`, or `None` when nothing newer of
/// the same shape exists or `current` is not a version (watch it by digest instead).
///
/// A tag competes when it passes `tag.include`/`tag.exclude` and, after `tag.transform`, has
/// the current tag's prefix, flavour (digit runs masked), date-stamp-ness and count of numbers
/// (or more, with `allow_more_parts`), and is a release unless pre-releases are allowed or the
/// current tag is one. Among competitors newer than `current`, the winner has:
///
/// 1. the highest numbers, then a release over its pre-releases, then the highest pre-release;
/// 2. the flavour closest to the current one: most leading flavour numbers equal to the current
///    tag's, so `1.25.3-alpine3.18` moves to `1.25.4-alpine3.18` rather than `-alpine3.19`
///    when both exist;
/// 3. the highest flavour numbers (`-ls225` over `-ls224`);
/// 4. the shorter tag, then the lexicographically smaller one, so equal versions spelt twice
///    (`24.04`, `24.4`) give the same answer whatever the registry's order.
pub fn newest<I>(current: &str, available: I, policy: &TagPolicy) -> Option<Newer>
where
    I: IntoIterator,
    I::Item: AsRef<str>,
{
    let current = policy.version(current)?;
    let mut best: Option<(Version, String)> = None;
    for tag in available {
        let tag = tag.as_ref();
        if !policy.admits(tag) {
            continue;
        }
        let Some(candidate) = policy.version(tag) else {
            continue;
        };
        if !competes(&current, &candidate, policy)
            || candidate.cmp_precedence(&current) != Ordering::Greater
        {
            continue;
        }
        let wins = match &best {
            None => true,
            Some((best, best_tag)) => {
                rank(&candidate, tag, best, best_tag, &current) == Ordering::Greater
            }
        };
        if wins {
            best = Some((candidate, tag.to_owned()));
        }
    }
    best.map(|(version, tag)| Newer {
        kind: update_kind(&current, &version),
        tag,
    })
}

/// Same shape as `current`; see [`newest`].
fn competes(current: &Version, candidate: &Version, policy: &TagPolicy) -> bool {
    let (have, want) = (candidate.numbers().len(), current.numbers().len());
    candidate.prefix() == current.prefix()
        && candidate.flavour_shape() == current.flavour_shape()
        && flavour_moves_allowed(current, candidate)
        && candidate.is_date_stamp() == current.is_date_stamp()
        && (have == want || (policy.allow_more_parts && have > want))
        && (!candidate.is_prerelease() || current.is_prerelease() || policy.allow_prerelease)
}

/// Whether the flavour's numbers that differ between two tags of one flavour shape may move.
/// Most move with every rebuild: a build or update counter (`-ls221`, `-r5`, `-CU12`, `-2`),
/// a later part of a dotted number (`alpine3.18` → `3.19`). But a number that gives the major
/// version of a runtime or distribution the image is built on (`jdk17`, `debian-11`, the `3`
/// of `alpine3.18`, `ltsc2022`) switches to another base when it moves, which is no update of
/// the same image: Jenkins lists `2.440.1-lts-jdk17` beside `-jdk21`, Bitnami `-debian-11-r5`
/// beside `-debian-12-r0`, and neither move is a patch. So a number whose word (the letters
/// right before it, or before the `-` or `_` right before it) names such a base stays put,
/// unless it follows a `.`.
fn flavour_moves_allowed(current: &Version, candidate: &Version) -> bool {
    let movable = movable_numbers(current.flavour_shape());
    current
        .flavour_numbers()
        .iter()
        .zip(candidate.flavour_numbers())
        .zip(movable)
        .all(|((a, b), movable)| a == b || movable)
}

/// Runtimes and distributions whose major version images put in their flavour.
const BASES: [&str; 33] = [
    "alpine",
    "bookworm",
    "bullseye",
    "centos",
    "cuda",
    "debian",
    "dotnet",
    "el",
    "fedora",
    "go",
    "golang",
    "java",
    "jdk",
    "jre",
    "ltsc",
    "mariadb",
    "mysql",
    "nanoserver",
    "net",
    "node",
    "openjdk",
    "perl",
    "pg",
    "php",
    "postgres",
    "py",
    "python",
    "rhel",
    "ruby",
    "temurin",
    "ubi",
    "ubuntu",
    "windowsservercore",
];

/// For each `#` (a masked number) of a flavour shape, whether that number may move; see
/// [`flavour_moves_allowed`].
fn movable_numbers(shape: &str) -> Vec<bool> {
    shape
        .match_indices('#')
        .map(|(at, _)| {
            let before = &shape[..at];
            if before.ends_with('.') {
                return true;
            }
            // The letters right before the number, or before the separator right before it.
            let before = before.strip_suffix(['-', '_']).unwrap_or(before);
            let word: String = before
                .chars()
                .rev()
                .take_while(|c| c.is_ascii_alphabetic())
                .collect::<Vec<_>>()
                .into_iter()
                .rev()
                .collect();
            !BASES.contains(&word.to_ascii_lowercase().as_str())
        })
        .collect()
}

/// How `a` compares with `b` as a choice for `current`; rules 1–4 of [`newest`].
fn rank(a: &Version, a_tag: &str, b: &Version, b_tag: &str, current: &Version) -> Ordering {
    a.cmp_release(b)
        .then_with(|| closeness(a, current).cmp(&closeness(b, current)))
        .then_with(|| a.flavour_numbers().cmp(b.flavour_numbers()))
        .then_with(|| b_tag.len().cmp(&a_tag.len()))
        .then_with(|| b_tag.cmp(a_tag))
}

/// How many leading flavour numbers `v` shares with `current`.
fn closeness(v: &Version, current: &Version) -> usize {
    v.flavour_numbers()
        .iter()
        .zip(current.flavour_numbers())
        .take_while(|(a, b)| a == b)
        .count()
}

/// The kind of the move from `from` to `to`, by the first number that differs: the first is
/// major, the second minor, any later one (the 4th of `4.0.2.1183` too) patch — so calendar
/// versions read year = major. A date stamp changing is a patch: it is a newer snapshot of the
/// same line. Same numbers: a pre-release moving or becoming the release is `Prerelease`; only
/// the flavour's numbers moving (`-ls221` → `-ls225`, a rebuild) is a patch.
fn update_kind(from: &Version, to: &Version) -> UpdateKind {
    let len = from.numbers().len().max(to.numbers().len());
    let at = |v: &Version, i: usize| v.numbers().get(i).copied().unwrap_or(0);
    match (0..len).find(|&i| at(from, i) != at(to, i)) {
        Some(_) if from.is_date_stamp() => UpdateKind::Patch,
        Some(0) => UpdateKind::Major,
        Some(1) => UpdateKind::Minor,
        Some(_) => UpdateKind::Patch,
        None if from.pre() != to.pre() => UpdateKind::Prerelease,
        None => UpdateKind::Patch,
    }
}
