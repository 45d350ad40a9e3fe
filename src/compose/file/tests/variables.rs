//! Images spelt with variables: which variables must change to what, worked out backwards
//! from the new image; the compose file itself is never rewritten for them.

use crate::compose::file::{ComposeError, Rewrite, rewrite_image};

/// The only call of `rewrite_image` here: `image:` of service `app` is `template`.
fn check(template: &str, new_image: &str) -> Result<Rewrite, ComposeError> {
    let file = format!(
        "services:\n  app:\n    image: \"{template}\" # from .env\n  db:\n    image: postgres:16\n"
    );
    rewrite_image(&file, "app", new_image)
}

/// Variables and their values.
type Vars = &'static [(&'static str, &'static str)];

fn vars(pairs: &[(&str, &str)]) -> Rewrite {
    Rewrite::Variables(
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect(),
    )
}

#[test]
fn compose_variable_solutions() {
    let table: &[(&str, &str, Vars)] = &[
        ("app:${APP_TAG}", "app:1.5.0", &[("APP_TAG", "1.5.0")]),
        ("${IMAGE}", "nginx:1.26", &[("IMAGE", "nginx:1.26")]),
        (
            "$REGISTRY/app:$TAG",
            "ghcr.io/acme/app:2.0",
            &[("REGISTRY", "ghcr.io/acme"), ("TAG", "2.0")],
        ),
        // The registry's default stays out: it is what the new image says, and not in .env.
        (
            "${REG:-docker.io}/app:${TAG:-1.0}",
            "docker.io/app:1.5",
            &[("TAG", "1.5")],
        ),
        (
            "${REG:-docker.io}/app:${TAG:-1.0}",
            "ghcr.io/acme/app:1.5",
            &[("REG", "ghcr.io/acme"), ("TAG", "1.5")],
        ),
        // A tag equal to its default is still set: .env may hold another value.
        ("app:${TAG:-1.5}", "app:1.5", &[("TAG", "1.5")]),
        ("app:${TAG:?set TAG in .env}", "app:1.6", &[("TAG", "1.6")]),
        ("app:${TAG-latest}", "app:1.6", &[("TAG", "1.6")]),
        // The literal `:` is the tag's: the registry's port stays in IMAGE.
        (
            "${IMAGE}:${TAG}",
            "registry:5000/app:1.5",
            &[("IMAGE", "registry:5000/app"), ("TAG", "1.5")],
        ),
        (
            "localhost:5000/app:${TAG}",
            "localhost:5000/app:1.5",
            &[("TAG", "1.5")],
        ),
        // A default with a variable inside still leaves the outer one to set.
        ("app:${TAG:-${DEFAULT_TAG}}", "app:2", &[("TAG", "2")]),
        // The same variable twice must take one value.
        (
            "acme/${NAME}:${NAME}-v${V}",
            "acme/web:web-v3",
            &[("NAME", "web"), ("V", "3")],
        ),
        // Pinned templates take tag and digest; unpinned ones drop a digest given.
        (
            "app:${TAG}@${DIGEST}",
            "app:1.5@sha256:abcd",
            &[("TAG", "1.5"), ("DIGEST", "sha256:abcd")],
        ),
        ("app:${TAG}", "app:1.5@sha256:abcd", &[("TAG", "1.5")]),
        (
            "app@${DIGEST}",
            "app:1.5@sha256:abcd",
            &[("DIGEST", "sha256:abcd")],
        ),
    ];
    let mut failures = Vec::new();
    for (template, new_image, expected) in table {
        let got = check(template, new_image);
        if got != Ok(vars(expected)) {
            failures.push(format!(
                "{template} / {new_image}: expected {expected:?}, got {got:?}"
            ));
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

#[test]
fn compose_variables_that_cannot_spell_the_image_are_refused() {
    let table: &[(&str, &str, &str)] = &[
        ("${A}${B}", "app:1.5", "ambiguous"),
        ("${REG}/${NAME}", "ghcr.io/acme/app", "ambiguous"),
        ("app:${TAG}", "other:1.5", "no values"),
        ("app:${TAG}", "app", "no values"),
        ("app:${TAG:+1.0}", "app:1.5", "alternative"),
        ("app:$", "app:1.5", "starts no variable"),
        ("app:${TAG", "app:1.5", "never closed"),
        ("app:${}", "app:1.5", "names no variable"),
        ("app:${TAG!}", "app:1.5", "neither"),
    ];
    let mut failures = Vec::new();
    for (template, new_image, expected) in table {
        match check(template, new_image) {
            Err(err @ ComposeError::Template { .. }) => {
                let text = err.to_string();
                if !text.contains(expected) || !text.starts_with("service app: ") {
                    failures.push(format!("{template}: message {text:?} lacks {expected:?}"));
                }
            }
            other => failures.push(format!(
                "{template}: expected a template error, got {other:?}"
            )),
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

#[test]
fn compose_pinned_template_needs_a_digest() {
    let got = check("app:${TAG}@${DIGEST}", "app:1.5");
    assert!(
        matches!(got, Err(ComposeError::DigestRequired { .. })),
        "{got:?}"
    );
}

#[test]
fn compose_variable_shared_with_another_service_is_refused() {
    let file = "services:\n\
                \x20 web:\n\
                \x20   image: acme/web:${VERSION}\n\
                \x20 worker:\n\
                \x20   image: acme/worker:${VERSION}\n\
                \x20 db:\n\
                \x20   image: postgres:${PG_TAG}\n";
    let err = rewrite_image(file, "web", "acme/web:2.0").unwrap_err();
    assert_eq!(
        err.to_string(),
        "service web: variable VERSION also sets the image of service worker; changing it would update them too"
    );
    // A variable of its own is fine.
    assert_eq!(
        rewrite_image(file, "db", "postgres:17"),
        Ok(vars(&[("PG_TAG", "17")]))
    );
}

#[test]
fn compose_variables_in_a_shared_anchor_are_refused() {
    let file =
        "x-app: &app {image: \"acme/app:${TAG}\"}\nservices:\n  a: {<<: *app}\n  b: {<<: *app}\n";
    let err = rewrite_image(file, "a", "acme/app:2").unwrap_err();
    assert!(
        matches!(&err, ComposeError::SharedAnchor { anchor, .. } if anchor == "app"),
        "{err:?}"
    );
}
