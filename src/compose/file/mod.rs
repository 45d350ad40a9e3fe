//! Changing one service's image in a compose file, and nothing else.
//!
//! Users keep `docker-compose.yml` in git with comments, anchors, their own quoting and key
//! order; a serde round-trip would rewrite all of that. So the edit is surgical: the file is
//! parsed (saphyr-parser, which reports where each scalar is), the service's `image:` node is
//! found as compose finds it, and only that scalar's characters are replaced. Comments, key
//! order, anchors, indentation, LF or CRLF line ends, trailing blanks, `---`/`...` markers and
//! a byte-order mark stay byte for byte. Every edit is parsed again before it is returned:
//! the service must read the new image and every other service the image it had.
//!
//! # Contract
//!
//! [`rewrite_image`]`(text, service, new_image)` answers with a [`Rewrite`]:
//!
//! - [`Rewrite::File`]: the new text of the compose file.
//! - [`Rewrite::Variables`]: the image is spelt with variables (`app:${APP_TAG}`,
//!   `${IMAGE}`, `${REG:-docker.io}/app:${TAG:-1.0}`); these variables must get these values,
//!   which the caller writes to the project's `.env` with [`rewrite_env`]. The values are
//!   worked out by matching the template against the new image, and must be unique. The file's
//!   own text is not changed. Variables are returned even when `.env` may already hold those
//!   values, since this function does not see `.env` (`rewrite_env` then changes nothing) —
//!   except a variable in the repository name whose default already is its value
//!   (`${REG:-docker.io}` for a `docker.io/…` image), which is usually not in `.env` at all.
//! - [`Rewrite::Unchanged`]: the file already says the new image.
//!
//! `new_image` is a reference as the file should spell it (`nginx:1.26`,
//! `ghcr.io/org/app:2.0`). Pass its digest too whenever it is known
//! (`app:1.1@sha256:…`): the file's form decides what is written (see the table in `image.rs`).
//! A pinned `app:1.0@sha256:…` becomes `app:1.1@sha256:<new>` (both parts change); a
//! digest-only `app@sha256:…` becomes `app@sha256:<new>`; an unpinned `app:1.0` becomes
//! `app:1.1` and does not start pinning. A pinned file with a new image that has no digest is
//! refused ([`ComposeError::DigestRequired`]) rather than silently unpinned.
//!
//! For an image spelt with variables, the template's literal text decides the same way:
//! `app:${TAG}@${DIGEST}` is pinned and gets both; `app:${TAG}` or `${IMAGE}` shows no pin,
//! so the variables get `name:tag` — a pin kept inside a variable's value in `.env` is not
//! visible here and is dropped.
//!
//! The value keeps its quoting (plain, `'single'`, `"double"`), escaped as that style needs.
//! Services are found in `services:` (compose v2/v3 and the Compose Specification) or at the
//! top level (the version-1 format); block or flow mappings alike; keys merged with
//! `<<: *anchor` count as compose counts them.
//!
//! Refused, with an error that names the service: a service that is not in the file or has no
//! `image:` (build only, or `extends`); an image whose text is also read by another service
//! (an anchor merged into several services, `image: *shared`) — changing it would change them
//! too — unless only this service reads it; variables that also spell another service's
//! image; templates whose variables cannot be solved uniquely; block scalars; files with
//! several YAML documents. No input panics.
//!
//! What is deliberately absent: no I/O (the caller reads and writes files atomically), no
//! knowledge of `.env` in `rewrite_image` and of the compose file in `rewrite_env`, and no
//! "append the missing variable" (see `env.rs`).

mod env;
mod error;
mod image;
mod locate;
mod quote;
mod template;
mod yaml;

#[cfg(test)]
mod tests;

pub use env::rewrite_env;
pub use error::ComposeError;

use image::{Form, Reference};
use locate::Services;
use yaml::{Document, Kind};

/// What changes so the service runs the new image.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Rewrite {
    /// The file already says the new image.
    Unchanged,
    /// The compose file's new text.
    File(String),
    /// The image comes from variables: set these to these values in `.env`, in this order.
    Variables(Vec<(String, String)>),
}

/// Changes the image of `service` to `new_image` in the compose file `text`. See the module
/// documentation for the contract.
pub fn rewrite_image(text: &str, service: &str, new_image: &str) -> Result<Rewrite, ComposeError> {
    let new = Reference::parse(new_image).map_err(|reason| ComposeError::InvalidImage {
        service: service.to_owned(),
        image: new_image.to_owned(),
        reason,
    })?;
    let doc = yaml::parse(text).map_err(|reason| ComposeError::Parse {
        service: service.to_owned(),
        reason,
    })?;
    let services = locate::services(&doc, service)?;
    let node = locate::image(&doc, services, service)?;
    locate::check_not_shared(&doc, services, service, node)?;
    let Some(Kind::Scalar { value, style }) = doc.nodes.get(node).map(|n| &n.kind) else {
        // locate::image returns scalars only; an error rather than a panic all the same.
        return Err(ComposeError::Parse {
            service: service.to_owned(),
            reason: "`image` is not a string".into(),
        });
    };
    let (value, style) = (value.as_str(), *style);
    let template_error = |wanted: &str, reason: String| ComposeError::Template {
        service: service.to_owned(),
        template: value.to_owned(),
        wanted: wanted.to_owned(),
        reason,
    };
    let parts = template::parse(value).map_err(|reason| template_error(new_image, reason))?;

    let Some(current) = template::literal(&parts) else {
        let wanted = image::wanted(template::form(&parts), &new).ok_or_else(|| {
            ComposeError::DigestRequired {
                service: service.to_owned(),
                current: value.to_owned(),
            }
        })?;
        let vars =
            template::solve(&parts, &wanted).map_err(|reason| template_error(&wanted, reason))?;
        if vars.is_empty() {
            return Ok(Rewrite::Unchanged);
        }
        check_variables_not_shared(&doc, services, service, &vars)?;
        return Ok(Rewrite::Variables(vars));
    };

    let wanted =
        image::wanted(Form::of(&current), &new).ok_or_else(|| ComposeError::DigestRequired {
            service: service.to_owned(),
            current: current.clone(),
        })?;
    if wanted == current {
        return Ok(Rewrite::Unchanged);
    }
    let (start, end) = yaml::token(&doc, text, node).ok_or_else(|| ComposeError::Unsupported {
        service: service.to_owned(),
        reason: "cannot find the image value's characters in the text".into(),
    })?;
    // A literal `$` would read as a variable: compose spells it `$$`.
    let written = quote::render(&wanted.replace('$', "$$"), style, doc.nodes[node].flow);
    let mut out = String::with_capacity(text.len() + written.len());
    out.push_str(&text[..start]);
    out.push_str(&written);
    out.push_str(&text[end..]);
    verify(&doc, services, &out, service, &wanted)?;
    Ok(Rewrite::File(out))
}

/// Refuses variables that other services' images use too: setting them would update those
/// services behind the caller's back.
fn check_variables_not_shared(
    doc: &Document,
    services: Services,
    service: &str,
    vars: &[(String, String)],
) -> Result<(), ComposeError> {
    for (variable, _) in vars {
        let users: Vec<String> = locate::all_images(doc, services)
            .into_iter()
            .filter(|(name, _)| name != service)
            .filter_map(|(name, image)| {
                let parts = template::parse(&image?).ok()?;
                template::names(&parts)
                    .contains(&variable.as_str())
                    .then(|| format!("service {name}"))
            })
            .collect();
        if !users.is_empty() {
            return Err(ComposeError::SharedVariable {
                service: service.to_owned(),
                variable: variable.clone(),
                users,
            });
        }
    }
    Ok(())
}

/// Parses the edited text again: the service must read `wanted`, every other service what it
/// read before. A failure here is a bug in this module, reported instead of a damaged file.
fn verify(
    before: &Document,
    services: Services,
    out: &str,
    service: &str,
    wanted: &str,
) -> Result<(), ComposeError> {
    let broken = |what: String| ComposeError::Unsupported {
        service: service.to_owned(),
        reason: format!("the edited file would not read back as intended ({what}); left unchanged"),
    };
    let after = yaml::parse(out).map_err(broken)?;
    let services_after = locate::services(&after, service)?;
    let node = locate::image(&after, services_after, service)?;
    let read = match &after.nodes[node].kind {
        Kind::Scalar { value, .. } => template::parse(value)
            .ok()
            .and_then(|p| template::literal(&p)),
        _ => None,
    };
    if read.as_deref() != Some(wanted) {
        return Err(broken(format!("it reads {read:?}")));
    }
    let others = |doc: &Document, services: Services| {
        let mut images = locate::all_images(doc, services);
        images.retain(|(name, _)| name != service);
        images
    };
    if others(before, services) != others(&after, services_after) {
        return Err(broken("another service's image changed".into()));
    }
    Ok(())
}
