//! Finding a service's `image:` the way compose does, and who else would see an edit to it.
//!
//! Compose reads the top-level `services:` map (the version-1 format has services at the top
//! level instead), a service's keys including those merged in with `<<: *anchor` (its own keys
//! win; among several merged maps the first wins), and follows aliases. The node found may be
//! written anywhere in the file — in an `x-` extension, in another service — so before the
//! text of that node changes, [`check_not_shared`] walks every path of the document that
//! reaches it and refuses when one of them is another service's image, or anything else that
//! compose reads.

use super::ComposeError;
use super::yaml::{Document, Kind, NodeId, Style};

/// How deep `<<` merges may nest inside one another, which also stops a merge cycle.
const MAX_MERGE_DEPTH: usize = 32;
/// How much walking through aliases is allowed before the file counts as pathological
/// ("billion laughs"): far beyond any real compose file.
const MAX_WALK_STEPS: usize = 200_000;
/// How deep one walk may go (nesting plus alias hops), so the recursion cannot exhaust the
/// stack.
const MAX_WALK_DEPTH: usize = 512;

/// Where the services are.
#[derive(Debug, Clone, Copy)]
pub(super) struct Services {
    pub map: NodeId,
    /// The version-1 format: services at the top level, no `services:` key.
    pub top_level: bool,
}

/// The node an alias points at, or the node itself.
pub(super) fn resolve(doc: &Document, mut id: NodeId) -> NodeId {
    // An anchored node is never itself an alias; the bound only guards against a parser bug.
    for _ in 0..8 {
        match doc.nodes.get(id).map(|n| &n.kind) {
            Some(Kind::Alias(target)) => id = *target,
            _ => break,
        }
    }
    id
}

/// The string of a scalar key (through an alias), if it is one.
fn key_str(doc: &Document, id: NodeId) -> Option<&str> {
    match &doc.nodes.get(resolve(doc, id))?.kind {
        Kind::Scalar { value, .. } => Some(value),
        _ => None,
    }
}

/// A merge key: a plain `<<` (a quoted `"<<"` is an ordinary key, as in go-yaml).
fn is_merge(doc: &Document, id: NodeId) -> bool {
    matches!(
        doc.nodes.get(id).map(|n| &n.kind),
        Some(Kind::Scalar { value, style: Style::Plain }) if value == "<<"
    )
}

/// A null value: empty, `~` or `null` in any of YAML's spellings.
pub(super) fn is_null(doc: &Document, id: NodeId) -> bool {
    matches!(
        doc.nodes.get(resolve(doc, id)).map(|n| &n.kind),
        Some(Kind::Scalar { value, style: Style::Plain })
            if matches!(value.as_str(), "" | "~" | "null" | "Null" | "NULL")
    )
}

fn entries(doc: &Document, id: NodeId) -> &[(NodeId, NodeId)] {
    match doc.nodes.get(resolve(doc, id)).map(|n| &n.kind) {
        Some(Kind::Mapping(entries)) => entries,
        _ => &[],
    }
}

fn is_mapping(doc: &Document, id: NodeId) -> bool {
    matches!(
        doc.nodes.get(resolve(doc, id)).map(|n| &n.kind),
        Some(Kind::Mapping(_))
    )
}

/// The maps a `<<` value merges in, in priority order.
fn merge_sources(doc: &Document, value: NodeId) -> Vec<NodeId> {
    let value = resolve(doc, value);
    match doc.nodes.get(value).map(|n| &n.kind) {
        Some(Kind::Mapping(_)) => vec![value],
        Some(Kind::Sequence(items)) => items
            .iter()
            .map(|&item| resolve(doc, item))
            .filter(|&item| is_mapping(doc, item))
            .collect(),
        _ => Vec::new(),
    }
}

/// The value of `key` in a mapping, merges included, as compose sees it. Two entries of the
/// same key in one mapping are an error, as they are for compose.
pub(super) fn lookup(
    doc: &Document,
    map: NodeId,
    key: &str,
    service: &str,
) -> Result<Option<NodeId>, ComposeError> {
    lookup_at(doc, map, key, service, 0)
}

fn lookup_at(
    doc: &Document,
    map: NodeId,
    key: &str,
    service: &str,
    depth: usize,
) -> Result<Option<NodeId>, ComposeError> {
    if depth > MAX_MERGE_DEPTH {
        return Err(ComposeError::Unsupported {
            service: service.to_owned(),
            reason: "`<<` merges nest too deeply (or refer to themselves)".into(),
        });
    }
    let entries = entries(doc, map);
    let mut own = entries
        .iter()
        .filter(|(k, _)| !is_merge(doc, *k) && key_str(doc, *k) == Some(key));
    if let Some(&(_, value)) = own.next() {
        if own.next().is_some() {
            return Err(ComposeError::Parse {
                service: service.to_owned(),
                reason: format!("key `{key}` appears twice in one mapping"),
            });
        }
        return Ok(Some(value));
    }
    for &(k, v) in entries {
        if !is_merge(doc, k) {
            continue;
        }
        for source in merge_sources(doc, v) {
            if let Some(found) = lookup_at(doc, source, key, service, depth + 1)? {
                return Ok(Some(found));
            }
        }
    }
    Ok(None)
}

/// The keys of a mapping, merged ones included (each name once, the winning entry's).
fn keys(doc: &Document, map: NodeId, depth: usize, out: &mut Vec<String>) {
    if depth > MAX_MERGE_DEPTH {
        return;
    }
    for &(k, v) in entries(doc, map) {
        if is_merge(doc, k) {
            for source in merge_sources(doc, v) {
                keys(doc, source, depth + 1, out);
            }
        } else if let Some(name) = key_str(doc, k)
            && !out.iter().any(|seen| seen == name)
        {
            out.push(name.to_owned());
        }
    }
}

/// The services map: `services:`, or the top level for the version-1 format.
pub(super) fn services(doc: &Document, service: &str) -> Result<Services, ComposeError> {
    let Some(root) = doc.root else {
        return Err(ComposeError::NoService {
            service: service.to_owned(),
        });
    };
    if is_null(doc, root) {
        return Err(ComposeError::NoService {
            service: service.to_owned(),
        });
    }
    if !is_mapping(doc, root) {
        return Err(ComposeError::Parse {
            service: service.to_owned(),
            reason: "the top level is not a mapping".into(),
        });
    }
    match lookup(doc, root, "services", service)? {
        Some(value) if is_mapping(doc, value) => Ok(Services {
            map: resolve(doc, value),
            top_level: false,
        }),
        Some(value) if is_null(doc, value) => Err(ComposeError::NoService {
            service: service.to_owned(),
        }),
        Some(_) => Err(ComposeError::Parse {
            service: service.to_owned(),
            reason: "`services` is not a mapping".into(),
        }),
        None => Ok(Services {
            map: resolve(doc, root),
            top_level: true,
        }),
    }
}

/// Every service name, in file order.
pub(super) fn service_names(doc: &Document, services: Services) -> Vec<String> {
    let mut names = Vec::new();
    keys(doc, services.map, 0, &mut names);
    if services.top_level {
        // Version-1 files have no `version:`; a file that has one and no `services:` still
        // does not make `version` a service.
        names.retain(|name| name != "version" && !name.starts_with("x-"));
    }
    names
}

/// The scalar node that is the service's image (aliases followed). Errors say why there is
/// none: no such service, a service built from source, an image that is not a string.
pub(super) fn image(
    doc: &Document,
    services: Services,
    service: &str,
) -> Result<NodeId, ComposeError> {
    let no_image = |extends: bool| ComposeError::NoImage {
        service: service.to_owned(),
        extends,
    };
    let Some(definition) = lookup(doc, services.map, service, service)? else {
        return Err(ComposeError::NoService {
            service: service.to_owned(),
        });
    };
    if is_null(doc, definition) {
        return Err(no_image(false));
    }
    if !is_mapping(doc, definition) {
        return Err(ComposeError::Parse {
            service: service.to_owned(),
            reason: "its definition is not a mapping".into(),
        });
    }
    let Some(value) = lookup(doc, definition, "image", service)? else {
        let extends = lookup(doc, definition, "extends", service)?.is_some();
        return Err(no_image(extends));
    };
    if is_null(doc, value) {
        return Err(no_image(false));
    }
    let value = resolve(doc, value);
    match doc.nodes.get(value).map(|n| &n.kind) {
        Some(Kind::Scalar {
            style: Style::Block,
            ..
        }) => Err(ComposeError::Unsupported {
            service: service.to_owned(),
            reason: "the image is a block scalar (`|` or `>`)".into(),
        }),
        Some(Kind::Scalar { .. }) => Ok(value),
        _ => Err(ComposeError::Parse {
            service: service.to_owned(),
            reason: "`image` is not a string".into(),
        }),
    }
}

/// The image text of every service that has one, for checks that an edit touched only one.
pub(super) fn all_images(doc: &Document, services: Services) -> Vec<(String, Option<String>)> {
    service_names(doc, services)
        .into_iter()
        .map(|name| {
            let value = image(doc, services, &name).ok().and_then(|id| {
                match doc.nodes.get(id).map(|n| &n.kind) {
                    Some(Kind::Scalar { value, .. }) => Some(value.clone()),
                    _ => None,
                }
            });
            (name, value)
        })
        .collect()
}

/// One step of a path from the top of the document.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Seg {
    Key(String),
    /// A `<<` key (its sequence index, if any, follows as `Index`).
    Merge,
    Index(usize),
    /// A key that is not a string, or the key side of an entry.
    Other,
}

/// A path that reaches the image node, and the anchored nodes it entered through aliases.
#[derive(Debug)]
struct Walk {
    path: Vec<Seg>,
    via: Vec<NodeId>,
}

/// Refuses when the image node is also read by another service, or by anything else compose
/// reads (only `x-` extension fields, which compose ignores, may hold it besides the service).
pub(super) fn check_not_shared(
    doc: &Document,
    services: Services,
    service: &str,
    target: NodeId,
) -> Result<(), ComposeError> {
    let Some(root) = doc.root else { return Ok(()) };
    let reaches = reaching(doc, target, service)?;
    let mut walker = Walker {
        doc,
        reaches: &reaches,
        target,
        steps: 0,
        walks: Vec::new(),
        path: Vec::new(),
        via: Vec::new(),
        service,
    };
    walker.walk(root, 0)?;
    let walks = walker.walks;

    let mut mine: Option<&Walk> = None;
    let mut others: Vec<(String, &Walk)> = Vec::new();
    for walk in &walks {
        match classify(doc, services, &walk.path, target) {
            Use::Extension | Use::Overridden => {}
            Use::Service(name) if name == service => {
                mine.get_or_insert(walk);
            }
            Use::Service(name) => others.push((format!("service {name}"), walk)),
            Use::Elsewhere(path) => others.push((format!("`{path}`"), walk)),
        }
    }
    let Some((_, first)) = others.first() else {
        return Ok(());
    };
    let mut users: Vec<String> = Vec::new();
    for (user, _) in &others {
        if !users.contains(user) {
            users.push(user.clone());
        }
    }
    let anchor = shared_anchor(
        doc,
        mine.map(|w| w.via.as_slice()).unwrap_or(&[]),
        &first.via,
    );
    Err(ComposeError::SharedAnchor {
        service: service.to_owned(),
        anchor,
        users,
    })
}

/// The anchor to name: the outermost one both paths go through, or else the one that leads
/// to the image on either path.
fn shared_anchor(doc: &Document, mine: &[NodeId], theirs: &[NodeId]) -> String {
    let common = mine
        .iter()
        .rev()
        .zip(theirs.iter().rev())
        .take_while(|(a, b)| a == b)
        .count();
    let pick = if common > 0 {
        mine.get(mine.len() - common)
    } else {
        mine.last().or(theirs.last())
    };
    pick.and_then(|&id| doc.nodes.get(id)?.anchor.clone())
        .unwrap_or_else(|| "?".into())
}

/// What a path to the image node means to compose.
enum Use {
    /// Inside a top-level `x-` field: a definition compose ignores.
    Extension,
    /// This service's image (merges included).
    Service(String),
    /// A service's `<<`-merged image that its own `image:` (or an earlier merge) overrides.
    Overridden,
    /// Anything else: a value compose reads, which the edit would change too.
    Elsewhere(String),
}

fn classify(doc: &Document, services: Services, path: &[Seg], target: NodeId) -> Use {
    if let Some(Seg::Key(first)) = path.first()
        && first.starts_with("x-")
    {
        return Use::Extension;
    }
    // Merges do not change what a path means: `services.web.<<.image` is web's image.
    let mut plain: Vec<&Seg> = Vec::new();
    let mut after_merge = false;
    for seg in path {
        match seg {
            Seg::Merge => after_merge = true,
            Seg::Index(_) if after_merge => after_merge = false,
            other => {
                after_merge = false;
                plain.push(other);
            }
        }
    }
    let name = match (services.top_level, plain.as_slice()) {
        (false, [Seg::Key(s), Seg::Key(name), Seg::Key(image)])
            if s == "services" && image == "image" =>
        {
            Some(name)
        }
        (true, [Seg::Key(name), Seg::Key(image)]) if image == "image" => Some(name),
        _ => None,
    };
    match name {
        Some(name) => match image(doc, services, name) {
            Ok(id) if id == target => Use::Service(name.clone()),
            _ => Use::Overridden,
        },
        None => Use::Elsewhere(render(path)),
    }
}

/// A path as a reader would write it: `services.worker.environment.IMAGE`.
fn render(path: &[Seg]) -> String {
    let mut out = String::new();
    for seg in path {
        match seg {
            Seg::Key(key) => {
                if !out.is_empty() {
                    out.push('.');
                }
                out.push_str(key);
            }
            Seg::Merge => out.push_str(".<<"),
            Seg::Index(i) => out.push_str(&format!("[{i}]")),
            Seg::Other => out.push_str(".?"),
        }
    }
    out
}

/// Which nodes lead to the target, aliases followed: walks descend only into those. Computed
/// by repeated passes, since an alias points back at an earlier node.
fn reaching(doc: &Document, target: NodeId, service: &str) -> Result<Vec<bool>, ComposeError> {
    let mut reaches = vec![false; doc.nodes.len()];
    if let Some(slot) = reaches.get_mut(target) {
        *slot = true;
    }
    for _ in 0..64 {
        let mut changed = false;
        for id in (0..doc.nodes.len()).rev() {
            if reaches[id] {
                continue;
            }
            let hit = match &doc.nodes[id].kind {
                Kind::Scalar { .. } => false,
                Kind::Alias(to) => reaches.get(*to).copied().unwrap_or(false),
                Kind::Sequence(items) => items.iter().any(|&i| reaches[i]),
                Kind::Mapping(entries) => entries.iter().any(|&(k, v)| reaches[k] || reaches[v]),
            };
            if hit {
                reaches[id] = true;
                changed = true;
            }
        }
        if !changed {
            return Ok(reaches);
        }
    }
    Err(ComposeError::Unsupported {
        service: service.to_owned(),
        reason: "aliases nest too deeply to tell who shares the image".into(),
    })
}

struct Walker<'a> {
    doc: &'a Document,
    reaches: &'a [bool],
    target: NodeId,
    steps: usize,
    walks: Vec<Walk>,
    path: Vec<Seg>,
    via: Vec<NodeId>,
    service: &'a str,
}

impl Walker<'_> {
    fn too_much(&self, reason: &str) -> ComposeError {
        ComposeError::Unsupported {
            service: self.service.to_owned(),
            reason: reason.to_owned(),
        }
    }

    fn walk(&mut self, id: NodeId, depth: usize) -> Result<(), ComposeError> {
        if !self.reaches.get(id).copied().unwrap_or(false) {
            return Ok(());
        }
        self.steps += 1;
        if self.steps > MAX_WALK_STEPS || depth > MAX_WALK_DEPTH {
            return Err(self.too_much("too many aliases lead to the image to check who shares it"));
        }
        if id == self.target {
            self.walks.push(Walk {
                path: self.path.clone(),
                via: self.via.clone(),
            });
            return Ok(());
        }
        let doc = self.doc;
        match &doc.nodes[id].kind {
            Kind::Scalar { .. } => {}
            Kind::Alias(to) => {
                if self.via.contains(to) {
                    let name = doc.nodes[*to].anchor.clone().unwrap_or_default();
                    return Err(self.too_much(&format!("anchor &{name} refers to itself")));
                }
                self.via.push(*to);
                self.walk(*to, depth + 1)?;
                self.via.pop();
            }
            Kind::Sequence(items) => {
                for (i, &item) in items.iter().enumerate() {
                    self.path.push(Seg::Index(i));
                    self.walk(item, depth + 1)?;
                    self.path.pop();
                }
            }
            Kind::Mapping(entries) => {
                for &(k, v) in entries {
                    let seg = if is_merge(doc, k) {
                        Seg::Merge
                    } else {
                        key_str(doc, k).map_or(Seg::Other, |s| Seg::Key(s.to_owned()))
                    };
                    self.path.push(Seg::Other);
                    self.walk(k, depth + 1)?;
                    self.path.pop();
                    self.path.push(seg);
                    self.walk(v, depth + 1)?;
                    self.path.pop();
                }
            }
        }
        Ok(())
    }
}
