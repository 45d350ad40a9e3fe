//! The new image reference, and what of it the file should say.
//!
//! The caller passes everything it knows, `name:tag@sha256:…` when it has the digest; the
//! file's own form decides what is written, so a pinned file stays pinned and an unpinned one
//! does not start pinning:
//!
//! | the file says         | written                                   |
//! |-----------------------|-------------------------------------------|
//! | `app:1.0`, `app`      | `name:tag` (a digest given is left out)   |
//! | `app:1.0@sha256:…`    | `name:tag@digest` — a digest is required  |
//! | `app@sha256:…`        | `name@digest` — a digest is required      |
//!
//! A new image without a tag but with a digest (`app@sha256:…`) is written as given: the
//! caller asked for exactly that.

/// A new image reference, split where compose and Docker split it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) struct Reference<'a> {
    pub name: &'a str,
    pub tag: Option<&'a str>,
    pub digest: Option<&'a str>,
}

impl<'a> Reference<'a> {
    /// Reads a reference, refusing what Docker would (and anything that would need quoting
    /// or escaping in YAML or `.env`, which no reference does).
    pub(super) fn parse(image: &'a str) -> Result<Self, String> {
        if image.is_empty() {
            return Err("it is empty".into());
        }
        if let Some(bad) = image.chars().find(|c| {
            !(c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-' | '/' | ':' | '@'))
        }) {
            return Err(format!("it contains {bad:?}"));
        }
        let (name_tag, digest) = match image.split_once('@') {
            Some((_, digest)) if digest.is_empty() || digest.contains('@') => {
                return Err("its digest is malformed".into());
            }
            Some((name_tag, digest)) => (name_tag, Some(digest)),
            None => (image, None),
        };
        let (name, tag) = split_tag(name_tag);
        if name.is_empty() {
            return Err("it has no repository name".into());
        }
        if tag == Some("") {
            return Err("its tag is empty".into());
        }
        Ok(Reference { name, tag, digest })
    }

    /// `name[:tag]`.
    fn name_tag(&self) -> String {
        match self.tag {
            Some(tag) => format!("{}:{tag}", self.name),
            None => self.name.to_owned(),
        }
    }
}

/// Splits `name:tag` at the tag's colon: the last `:` after the last `/`, so a registry's
/// port (`localhost:5000/app`) is not taken for a tag.
pub(super) fn split_tag(name_tag: &str) -> (&str, Option<&str>) {
    let slash = name_tag.rfind('/').map_or(0, |i| i + 1);
    match name_tag[slash..].rfind(':') {
        Some(i) => (&name_tag[..slash + i], Some(&name_tag[slash + i + 1..])),
        None => (name_tag, None),
    }
}

/// The byte offset of the tag's colon in a reference, if it has a tag.
pub(super) fn tag_colon(reference: &str) -> Option<usize> {
    let before_digest = reference.split_once('@').map_or(reference, |(a, _)| a);
    let (name, tag) = split_tag(before_digest);
    tag.map(|_| name.len())
}

/// What the file currently shows of its form.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Form {
    /// No digest in the file's text.
    Floating,
    /// `name:tag@digest` (or a digest after variables that may hold a tag).
    Pinned,
    /// `name@digest`, no tag.
    DigestOnly,
}

impl Form {
    /// The form of a literal value.
    pub(super) fn of(current: &str) -> Form {
        match current.split_once('@') {
            None => Form::Floating,
            Some((name_tag, _)) if split_tag(name_tag).1.is_none() => Form::DigestOnly,
            Some(_) => Form::Pinned,
        }
    }
}

/// The text the file (or its variables) should say; `None` when the file pins a digest and
/// the new reference has none (dropping the pin silently is not this function's call).
pub(super) fn wanted(form: Form, new: &Reference) -> Option<String> {
    match (form, new.digest) {
        (Form::Floating, Some(digest)) if new.tag.is_none() => {
            Some(format!("{}@{digest}", new.name))
        }
        (Form::Floating, _) => Some(new.name_tag()),
        (Form::Pinned | Form::DigestOnly, None) => None,
        (Form::Pinned, Some(digest)) => Some(format!("{}@{digest}", new.name_tag())),
        (Form::DigestOnly, Some(digest)) => Some(format!("{}@{digest}", new.name)),
    }
}
