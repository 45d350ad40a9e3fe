//! Failures the docker trigger must survive without losing the container: the old container is
//! back under its name, running, the same container (same ID), and nothing is left beside it.

use crate::support::TestRun;
use crate::support::events::EventLog;
use crate::support::update::{assert_untouched, create_by_api, update_once};
use std::net::TcpListener;

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
    let container = format!("container={}", old.id);
    let recording = EventLog::start(&run, &[&container], "{{.Action}}");

    let out = update_once(&old.name, &[]);
    assert!(out.stderr.contains("pull"), "{out}");
    assert_untouched(&run, &old, &v1.reference, &out);
    let events = recording.stop();
    assert_eq!(
        events,
        Vec::<String>::new(),
        "not even renamed or stopped: {out}"
    );
}
