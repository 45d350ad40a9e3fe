//! Which containers an update touches, and in what order: pure, so every rule is unit-tested.
//!
//! A container depends on another through a legacy link (`HostConfig.Links`), a `depends-on`
//! label (ours or Watchtower's), compose's `com.docker.compose.depends_on`, or by sharing its
//! network stack (`NetworkMode: container:<name-or-id>`). When a container is updated, every
//! container that depends on it, directly or not, must be stopped before it and started after
//! it: the plan lists them all, dependencies first, and stopping goes the other way. This is
//! Watchtower's behaviour (`SortByDependencies`, `UpdateImplicitRestart`), with three
//! differences, each deliberate:
//!
//! - A dependency cycle skips only the containers in it, with the cycle as the reason;
//!   Watchtower abandons the whole update.
//! - Links and the network container count even when a `depends-on` label is set; Watchtower
//!   then ignores them, yet a link is no less a dependency for being unlabelled.
//! - Compose's own `depends_on` is read, within the compose project.
//!
//! One plan is for one Docker host: names are unique only there. Give it every container of
//! the host, not only the watched ones, or an unwatched dependent is left pointing at a
//! container that is gone.

use std::collections::btree_map::Entry;
use std::collections::{BTreeMap, BTreeSet, VecDeque};

/// Our label: the containers this one depends on, comma-separated names.
pub const DEPENDS_ON: &str = "tidewatch.depends-on";
/// Watchtower's spelling of [`DEPENDS_ON`]; ours wins where both are set, as in `labels.rs`.
pub const WATCHTOWER_DEPENDS_ON: &str = "com.centurylinklabs.watchtower.depends-on";
/// Set by Docker Compose: `service:condition:restart,…`, naming compose *services*.
pub const COMPOSE_DEPENDS_ON: &str = "com.docker.compose.depends_on";
/// Set by Docker Compose: the service a container belongs to.
pub const COMPOSE_SERVICE: &str = "com.docker.compose.service";
/// Set by Docker Compose: the project a container belongs to; service names are unique only
/// within it.
pub const COMPOSE_PROJECT: &str = "com.docker.compose.project";

/// Shortest ID prefix accepted for a `container:` network mode: Docker's short ID. A shorter
/// hex string is more likely a name (`db`, `cafe`) than an ID.
const MIN_ID_PREFIX: usize = 12;

/// One container of the host, as the plan needs it.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Node {
    pub id: String,
    /// Without Docker's leading `/`.
    pub name: String,
    /// Container names from `HostConfig.Links` (`/db:/web/db` → `db`).
    pub links: Vec<String>,
    /// Container names from the `depends-on` label (ours, else Watchtower's).
    pub depends_on: Vec<String>,
    /// Compose *service* names from `com.docker.compose.depends_on`; the plan maps them to
    /// containers of the same project, since one container cannot see the others.
    pub compose_depends_on: Vec<String>,
    /// The container whose network stack this one shares (`NetworkMode: container:<x>`), by
    /// name or ID as Docker stored it.
    pub network_container: Option<String>,
    pub labels: BTreeMap<String, String>,
    /// Has an update to apply.
    pub updating: bool,
}

impl From<crate::docker::lifecycle::Wiring> for Node {
    fn from(w: crate::docker::lifecycle::Wiring) -> Node {
        Node::from_parts(w.id, &w.name, &w.links, &w.network_mode, w.labels)
    }
}

impl Node {
    /// A node from inspect data, not updating; set [`Node::updating`] for those that are.
    pub fn from_parts(
        id: impl Into<String>,
        name: &str,
        host_links: &[String],
        network_mode: &str,
        labels: BTreeMap<String, String>,
    ) -> Node {
        let links = host_links
            .iter()
            .filter_map(|link| container_name(link.split(':').next().unwrap_or("")))
            .collect();
        let depends_on = [DEPENDS_ON, WATCHTOWER_DEPENDS_ON]
            .into_iter()
            .find_map(|label| labels.get(label))
            .map(|value| value.split(',').filter_map(container_name).collect())
            .unwrap_or_default();
        let compose_depends_on = labels
            .get(COMPOSE_DEPENDS_ON)
            .map(|value| {
                value
                    .split(',')
                    .filter_map(|entry| {
                        let service = entry.split(':').next().unwrap_or("").trim();
                        (!service.is_empty()).then(|| service.to_string())
                    })
                    .collect()
            })
            .unwrap_or_default();
        let network_container = network_mode
            .trim()
            .strip_prefix("container:")
            .and_then(container_name);
        Node {
            id: id.into(),
            name: name.trim().trim_start_matches('/').to_string(),
            links,
            depends_on,
            compose_depends_on,
            network_container,
            labels,
            updating: false,
        }
    }

    fn compose_project(&self) -> Option<&str> {
        self.labels.get(COMPOSE_PROJECT).map(String::as_str)
    }

    fn compose_service(&self) -> Option<&str> {
        self.labels.get(COMPOSE_SERVICE).map(String::as_str)
    }
}

/// A name as written in a link, label or network mode: trimmed, Docker's leading `/` dropped.
fn container_name(raw: &str) -> Option<String> {
    let name = raw.trim().trim_start_matches('/');
    (!name.is_empty()).then(|| name.to_string())
}

/// What an update of a host's containers does, container by container (all by ID).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Plan {
    /// Every container to touch, each after the ones it depends on; ties by name, so the same
    /// containers always give the same order. The order to start them in.
    pub order: Vec<String>,
    /// `order` reversed: dependents stop before what they depend on.
    pub stop_order: Vec<String>,
    /// Touched without an update of their own: they depend, directly or not, on one that is
    /// updated, so they are stopped and started again around it (keeping their ID).
    pub restart: BTreeSet<String>,
    /// Touched containers that share the network stack of one whose ID changes (updated, or
    /// itself re-created for this reason): they must be re-created with `NetworkMode`
    /// pointing at its successor, a restart is not enough. May include updated ones.
    pub recreate_for_network: BTreeSet<String>,
    /// Containers in a dependency cycle that the update would have touched, with the reason
    /// naming the cycle; they are left alone and everything else proceeds.
    pub skipped: Vec<(String, String)>,
    /// Dependencies that were ignored (no such container, duplicate names): worth a log line,
    /// never fatal.
    pub notes: Vec<String>,
}

/// Where a dependency was declared, for notes.
#[derive(Debug, Clone, Copy)]
enum Source {
    Link,
    Label,
    Compose,
    Network,
}

impl Source {
    fn describe(self) -> &'static str {
        match self {
            Source::Link => "link",
            Source::Label => "depends-on label",
            Source::Compose => "compose depends_on",
            Source::Network => "network mode container:",
        }
    }
}

/// Plans the update of one host's containers; see [`Plan`].
pub fn plan(nodes: &[Node]) -> Plan {
    // Sorted by name, then ID, so that index order is the tie-break order and the plan does
    // not depend on the order Docker listed the containers in.
    let mut nodes: Vec<&Node> = nodes.iter().collect();
    nodes.sort_by(|a, b| (&a.name, &a.id).cmp(&(&b.name, &b.id)));
    let mut notes = Vec::new();
    let mut note = |text: String| {
        if !notes.contains(&text) {
            notes.push(text);
        }
    };

    let mut by_name: BTreeMap<&str, usize> = BTreeMap::new();
    for (i, node) in nodes.iter().enumerate() {
        if by_name.insert(&node.name, i).is_some() {
            note(format!(
                "two containers are named {}; dependencies on that name are ambiguous",
                node.name
            ));
        }
    }

    // deps[i]: what container i depends on.
    let mut deps: Vec<BTreeSet<usize>> = vec![BTreeSet::new(); nodes.len()];
    // The container whose network stack i shares, when it is here.
    let mut network: Vec<Option<usize>> = vec![None; nodes.len()];
    for (i, node) in nodes.iter().enumerate() {
        let mut missing = |dep: &str, source: Source| {
            note(format!(
                "{} depends on {dep} ({}), which is not a container here; ignored",
                node.name,
                source.describe()
            ));
        };
        let named = node
            .links
            .iter()
            .map(|name| (name, Source::Link))
            .chain(node.depends_on.iter().map(|name| (name, Source::Label)));
        for (name, source) in named {
            match by_name.get(name.as_str()) {
                Some(&j) if j != i => {
                    deps[i].insert(j);
                }
                Some(_) => {} // A link to itself means nothing.
                None => missing(name, source),
            }
        }
        for service in &node.compose_depends_on {
            let project = node.compose_project();
            let found: Vec<usize> = (0..nodes.len())
                .filter(|&j| {
                    project.is_some()
                        && nodes[j].compose_project() == project
                        && nodes[j].compose_service() == Some(service.as_str())
                })
                .collect();
            if found.is_empty() {
                missing(service, Source::Compose);
            }
            deps[i].extend(found.into_iter().filter(|&j| j != i));
        }
        if let Some(target) = &node.network_container {
            match resolve_network(&nodes, &by_name, target) {
                Some(j) if j != i => {
                    deps[i].insert(j);
                    network[i] = Some(j);
                }
                Some(_) => {}
                None => missing(target, Source::Network),
            }
        }
    }

    let cycles: Vec<Option<Vec<usize>>> =
        (0..nodes.len()).map(|i| cycle_through(&deps, i)).collect();
    let mut dependents: Vec<BTreeSet<usize>> = vec![BTreeSet::new(); nodes.len()];
    for (i, ds) in deps.iter().enumerate() {
        for &j in ds {
            dependents[j].insert(i);
        }
    }

    // What the update would touch if cycles were no obstacle: the cycle members among these
    // are skipped. Then what it does touch: no cycle member, nor anything reached through one.
    let updating = |i: &usize| nodes[*i].updating;
    let would_touch = closure(&dependents, (0..nodes.len()).filter(updating), |_| true);
    let skipped = would_touch
        .iter()
        .filter_map(|&i| {
            let cycle = cycles[i].as_ref()?;
            let names: Vec<&str> = cycle.iter().map(|&j| nodes[j].name.as_str()).collect();
            Some((
                nodes[i].id.clone(),
                format!("dependency cycle: {}", names.join(" → ")),
            ))
        })
        .collect();
    let free = |i: usize| cycles[i].is_none();
    let touched = closure(
        &dependents,
        (0..nodes.len()).filter(updating).filter(|&i| free(i)),
        free,
    );

    // Kahn's algorithm over the touched containers; the ready set is ordered by index, that is
    // by name. Every dependency of a touched container that is itself touched comes first; no
    // cycle is left among them, so all are placed.
    let mut waiting: BTreeMap<usize, usize> = touched
        .iter()
        .map(|&i| (i, deps[i].iter().filter(|j| touched.contains(j)).count()))
        .collect();
    let mut ready: BTreeSet<usize> = waiting
        .iter()
        .filter(|(_, count)| **count == 0)
        .map(|(&i, _)| i)
        .collect();
    let mut order = Vec::with_capacity(touched.len());
    while let Some(i) = ready.pop_first() {
        order.push(i);
        for &k in &dependents[i] {
            if let Some(count) = waiting.get_mut(&k) {
                *count -= 1;
                if *count == 0 {
                    ready.insert(k);
                }
            }
        }
    }
    debug_assert_eq!(
        order.len(),
        touched.len(),
        "a cycle among touched containers"
    );

    // In start order, so a network supplier is decided before the containers sharing it.
    let mut recreate: BTreeSet<usize> = BTreeSet::new();
    for &i in &order {
        if let Some(s) = network[i]
            && touched.contains(&s)
            && (nodes[s].updating || recreate.contains(&s))
        {
            recreate.insert(i);
        }
    }

    let id = |i: &usize| nodes[*i].id.clone();
    let order: Vec<String> = order.iter().map(id).collect();
    Plan {
        stop_order: order.iter().rev().cloned().collect(),
        order,
        restart: touched
            .iter()
            .filter(|&&i| !nodes[i].updating)
            .map(id)
            .collect(),
        recreate_for_network: recreate.iter().map(id).collect(),
        skipped,
        notes,
    }
}

/// The container a `container:` network mode names: by name, by full ID, or by a unique ID
/// prefix of at least a short ID's length.
fn resolve_network(
    nodes: &[&Node],
    by_name: &BTreeMap<&str, usize>,
    target: &str,
) -> Option<usize> {
    if let Some(&i) = by_name.get(target) {
        return Some(i);
    }
    if let Some(i) = nodes.iter().position(|n| n.id == target) {
        return Some(i);
    }
    if target.len() < MIN_ID_PREFIX {
        return None;
    }
    let mut prefixed = (0..nodes.len()).filter(|&i| nodes[i].id.starts_with(target));
    match (prefixed.next(), prefixed.next()) {
        (Some(i), None) => Some(i),
        _ => None,
    }
}

/// The shortest cycle of dependencies from `start` back to it (`[start, …, start]`), if any;
/// breadth-first over ordered sets, so the same graph gives the same cycle.
fn cycle_through(deps: &[BTreeSet<usize>], start: usize) -> Option<Vec<usize>> {
    let mut parent: BTreeMap<usize, usize> = BTreeMap::new();
    let mut queue = VecDeque::from([start]);
    while let Some(i) = queue.pop_front() {
        for &j in &deps[i] {
            if j == start {
                let mut path = vec![start, i];
                let mut at = i;
                while at != start {
                    at = parent[&at];
                    path.push(at);
                }
                path.reverse();
                // Built backwards from the edge i → start, so it now reads start → … → i → start.
                return Some(path);
            }
            if let Entry::Vacant(slot) = parent.entry(j) {
                slot.insert(i);
                queue.push_back(j);
            }
        }
    }
    None
}

/// `seeds` and every container that depends on one of them, directly or not, following only
/// containers `allowed` admits.
fn closure(
    dependents: &[BTreeSet<usize>],
    seeds: impl Iterator<Item = usize>,
    allowed: impl Fn(usize) -> bool,
) -> BTreeSet<usize> {
    let mut reached: BTreeSet<usize> = BTreeSet::new();
    let mut stack: Vec<usize> = seeds.collect();
    while let Some(i) = stack.pop() {
        if reached.insert(i) {
            stack.extend(dependents[i].iter().copied().filter(|&k| allowed(k)));
        }
    }
    reached
}

#[cfg(test)]
mod tests;
