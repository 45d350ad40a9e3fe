//! Why a rewrite was refused. Each message names the service (or the `.env` variable) and
//! what to do, since the reader is a user looking at a log line, not at this code.

/// Why the image (or a variable) could not be rewritten. Nothing was changed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ComposeError {
    /// Not valid YAML, or not shaped like a compose file where it matters.
    #[error("service {service}: cannot read the compose file: {reason}")]
    Parse { service: String, reason: String },
    /// The file does not define the service: with several compose files, look in the others.
    #[error("service {service}: not defined in this compose file")]
    NoService { service: String },
    /// The service has no `image:` (it is built from source, or inherits through `extends`).
    #[error(
        "service {service}: has no image of its own to update{}",
        if *extends { " (it extends another service: update that one)" } else { " (built from source?)" }
    )]
    NoImage { service: String, extends: bool },
    /// The image's text is shared: changing it would change what others read too.
    #[error(
        "service {service}: its image comes from anchor &{anchor}, also read by {}; \
         changing it would change them too, so give the service its own `image:`",
        users.join(", ")
    )]
    SharedAnchor {
        service: String,
        anchor: String,
        users: Vec<String>,
    },
    /// The image's variables also spell other services' images.
    #[error(
        "service {service}: variable {variable} also sets the image of {}; \
         changing it would update them too",
        users.join(", ")
    )]
    SharedVariable {
        service: String,
        variable: String,
        users: Vec<String>,
    },
    /// The file pins a digest and the new image carries none.
    #[error(
        "service {service}: the image `{current}` is pinned to a digest; the new image must \
         carry one too (name:tag@sha256:…)"
    )]
    DigestRequired { service: String, current: String },
    /// The new image is not a reference.
    #[error("service {service}: `{image}` is not an image reference: {reason}")]
    InvalidImage {
        service: String,
        image: String,
        reason: String,
    },
    /// The image comes from variables whose new values cannot be worked out.
    #[error(
        "service {service}: the image `{template}` cannot become `{wanted}` by its variables: {reason}"
    )]
    Template {
        service: String,
        template: String,
        wanted: String,
        reason: String,
    },
    /// A shape this rewriter does not edit (a block scalar, aliases nested absurdly deep…).
    #[error("service {service}: {reason}")]
    Unsupported { service: String, reason: String },
    /// `.env` does not assign the variable (see `rewrite_env` for why this is not appended).
    #[error(
        "variable {variable} is not set in .env (it may come from the shell that ran compose); \
         add `{variable}=…` to the project's .env"
    )]
    MissingVariable { variable: String },
    /// `.env` cannot be read as compose reads it.
    #[error(".env line {line}: {reason}")]
    Env { line: usize, reason: String },
    /// The new value cannot be written in the `.env` assignment's quoting.
    #[error("variable {variable}: {reason}")]
    InvalidValue { variable: String, reason: String },
}

impl ComposeError {
    /// The file does not define the service: with several compose files, look in the others.
    pub fn is_missing_service(&self) -> bool {
        matches!(self, ComposeError::NoService { .. })
    }

    /// The file defines the service without an `image:` of its own (an override file that
    /// adds ports or variables, say): with several compose files, an earlier one sets it.
    pub fn is_missing_image(&self) -> bool {
        matches!(self, ComposeError::NoImage { .. })
    }
}
