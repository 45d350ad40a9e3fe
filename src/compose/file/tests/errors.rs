//! Refusals: each says which service and what is wrong, and nothing is rewritten.

use crate::compose::file::{ComposeError, rewrite_image};

/// The only call of `rewrite_image` here: the error for `service` → `image`, as text.
fn check(file: &str, service: &str, image: &str) -> Result<(ComposeError, String), String> {
    match rewrite_image(file, service, image) {
        Err(err) => {
            let text = err.to_string();
            if !text.starts_with(&format!("service {service}: ")) {
                return Err(format!("message does not start with the service: {text:?}"));
            }
            Ok((err, text))
        }
        Ok(ok) => Err(format!("expected an error, got {ok:?}")),
    }
}

/// (what, file, service, new image, a piece of the expected message)
const TABLE: &[(&str, &str, &str, &str, &str)] = &[
    (
        "service not in the file",
        "services:\n  web:\n    image: nginx:1.25\n",
        "api",
        "nginx:1.26",
        "not defined in this compose file",
    ),
    ("empty file", "", "web", "nginx:1.26", "not defined"),
    (
        "comments only",
        "# nothing yet\n",
        "web",
        "nginx:1.26",
        "not defined",
    ),
    (
        "services is empty",
        "services:\n",
        "web",
        "nginx:1.26",
        "not defined",
    ),
    (
        "built from source",
        "services:\n  web:\n    build: .\n    ports: [\"80:80\"]\n",
        "web",
        "nginx:1.26",
        "has no image of its own to update (built from source?)",
    ),
    (
        "image is null",
        "services:\n  web:\n    build: .\n    image: ~\n",
        "web",
        "nginx:1.26",
        "no image",
    ),
    (
        "extends another service",
        "services:\n  base:\n    image: app:1\n  web:\n    extends: base\n",
        "web",
        "app:2",
        "it extends another service",
    ),
    (
        "anchor shared by two services",
        "x-base: &base\n  image: app:1.0\n  restart: always\nservices:\n  web:\n    <<: *base\n  worker:\n    <<: *base\n",
        "web",
        "app:1.1",
        "its image comes from anchor &base, also read by service worker",
    ),
    (
        "anchor defined in another service",
        "services:\n  web: &web\n    image: app:1.0\n  web2:\n    <<: *web\n    ports: [\"81:80\"]\n",
        "web2",
        "app:1.1",
        "anchor &web, also read by service web",
    ),
    (
        "anchor defined here and read by another service",
        "services:\n  web: &web\n    image: app:1.0\n  web2:\n    <<: *web\n",
        "web",
        "app:1.1",
        "anchor &web, also read by service web2",
    ),
    (
        "whole service aliased",
        "services:\n  web: &web {image: app:1.0}\n  copy: *web\n",
        "web",
        "app:1.1",
        "anchor &web, also read by service copy",
    ),
    (
        "image scalar aliased by another service",
        "x-img: &img nginx:1.25\nservices:\n  a:\n    image: *img\n  b:\n    image: *img\n",
        "b",
        "nginx:1.26",
        "anchor &img, also read by service a",
    ),
    (
        "image scalar read elsewhere",
        "services:\n  web:\n    image: &img nginx:1.25\n  tool:\n    image: alpine:3\n    environment:\n      TARGET: *img\n",
        "web",
        "nginx:1.26",
        "anchor &img, also read by `services.tool.environment.TARGET`",
    ),
    (
        "nested anchors name the shared one",
        "x-b: &b {image: app:1}\nx-a: &a {<<: *b, restart: always}\nservices:\n  web: {<<: *a}\n  worker: {<<: *b}\n",
        "web",
        "app:2",
        "anchor &b, also read by service worker",
    ),
    (
        "anchor that refers to itself",
        "services:\n  web: &w {image: app:1, again: *w}\n",
        "web",
        "app:2",
        "anchor &w refers to itself",
    ),
    (
        "invalid YAML",
        "services:\n  web:\n    image: [nginx\n",
        "web",
        "nginx:1.26",
        "cannot read the compose file",
    ),
    (
        "several documents",
        "services:\n  web:\n    image: nginx:1.25\n---\nservices:\n  web:\n    image: nginx:1.24\n",
        "web",
        "nginx:1.26",
        "several YAML documents",
    ),
    (
        "block scalar",
        "services:\n  web:\n    image: |\n      nginx:1.25\n",
        "web",
        "nginx:1.26",
        "block scalar",
    ),
    (
        "image is a list",
        "services:\n  web:\n    image: [nginx]\n",
        "web",
        "nginx:1.26",
        "`image` is not a string",
    ),
    (
        "image twice",
        "services:\n  web:\n    image: nginx:1.24\n    image: nginx:1.25\n",
        "web",
        "nginx:1.26",
        "key `image` appears twice",
    ),
    (
        "top level is a list",
        "- web\n- db\n",
        "web",
        "nginx:1.26",
        "top level is not a mapping",
    ),
    (
        "services is a list",
        "services:\n  - web\n",
        "web",
        "nginx:1.26",
        "`services` is not a mapping",
    ),
    (
        "service is a string",
        "services:\n  web: nginx\n",
        "web",
        "nginx:1.26",
        "not a mapping",
    ),
    (
        "pinned file, new image without a digest",
        "services:\n  web:\n    image: nginx:1.25@sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef\n",
        "web",
        "nginx:1.26",
        "is pinned to a digest; the new image must carry one too",
    ),
    (
        "new image with a space",
        "services:\n  web:\n    image: nginx:1.25\n",
        "web",
        "nginx: 1.26",
        "is not an image reference: it contains ' '",
    ),
    (
        "new image empty",
        "services:\n  web:\n    image: nginx:1.25\n",
        "web",
        "",
        "it is empty",
    ),
    (
        "new image tag empty",
        "services:\n  web:\n    image: nginx:1.25\n",
        "web",
        "nginx:",
        "its tag is empty",
    ),
    (
        "new image two digests",
        "services:\n  web:\n    image: nginx\n",
        "web",
        "a@b@c",
        "digest is malformed",
    ),
];

#[test]
fn compose_errors_name_the_service_and_the_problem() {
    let mut failures = Vec::new();
    for (what, file, service, image, expected) in TABLE {
        match check(file, service, image) {
            Ok((_, text)) if text.contains(expected) => {}
            Ok((_, text)) => failures.push(format!("{what}: {text:?} lacks {expected:?}")),
            Err(problem) => failures.push(format!("{what}: {problem}")),
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

#[test]
fn compose_missing_service_is_told_apart() {
    let (err, _) = check("services:\n  web:\n    image: a:1\n", "api", "a:2").unwrap();
    assert!(err.is_missing_service());
    let (err, _) = check("services:\n  web:\n    build: .\n", "web", "a:2").unwrap();
    assert!(!err.is_missing_service());
}

#[test]
fn compose_shared_anchor_lists_every_user() {
    let file = "x-base: &base {image: app:1}\nservices:\n  a: {<<: *base}\n  b: {<<: *base}\n  c: {<<: *base}\n";
    let (err, _) = check(file, "b", "app:2").unwrap();
    assert_eq!(
        err,
        ComposeError::SharedAnchor {
            service: "b".into(),
            anchor: "base".into(),
            users: vec!["service a".into(), "service c".into()],
        }
    );
}

#[test]
fn compose_billion_laughs_is_refused_quickly() {
    let mut file = String::from("x-0: &a0 {image: app:1}\n");
    for i in 1..40 {
        let prev = i - 1;
        file.push_str(&format!(
            "x-{i}: &a{i} [*a{prev}, *a{prev}, *a{prev}, *a{prev}]\n"
        ));
    }
    file.push_str("services:\n  web:\n    <<: *a0\n");
    let started = std::time::Instant::now();
    let (_, text) = check(&file, "web", "app:2").unwrap();
    assert!(text.contains("too many aliases"), "{text}");
    assert!(started.elapsed() < std::time::Duration::from_secs(5));
}

#[test]
fn compose_deep_nesting_is_an_error_not_a_stack_overflow() {
    let deep = format!(
        "services:\n  web:\n    image: nginx:1.25\n    x: {}{}\n",
        "[".repeat(100_000),
        "]".repeat(100_000)
    );
    let (_, text) = check(&deep, "web", "nginx:1.26").unwrap();
    assert!(text.contains("cannot read the compose file"), "{text}");
}
