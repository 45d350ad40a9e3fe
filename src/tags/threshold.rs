//! Which kinds of update a trigger acts on, with WUD's `THRESHOLD` values so a WUD setup keeps
//! its meaning: `all`, `major`, `major-only`, `minor`, `minor-only`, `patch` (case-insensitive),
//! plus one of our own, `digest` (also spelt `digest-only`): a new image behind the same tag and
//! nothing else, the safe choice for unattended updates. Anything else is rejected at start-up,
//! as WUD does.
//!
//! The meaning follows WUD's code (`Trigger.isThresholdReached` in getwud/wud
//! `app/triggers/providers/Trigger.ts`) where its documentation is vaguer: a threshold filters
//! tag updates only, so a digest update passes every threshold, and a pre-release update counts
//! as below a patch (it passes `patch`, `minor` and `major`, not the `-only` values). `major`,
//! the ceiling that excludes nothing, therefore behaves as `all`.

use crate::model::UpdateKind;
use std::fmt;
use std::str::FromStr;

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash)]
pub enum Threshold {
    /// Every update. WUD's default.
    #[default]
    All,
    /// Updates up to a major one: every update, as `all`.
    Major,
    /// Major tag updates, and digest updates.
    MajorOnly,
    /// Updates up to a minor one: no major tag update.
    Minor,
    /// Minor tag updates, and digest updates.
    MinorOnly,
    /// Updates up to a patch: no major or minor tag update.
    Patch,
    /// Only a new image behind the same tag (a rebuild); no tag update at all.
    DigestOnly,
}

impl Threshold {
    /// In the order WUD's documentation lists them, for error messages and docs.
    pub const ALL: [Threshold; 7] = [
        Threshold::All,
        Threshold::Major,
        Threshold::MajorOnly,
        Threshold::Minor,
        Threshold::MinorOnly,
        Threshold::Patch,
        Threshold::DigestOnly,
    ];

    /// Whether an update of `kind` reaches this threshold. A ceiling (`major`, `minor`, `patch`)
    /// compares with `<=`, which is why [`UpdateKind`] orders digest and pre-release first.
    pub fn allows(self, kind: UpdateKind) -> bool {
        match self {
            Threshold::All | Threshold::Major => true,
            Threshold::Minor => kind <= UpdateKind::Minor,
            Threshold::Patch => kind <= UpdateKind::Patch,
            Threshold::MajorOnly => matches!(kind, UpdateKind::Major | UpdateKind::Digest),
            Threshold::MinorOnly => matches!(kind, UpdateKind::Minor | UpdateKind::Digest),
            Threshold::DigestOnly => kind == UpdateKind::Digest,
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Threshold::All => "all",
            Threshold::Major => "major",
            Threshold::MajorOnly => "major-only",
            Threshold::Minor => "minor",
            Threshold::MinorOnly => "minor-only",
            Threshold::Patch => "patch",
            Threshold::DigestOnly => "digest",
        }
    }
}

/// An unknown threshold; the message lists the valid ones, since the value usually comes from
/// an environment variable typed by hand.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error(
    "unknown threshold `{value}`: expected one of all, major, major-only, minor, minor-only, patch, digest"
)]
pub struct ThresholdError {
    pub value: String,
}

impl FromStr for Threshold {
    type Err = ThresholdError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let wanted = s.trim();
        if wanted.eq_ignore_ascii_case("digest-only") {
            return Ok(Threshold::DigestOnly);
        }
        Threshold::ALL
            .into_iter()
            .find(|t| t.as_str().eq_ignore_ascii_case(wanted))
            .ok_or_else(|| ThresholdError {
                value: s.to_owned(),
            })
    }
}

impl fmt::Display for Threshold {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Through `FromStr`, so a config file gets the same error message as an environment variable.
impl<'de> serde::Deserialize<'de> for Threshold {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let value = String::deserialize(deserializer)?;
        value.parse().map_err(serde::de::Error::custom)
    }
}

impl serde::Serialize for Threshold {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(self.as_str())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use UpdateKind::*;

    /// `value` parses, and allows exactly the kinds in `allowed`.
    fn check(value: &str, allowed: &[UpdateKind]) {
        let threshold: Threshold = value
            .parse()
            .unwrap_or_else(|err| panic!("{value:?}: {err}"));
        for kind in [Digest, Prerelease, Patch, Minor, Major] {
            assert_eq!(
                threshold.allows(kind),
                allowed.contains(&kind),
                "threshold {value} on a {kind:?} update"
            );
        }
    }

    #[test]
    fn thresholds_as_wud() {
        check("all", &[Digest, Prerelease, Patch, Minor, Major]);
        check("major", &[Digest, Prerelease, Patch, Minor, Major]);
        check("major-only", &[Digest, Major]);
        check("minor", &[Digest, Prerelease, Patch, Minor]);
        check("minor-only", &[Digest, Minor]);
        check("patch", &[Digest, Prerelease, Patch]);
        // WUD's schema is case-insensitive.
        check("Minor-Only", &[Digest, Minor]);
        check(" PATCH ", &[Digest, Prerelease, Patch]);
        // Ours: rebuilds behind the same tag only.
        check("digest", &[Digest]);
        check("digest-only", &[Digest]);
    }

    #[test]
    fn unknown_thresholds_list_the_valid_ones() {
        for value in ["patch-only", "digests", "none", ""] {
            let err = value.parse::<Threshold>().expect_err("rejected");
            assert_eq!(
                err.to_string(),
                format!(
                    "unknown threshold `{value}`: expected one of all, major, major-only, minor, minor-only, patch, digest"
                )
            );
        }
    }

    #[test]
    fn round_trips_through_its_name() {
        for threshold in Threshold::ALL {
            assert_eq!(threshold.to_string().parse(), Ok(threshold));
            let json = serde_json::to_string(&threshold).expect("serialises");
            assert_eq!(json, format!("\"{threshold}\""));
            let back: Threshold = serde_json::from_str(&json).expect("deserialises");
            assert_eq!(back, threshold);
        }
        assert_eq!(Threshold::default(), Threshold::All);
        let err = serde_json::from_str::<Threshold>("\"sometimes\"").expect_err("rejected");
        assert!(err.to_string().starts_with("unknown threshold `sometimes`"));
    }
}
