//! Failures the docker trigger must survive without losing the container: the old container is
//! back under its name, running, the same container (same ID), and nothing is left beside it.

use crate::fidelity::{create_by_api, update_once};
use crate::support::{Container, TestRun};
use std::net::TcpListener;

/// The container under `name` is `old`, running, on `image`, alone under that name.
#[track_caller]
fn assert_untouched(run: &TestRun, old: &Container, image: &str, out: &crate::support::Output) {
    assert_eq!(
        run.inspect(&old.name, "{{.Id}} {{.State.Running}} {{.Config.Image}}"),
        format!("{} true {image}", old.id),
        "the same container, running, on the old image: {out}"
    );
    let leftovers = run.docker(&[
        "ps",
        "--all",
        "--quiet",
        "--filter",
        &format!("name={}", old.name),
    ]);
    assert_eq!(
        leftovers.lines().count(),
        1,
        "nothing beside it: {leftovers}"
    );
}

#[test]
fn a_new_container_whose_published_port_is_taken_is_rolled_back() {
    let run = TestRun::new();
    let registry = run.registry();
    let v1 = run.push(&registry, "porter", "1.0.0");
    run.push(&registry, "porter", "1.1.0");
    let taken = TcpListener::bind("127.0.0.1:0").expect("a free port");
    let port = taken.local_addr().expect("bound").port().to_string();
    // A binding of a port the old container does not expose is not live in it (API 1.41
    // publishes exposed ports only), while its successor publishes every bound port: the new
    // container needs the port, which this test holds; the old one runs without it.
    let old = create_by_api(
        &run,
        "porter",
        &serde_json::json!({
            "Image": v1.reference,
            "HostConfig": {"PortBindings": {"9090/tcp": [{"HostIp": "127.0.0.1", "HostPort": port}]}},
        }),
    );

    let out = update_once(&old.name, &[]);
    assert!(
        out.stderr.contains("putting the old container back"),
        "{out}"
    );
    assert_untouched(&run, &old, &v1.reference, &out);
    drop(taken);
}

#[test]
fn a_pull_that_fails_touches_nothing() {
    let run = TestRun::new();
    let registry = run.registry();
    let v1 = run.push(&registry, "unpullable", "1.0.0");
    let v2 = run.push(&registry, "unpullable", "1.1.0");
    // The tag is listed and its manifest served, so the check finds it; its layer is gone,
    // so the pull fails. The engine must not have the image already, or it would not pull.
    run.docker(&["rmi", &v2.reference]);
    let (_, manifest) = registry.manifest("unpullable", "1.1.0");
    let manifest: serde_json::Value = serde_json::from_slice(&manifest).expect("JSON manifest");
    for layer in manifest["layers"].as_array().expect("layers") {
        let digest = layer["digest"].as_str().expect("a digest");
        let path = format!("/v2/unpullable/blobs/{digest}");
        let deleted = registry.request("DELETE", &path, &[]);
        assert_eq!(deleted.status, 202, "DELETE {path}: {}", deleted.text());
    }
    let old = run.run("unpullable", &v1.reference, &[]);
    let since = run
        .docker(&["system", "info", "--format", "{{.SystemTime}}"])
        .trim()
        .to_string();

    let out = update_once(&old.name, &[]);
    assert!(out.stderr.contains("pull"), "{out}");
    assert_untouched(&run, &old, &v1.reference, &out);
    let until = run
        .docker(&["system", "info", "--format", "{{.SystemTime}}"])
        .trim()
        .to_string();
    let events = run.docker(&[
        "events",
        "--since",
        &since,
        "--until",
        &until,
        "--filter",
        &format!("container={}", old.id),
        "--format",
        "{{.Action}}",
    ]);
    assert_eq!(events, "", "not even renamed or stopped: {out}");
}
