//! Where a hold takes effect: a finding of an update the container's hold covers becomes
//! `held` (still reported, with who, when and why), so that no trigger or notifier sees it. The
//! holds themselves are data the caller reads from the store (the store comes after this
//! stage).

use crate::model::finding::{Finding, Status, Update};
use crate::model::{Hold, Holds};
use crate::tags::{TagPolicy, newest};

/// Whether `hold` covers `update`: the same version (and, when the hold names one, the same
/// digest), or a version that is not newer than the one held. A tag that cannot be compared
/// with the held one (another shape, `latest`) is held only by its digest.
pub fn covers(hold: &Hold, update: &Update) -> bool {
    let Some(held) = &hold.tag else {
        return true;
    };
    if &update.tag == held {
        return match (&hold.digest, &update.digest) {
            (Some(held), Some(found)) => held == found,
            _ => true,
        };
    }
    // Newer than the held version: the hold is over for it. The policy is the loosest one, as
    // the held tag was offered under the container's own and only its order matters here.
    let policy = TagPolicy::default()
        .with_prerelease(true)
        .with_more_parts(true);
    let newer = newest(held, [update.tag.as_str()], &policy).is_some();
    let comparable = policy.version(held).is_some() && policy.version(&update.tag).is_some();
    comparable && !newer
}

/// The finding after `holds`: `held`, with the hold, when one covers its update.
pub fn apply(
    watcher: &str,
    name: &str,
    finding: Finding,
    holds: &Holds,
) -> (Finding, Option<Hold>) {
    let hold = match (&finding.status, &finding.update, holds.get(watcher, name)) {
        (Status::UpdateAvailable, Some(update), Some(hold)) if covers(hold, update) => hold.clone(),
        _ => return (finding, None),
    };
    let reason = format!(
        "held by {} at {}: {} (`tidewatch release {name}` lifts it)",
        hold.by, hold.at, hold.reason
    );
    (
        Finding {
            status: Status::Held,
            reason: Some(reason),
            ..finding
        },
        Some(hold),
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::UpdateKind;

    fn hold(tag: Option<&str>, digest: Option<&str>) -> Hold {
        Hold {
            watcher: "local".into(),
            name: "web".into(),
            tag: tag.map(str::to_string),
            digest: digest.map(str::to_string),
            by: "alice".into(),
            at: "2026-01-01T00:00:00Z".into(),
            reason: "rolled back".into(),
        }
    }

    fn update(tag: &str, digest: Option<&str>) -> Update {
        Update {
            kind: UpdateKind::Minor,
            tag: tag.into(),
            digest: digest.map(str::to_string),
            link: None,
        }
    }

    #[test]
    fn the_held_version_and_older_ones_are_held_a_newer_one_is_not() {
        let h = hold(Some("1.5.0"), Some("sha256:aa"));
        assert!(covers(&h, &update("1.5.0", Some("sha256:aa"))));
        assert!(covers(&h, &update("1.5.0", None)));
        assert!(
            !covers(&h, &update("1.5.0", Some("sha256:bb"))),
            "pushed again"
        );
        assert!(covers(&h, &update("1.4.9", None)));
        assert!(!covers(&h, &update("1.5.1", None)));
        assert!(!covers(&h, &update("2.0.0", None)));
        let by_hand = hold(Some("1.6"), None);
        assert!(
            covers(&by_hand, &update("1.5.3", None)),
            "more parts, older"
        );
        assert!(!covers(&by_hand, &update("1.7.0", None)));
        assert!(covers(&hold(None, None), &update("9.9.9", None)));
        // `latest` moves by digest only.
        let latest = hold(Some("latest"), Some("sha256:aa"));
        assert!(covers(&latest, &update("latest", Some("sha256:aa"))));
        assert!(!covers(&latest, &update("latest", Some("sha256:cc"))));
    }

    #[test]
    fn a_held_finding_keeps_its_update_and_says_why() {
        let holds = Holds(vec![hold(Some("1.5.0"), None)]);
        let found = Finding {
            status: Status::UpdateAvailable,
            reason: None,
            update: Some(update("1.5.0", None)),
            display_name: None,
        };
        let (held, by) = apply("local", "web", found.clone(), &holds);
        assert_eq!(held.status, Status::Held);
        assert!(held.reason.unwrap().contains("held by alice"));
        assert_eq!(held.update, found.update);
        assert!(by.is_some());
        let (other, none) = apply("local", "db", found.clone(), &holds);
        assert_eq!((other, none), (found, None));
    }
}
