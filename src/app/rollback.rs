//! `tidewatch rollback`, `hold` and `release`: undo an update, and keep tidewatch from applying
//! it again until the user says so or a newer version appears.
//!
//! A rollback goes through the update executor (`update::rollback`), with the docker trigger's
//! options, so it keeps every setting, passes the health gate or is undone, and is journaled
//! (a crash during it is finished or undone at the next start). Its targets are the images the
//! audit log says the container ran before its updates. What the commands do goes on a bus the
//! store and the notifiers listen to, as the daemon's actions do.

use crate::bus::{Bus, Event, WeakBus};
use crate::config::{Loaded, WatcherConfig};
use crate::docker::Engine;
use crate::model::{ContainerInfo, Hold, ImageRef, Kind, UpdateCandidate, UpdateKind};
use crate::registry::RegistryClient;
use crate::store::{RollbackTarget, Store};
use crate::update::trigger::DockerTrigger;
use crate::update::{self, Outcome, RollbackTo};

use crate::app::Triggers;
use std::collections::BTreeMap;
use std::sync::Arc;

use super::*;

fn now() -> String {
    chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Secs, true)
}

/// What a rollback, hold or release reaches beyond the store and the bus: the engines of the
/// watchers, the registries (to pull an image by digest) and the journal. A command builds it
/// from its configuration; the daemon's HTTP control from what it runs.
pub struct Scene<'a> {
    pub watchers: &'a BTreeMap<String, WatcherConfig>,
    pub client: &'a RegistryClient,
    pub journal: Arc<dyn crate::update::journal::Journal>,
}

/// Container `name` on the first watcher whose engine has it.
async fn find(
    watchers: &BTreeMap<String, WatcherConfig>,
    name: &str,
) -> anyhow::Result<(Engine, ContainerInfo)> {
    let mut problems = Vec::new();
    for (watcher, config) in watchers {
        let engine = match Engine::connect(watcher, config).await {
            Ok(engine) => engine,
            Err(err) => {
                problems.push(err.to_string());
                continue;
            }
        };
        match engine.container(name).await {
            Ok(Some(info)) if info.name == name => return Ok((engine, info)),
            Ok(_) => {}
            Err(err) => problems.push(err.to_string()),
        }
        // A Swarm service of that name, on a manager.
        if config.swarm != Some(false) && engine.is_swarm_manager().await.unwrap_or(false) {
            match engine.services().await {
                Ok(services) => {
                    if let Some(info) = services.into_iter().find(|s| s.name == name) {
                        return Ok((engine, info));
                    }
                }
                Err(err) => problems.push(err.to_string()),
            }
        }
    }
    let mut message = format!("no container named {name}");
    if !problems.is_empty() {
        message.push_str(&format!(" ({})", problems.join("; ")));
    }
    Err(anyhow::anyhow!(message))
}

/// Which of `targets` (newest first) `to` names: `-N` (the Nth, `-1` by default), a digest or
/// image ID (`sha256:…`, a prefix of 12 or more hex digits will do), or a tag.
pub fn choose<'t>(targets: &'t [RollbackTarget], to: Option<&str>) -> Option<&'t RollbackTarget> {
    let to = to.unwrap_or("-1");
    if let Some(n) = to.strip_prefix('-').and_then(|n| n.parse::<usize>().ok()) {
        return n.checked_sub(1).and_then(|i| targets.get(i));
    }
    if to.starts_with("sha256:") {
        let matches = |id: &str| id.starts_with(to) && to.len() >= "sha256:".len() + 12;
        return targets
            .iter()
            .find(|t| matches(&t.image_id) || t.digest.as_deref().is_some_and(matches));
    }
    targets.iter().find(|t| {
        ImageRef::parse(&t.image)
            .ok()
            .and_then(|r| r.tag)
            .is_some_and(|tag| tag == to)
    })
}

/// The kind of a move from `from` to `to`, read the other way round (a rollback from 1.5.0 to
/// 1.4.2 undoes a minor update), so that notifiers' thresholds treat it as that update.
fn kind(from: &ImageRef, to: &ImageRef) -> UpdateKind {
    let (Some(from), Some(to)) = (&from.tag, &to.tag) else {
        return UpdateKind::Digest;
    };
    let policy = crate::tags::TagPolicy::default()
        .with_prerelease(true)
        .with_more_parts(true);
    crate::tags::newest(to, [from.as_str()], &policy)
        .map(|n| n.kind)
        .unwrap_or(UpdateKind::Digest)
}

/// Whether `before` holds back more than `after` would: every update, or a newer version.
fn held_further(before: &Hold, after: &Hold) -> bool {
    let (Some(earlier), Some(now)) = (&before.tag, &after.tag) else {
        return before.tag.is_none();
    };
    let policy = crate::tags::TagPolicy::default()
        .with_prerelease(true)
        .with_more_parts(true);
    crate::tags::newest(now, [earlier.as_str()], &policy).is_some()
}

/// The bus of a command, with the store and the notifiers listening (no trigger that acts).
fn listeners(
    loaded: &Loaded,
    store: &Store,
    triggers: Triggers,
) -> anyhow::Result<(Bus, Subscribers)> {
    let client = Arc::new(RegistryClient::new(
        &loaded.config.registry,
        client_settings(loaded),
    )?);
    let bus = Bus::default();
    let only_notifiers = Triggers {
        notifiers: triggers.notifiers,
        mirrors: triggers.mirrors,
        ..Triggers::default()
    };
    let subscribers = Subscribers::start(&bus, store, only_notifiers, loaded, client);
    Ok((bus, subscribers))
}

/// `tidewatch rollback NAME [--to REF]`: re-creates the container from an image it ran before
/// an update (the last one by default), then holds the version it ran until now. Returns the
/// lines to print; an error when nothing was changed or the rollback was undone.
pub async fn rollback(
    loaded: &Loaded,
    triggers: Triggers,
    asked: Asked<'_>,
    to: Option<&str>,
) -> anyhow::Result<Vec<String>> {
    let options = match triggers.docker.first() {
        Some(trigger) => trigger.options().clone(),
        None => DockerTrigger::command_line().options().clone(),
    };
    let store = open_store(loaded).await?;
    let (bus, subscribers) = listeners(loaded, &store, triggers)?;
    let client = RegistryClient::new(&loaded.config.registry, client_settings(loaded))?;
    let scene = Scene {
        watchers: &loaded.config.watcher,
        client: &client,
        journal: journal(&store, loaded),
    };
    let result = roll_back(&scene, &store, &bus.weak(), &options, asked, to).await;
    subscribers.finish(bus).await;
    result
}

/// Who asks for a rollback, hold or release, of which container, and why.
#[derive(Debug, Clone, Copy)]
pub struct Asked<'a> {
    pub name: &'a str,
    /// The user, for the record.
    pub by: &'a str,
    pub why: Option<&'a str>,
}

/// The rollback itself, on `store` and `bus` (the command's own, or a daemon's): what the API
/// of a running daemon calls too.
pub async fn roll_back(
    scene: &Scene<'_>,
    store: &Store,
    bus: &WeakBus,
    options: &update::Options,
    asked: Asked<'_>,
    to: Option<&str>,
) -> anyhow::Result<Vec<String>> {
    let Asked { name, by, why } = asked;
    let (engine, info) = find(scene.watchers, name).await?;
    if info.kind == Kind::Service {
        return roll_back_service(store, bus, options, &engine, &info, asked, to).await;
    }
    let watcher = info.watcher.clone();
    let (w, n, running) = (watcher.clone(), name.to_string(), info.image_id.clone());
    let targets = store
        .blocking(move |s| s.rollback_targets(&w, &n, Some(&running)))
        .await?;
    let Some(target) = choose(&targets, to) else {
        let known: Vec<String> = targets
            .iter()
            .enumerate()
            .map(|(i, t)| format!("-{} {}", i + 1, t.image))
            .collect();
        anyhow::bail!(
            "{name}: nothing to roll back to{}; images it ran before its updates: {}",
            to.map(|t| format!(" named {t}")).unwrap_or_default(),
            if known.is_empty() {
                "none recorded".to_string()
            } else {
                known.join(", ")
            }
        );
    };
    let current = ImageRef::parse(&info.image)
        .map_err(|err| anyhow::anyhow!("{name}: its image cannot be read: {err}"))?;
    let goal = ImageRef::parse(&target.image)
        .map_err(|err| anyhow::anyhow!("{name}: the image to roll back to: {err}"))?;
    let candidate = UpdateCandidate {
        container: info.clone(),
        current: current.clone(),
        target: goal.clone(),
        digest: target.digest.clone(),
        kind: kind(&current, &goal),
        display_name: info.name.clone(),
        link: None,
    };
    let pull = target.digest.as_ref().map(|digest| {
        ImageRef {
            tag: None,
            digest: Some(digest.clone()),
            ..goal.clone()
        }
        .familiar()
    });
    let to_image = RollbackTo {
        image: update::new_image(&candidate),
        image_id: target.image_id.clone(),
        pull,
    };
    let credential = scene
        .client
        .pull_credential(&goal, crate::watch::labels::login(&info.labels))
        .await
        .unwrap_or(None);
    let (from_tag, to_tag) = (
        current.tag.clone().unwrap_or_else(|| "latest".into()),
        goal.tag.clone().unwrap_or_else(|| "latest".into()),
    );
    // The hold is written before the rollback starts: a crash that recovery finishes must not
    // leave the version rolled back from free to be applied again. Undone, it is taken back.
    let reason = match why {
        Some(why) => format!("rolled back from {from_tag} to {to_tag}: {why}"),
        None => format!("rolled back from {from_tag} to {to_tag}"),
    };
    let mut hold = Hold {
        watcher: watcher.clone(),
        name: name.to_string(),
        tag: current.tag.clone(),
        digest: crate::store::running_digest(&candidate),
        by: by.to_string(),
        at: now(),
        reason,
    };
    let (w, n) = (watcher.clone(), name.to_string());
    let before = store
        .blocking(move |s| Ok(s.holds()?.get(&w, &n).cloned()))
        .await?;
    // Rolling back twice (1.2.0 → 1.1.0 → 1.0.0) keeps 1.2.0 held too: a hold covers what is
    // not newer than its version, so the newer of the two versions stays the held one.
    if let Some(before) = &before
        && held_further(before, &hold)
    {
        hold.tag = before.tag.clone();
        hold.digest = before.digest.clone();
    }
    let held = hold.clone();
    store.blocking(move |s| s.hold(&held)).await?;
    let journal = scene.journal.clone();
    let done = update::rollback(
        &engine,
        &watcher,
        &info.id,
        &to_image,
        credential.as_ref(),
        options,
        journal.as_ref(),
    )
    .await;
    let mut lines = Vec::new();
    if done.pulled {
        lines.push(format!(
            "{name}: the image of {to_tag} was no longer on the engine: pulled it by digest ({})",
            to_image.pull.as_deref().unwrap_or("?")
        ));
    }
    let result = match done.outcome {
        Outcome::Applied { new_id } => {
            bus.publish(Event::RollbackApplied {
                candidate: candidate.clone(),
                new_container_id: new_id,
                from_image_id: info.image_id.clone(),
                to_image_id: done.image_id.clone(),
                by: by.to_string(),
            });
            lines.push(format!(
                "{name}: rolled back from {from_tag} to {to_tag} by {by}; {from_tag} is held until a newer version appears or `tidewatch release {name}`"
            ));
            Ok(())
        }
        Outcome::RolledBack { reason } => Err(format!(
            "{name}: the rollback to {to_tag} did not work, {from_tag} runs again as it was: {reason}"
        )),
        Outcome::Failed { reason } | Outcome::Skipped { reason } => Err(format!(
            "{name}: not rolled back to {to_tag}, nothing was changed: {reason}"
        )),
        Outcome::Broken { reason } => Err(format!("{name}: rollback to {to_tag} broke: {reason}")),
    };
    if let Err(line) = &result {
        undo_hold(store, &info, before, by, line.clone()).await?;
    }
    match result {
        Ok(()) => Ok(lines),
        Err(line) => {
            lines.push(line.clone());
            Err(anyhow::anyhow!(lines.join("\n")))
        }
    }
}

/// A Swarm service goes back through Swarm's own rollback: Swarm keeps the spec from before the
/// last update (image, login and all), so that is the one target; the version it ran until
/// now is held as a container's is.
async fn roll_back_service(
    store: &Store,
    bus: &WeakBus,
    options: &update::Options,
    engine: &Engine,
    info: &ContainerInfo,
    asked: Asked<'_>,
    to: Option<&str>,
) -> anyhow::Result<Vec<String>> {
    let Asked { name, by, why } = asked;
    if to.is_some_and(|to| to != "-1") {
        anyhow::bail!(
            "{name} is a Swarm service: Swarm keeps only the spec it ran before its last update, so `tidewatch rollback {name}` without --to is the one rollback there is"
        );
    }
    let current = ImageRef::parse(&info.image)
        .map_err(|err| anyhow::anyhow!("{name}: its image cannot be read: {err}"))?;
    let from_tag = current.tag.clone().unwrap_or_else(|| "latest".into());
    let probe = UpdateCandidate {
        container: info.clone(),
        current: current.clone(),
        target: current.clone(),
        digest: None,
        kind: UpdateKind::Digest,
        display_name: info.name.clone(),
        link: None,
    };
    let hold = Hold {
        watcher: info.watcher.clone(),
        name: name.to_string(),
        tag: current.tag.clone(),
        digest: crate::store::running_digest(&probe),
        by: by.to_string(),
        at: now(),
        reason: match why {
            Some(why) => format!("rolled back from {from_tag} through Swarm: {why}"),
            None => format!("rolled back from {from_tag} through Swarm"),
        },
    };
    let (w, n) = (info.watcher.clone(), name.to_string());
    let before = store
        .blocking(move |s| Ok(s.holds()?.get(&w, &n).cloned()))
        .await?;
    let held = hold.clone();
    store.blocking(move |s| s.hold(&held)).await?;
    match update::service::rollback(engine, info, &options.gate).await {
        Ok(()) => {
            let now_runs = engine
                .services()
                .await
                .ok()
                .and_then(|all| all.into_iter().find(|s| s.id == info.id));
            let image = now_runs
                .as_ref()
                .map(|s| s.image.clone())
                .unwrap_or_default();
            if let (Some(after), Ok(target)) = (&now_runs, ImageRef::parse(&image)) {
                bus.publish(Event::RollbackApplied {
                    candidate: UpdateCandidate {
                        container: info.clone(),
                        current: current.clone(),
                        kind: kind(&current, &target),
                        target,
                        digest: after
                            .repo_digests
                            .first()
                            .and_then(|d| d.split_once('@'))
                            .map(|(_, digest)| digest.to_string()),
                        display_name: info.name.clone(),
                        link: None,
                    },
                    new_container_id: info.id.clone(),
                    from_image_id: String::new(),
                    to_image_id: String::new(),
                    by: by.to_string(),
                });
            }
            Ok(vec![format!(
                "{name}: rolled back through Swarm from {from_tag} to its previous spec ({image}) by {by}; {from_tag} is held until a newer version appears or `tidewatch release {name}`"
            )])
        }
        Err(reason) => {
            let detail = format!("{name}: not rolled back: {reason}");
            undo_hold(store, info, before, by, detail.clone()).await?;
            Err(anyhow::anyhow!(detail))
        }
    }
}

/// A rollback that did not happen: recorded as failed with `detail`, the hold set for it taken
/// back, and the one the container had `before` put back.
async fn undo_hold(
    store: &Store,
    info: &ContainerInfo,
    before: Option<Hold>,
    by: &str,
    detail: String,
) -> anyhow::Result<()> {
    let (key, by) = (info.key(), by.to_string());
    store
        .blocking(move |s| {
            s.log(Some(&key), "rollback-failed", &detail)?;
            match before {
                Some(before) => s.hold(&before),
                None => s
                    .release(&key.watcher, &key.name, &by, "the rollback did not happen")
                    .map(|_| ()),
            }
        })
        .await?;
    Ok(())
}

/// The watchers that know container `name`: from the store's last check, else the engines.
async fn watchers_of(
    watchers: &BTreeMap<String, WatcherConfig>,
    store: &Store,
    name: &str,
) -> anyhow::Result<Vec<String>> {
    let known: Vec<String> = store
        .blocking(|s| s.containers())
        .await?
        .into_iter()
        .filter(|c| c.name == name)
        .map(|c| c.watcher)
        .collect();
    if !known.is_empty() {
        return Ok(known);
    }
    Ok(vec![find(watchers, name).await?.1.watcher])
}

/// `tidewatch hold NAME [--until-newer-than TAG]`: no update of the container is offered,
/// notified or applied (only those up to TAG with it) until `tidewatch release NAME`.
pub async fn hold(
    loaded: &Loaded,
    triggers: Triggers,
    asked: Asked<'_>,
    until_newer_than: Option<&str>,
) -> anyhow::Result<Vec<String>> {
    let store = open_store(loaded).await?;
    let (bus, subscribers) = listeners(loaded, &store, triggers)?;
    let result = hold_container(
        &loaded.config.watcher,
        &store,
        &bus.weak(),
        asked,
        until_newer_than,
    )
    .await;
    subscribers.finish(bus).await;
    result
}

/// The hold itself, on `store` and `bus` (the command's own, or a daemon's).
pub async fn hold_container(
    watchers: &BTreeMap<String, WatcherConfig>,
    store: &Store,
    bus: &WeakBus,
    asked: Asked<'_>,
    until_newer_than: Option<&str>,
) -> anyhow::Result<Vec<String>> {
    let Asked { name, by, why } = asked;
    let mut lines = Vec::new();
    for watcher in watchers_of(watchers, store, name).await? {
        let hold = Hold {
            watcher,
            name: name.to_string(),
            tag: until_newer_than.map(str::to_string),
            digest: None,
            by: by.to_string(),
            at: now(),
            reason: why.unwrap_or("held by hand").to_string(),
        };
        lines.push(format!(
            "{name}: {} held by {by} until `tidewatch release {name}`{}",
            hold.what(),
            until_newer_than
                .map(|t| format!(" or a version newer than {t}"))
                .unwrap_or_default()
        ));
        bus.publish(Event::Held(hold));
    }
    Ok(lines)
}

/// `tidewatch release NAME`: lifts the container's hold; its updates are offered again.
pub async fn release(
    loaded: &Loaded,
    triggers: Triggers,
    asked: Asked<'_>,
) -> anyhow::Result<Vec<String>> {
    let store = open_store(loaded).await?;
    let (bus, subscribers) = listeners(loaded, &store, triggers)?;
    let result = release_container(&store, &bus.weak(), asked).await;
    subscribers.finish(bus).await;
    result
}

/// The release itself, on `store` and `bus` (the command's own, or a daemon's).
pub async fn release_container(
    store: &Store,
    bus: &WeakBus,
    asked: Asked<'_>,
) -> anyhow::Result<Vec<String>> {
    let Asked { name, by, why } = asked;
    let held: Vec<Hold> = store
        .blocking(|s| s.holds())
        .await?
        .0
        .into_iter()
        .filter(|h| h.name == name)
        .collect();
    if held.is_empty() {
        return Ok(vec![format!("{name}: not held")]);
    }
    let mut lines = Vec::new();
    for hold in held {
        lines.push(format!(
            "{name}: released ({} was held by {} since {}: {})",
            hold.what(),
            hold.by,
            hold.at,
            hold.reason
        ));
        bus.publish(Event::Released {
            watcher: hold.watcher,
            name: hold.name,
            by: by.to_string(),
            reason: why.unwrap_or("released by hand").to_string(),
        });
    }
    Ok(lines)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn target(seq: i64, image: &str, id: &str) -> RollbackTarget {
        RollbackTarget {
            seq,
            at: String::new(),
            watcher: "local".into(),
            image: image.into(),
            image_id: format!("sha256:{}", id.repeat(64 / id.len())),
            digest: Some(format!("sha256:{}", "d".repeat(63) + &seq.to_string())),
        }
    }

    #[test]
    fn a_second_rollback_keeps_the_newer_version_held() {
        let hold = |tag: Option<&str>| Hold {
            watcher: "local".into(),
            name: "web".into(),
            tag: tag.map(str::to_string),
            digest: None,
            by: "alice".into(),
            at: String::new(),
            reason: String::new(),
        };
        assert!(held_further(&hold(Some("1.2.0")), &hold(Some("1.1.0"))));
        assert!(!held_further(&hold(Some("1.1.0")), &hold(Some("1.2.0"))));
        assert!(!held_further(&hold(Some("1.1.0")), &hold(Some("1.1.0"))));
        assert!(held_further(&hold(None), &hold(Some("1.1.0"))));
        assert!(!held_further(&hold(Some("latest")), &hold(Some("1.1.0"))));
    }

    #[test]
    fn to_names_a_target_by_position_digest_or_tag() {
        let targets = [target(3, "app:1.4.2", "a"), target(1, "app:1.3.0", "b")];
        assert_eq!(choose(&targets, None).map(|t| t.seq), Some(3));
        assert_eq!(choose(&targets, Some("-2")).map(|t| t.seq), Some(1));
        assert_eq!(choose(&targets, Some("-3")), None);
        assert_eq!(choose(&targets, Some("-0")), None);
        assert_eq!(choose(&targets, Some("1.3.0")).map(|t| t.seq), Some(1));
        assert_eq!(
            choose(&targets, Some(&format!("sha256:{}", "b".repeat(12)))).map(|t| t.seq),
            Some(1)
        );
        assert_eq!(choose(&targets, Some("sha256:bb")), None, "too short");
        assert_eq!(choose(&targets, Some("9.9.9")), None);
    }
}
