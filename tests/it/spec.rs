//! The recreate spec (`docker::spec`) against the real engine: a container is set up with the
//! `docker` CLI, its inspect and its image's read back as `docker inspect` prints them, and its
//! successor created from the spec over bollard, as the update executor does. Whether anything
//! was lost is judged by `docker inspect` again, never by the crate.

use crate::support::{Container, ImageSpec, RUN_LABEL, TestRun};
use bollard::Docker;
use bollard::models::{ContainerInspectResponse, ImageInspect, NetworkConnectRequest};
use bollard::query_parameters::CreateContainerOptions;
use serde::de::DeserializeOwned;
use serde_json::Value;
use tidewatch::docker::spec::{self, Recreate};

/// `docker <kind> inspect <target>`, parsed into bollard's model as the engine would give it.
fn inspect<T: DeserializeOwned>(run: &TestRun, kind: &str, target: &str) -> T {
    let out = run.docker(&[kind, "inspect", target]);
    let mut all: Vec<T> = serde_json::from_str(&out)
        .unwrap_or_else(|err| panic!("docker {kind} inspect is not bollard's model: {err}"));
    assert_eq!(all.len(), 1, "one {kind} inspected");
    all.remove(0)
}

/// Creates the successor of a container from `spec`, named `<run>-<what>`, connects its other
/// networks and starts it, over bollard: what the update executor will do.
async fn create_from(run: &TestRun, spec: &Recreate, what: &str) -> Container {
    let docker = Docker::connect_with_local_defaults()
        .expect("bollard client")
        .negotiate_version()
        .await
        .expect("the engine answers");
    let name = run.name(what);
    let mut body = spec.body.clone();
    // The images carry the run label too; set here as well so that cleanup cannot miss it.
    body.labels
        .get_or_insert_default()
        .insert(RUN_LABEL.to_string(), run.id().to_string());
    let options = CreateContainerOptions {
        name: Some(name.clone()),
        ..Default::default()
    };
    let created = docker
        .create_container(Some(options), body)
        .await
        .unwrap_or_else(|err| panic!("create from the spec: {err}\n{:#?}", spec.body));
    for attachment in &spec.connect {
        let request = NetworkConnectRequest {
            container: created.id.clone(),
            endpoint_config: Some(attachment.endpoint.clone()),
        };
        docker
            .connect_network(&attachment.network, request)
            .await
            .unwrap_or_else(|err| panic!("connect {}: {err}", attachment.network));
    }
    docker
        .start_container(&created.id, None)
        .await
        .unwrap_or_else(|err| panic!("start the new container: {err}"));
    Container {
        name,
        id: created.id,
    }
}

#[tokio::test]
async fn a_container_recreated_from_its_spec_on_the_same_image_loses_nothing() {
    let run = TestRun::new();
    let image = run.build(
        &format!("{}:1", run.name("spec")),
        &ImageSpec::version("1")
            .change("ENV APP_MODE=one")
            .change("LABEL app.version=1")
            .change("EXPOSE 80"),
    );
    let (front, prefix) = run.network_with_subnet("front");
    let back = run.network("back");
    let ip = format!("{prefix}.10");
    let old = run.run_with(
        "old",
        &[
            "-e",
            "FOO=1",
            "--label",
            "user.label=yes",
            "--network",
            &front,
            "--ip",
            &ip,
            "--network-alias",
            "web",
            "-p",
            "127.0.0.1::80",
            "--restart",
            "unless-stopped",
        ],
        &image.reference,
        &[],
    );
    run.docker(&["network", "connect", "--alias", "second", &back, &old.id]);

    let container: ContainerInspectResponse = inspect(&run, "container", &old.id);
    let old_image: ImageInspect = inspect(&run, "image", &image.id);
    let spec = spec::recreate(&container, &old_image, &image.reference, None)
        .expect("the engine's inspect is complete");
    assert_eq!(spec.name, old.name);
    // Its successor takes over the static IP: the executor stops the old one first.
    run.stop(&old);
    let new = create_from(&run, &spec, "new").await;

    // Config: all of it, but the hostname, which is each container's own short ID.
    let config = |c: &Container| {
        let mut config = run.inspect_json(&c.id, ".Config");
        assert_eq!(config["Hostname"], &c.id[..12], "the engine's hostname");
        config["Hostname"] = Value::Null;
        config
    };
    let old_config = config(&old);
    assert_eq!(config(&new), old_config);
    assert_eq!(
        old_config["Env"],
        serde_json::json!(["FOO=1", "PATH=/bin", "APP_MODE=one"]),
        "the scene is what the test meant"
    );
    assert_eq!(old_config["Labels"]["user.label"], "yes");

    // HostConfig: all of it (ports, restart policy, network mode, …).
    let host_config = run.inspect_json(&new.id, ".HostConfig");
    assert_eq!(host_config, run.inspect_json(&old.id, ".HostConfig"));
    assert_eq!(host_config["RestartPolicy"]["Name"], "unless-stopped");
    assert_eq!(host_config["NetworkMode"], front.as_str());
    let port = run.port(&new, "80/tcp");
    assert!(port > 0, "80/tcp published on 127.0.0.1");

    // Networks: the same ones, each with the user's aliases and the static IP.
    let old_networks = run.inspect_json(&old.id, ".NetworkSettings.Networks");
    let new_networks = run.inspect_json(&new.id, ".NetworkSettings.Networks");
    let names = |networks: &Value| {
        let mut names: Vec<String> = networks
            .as_object()
            .expect("networks")
            .keys()
            .cloned()
            .collect();
        names.sort();
        names
    };
    let mut expected = vec![front.clone(), back.clone()];
    expected.sort();
    assert_eq!(names(&new_networks), expected);
    assert_eq!(names(&old_networks), expected);
    for network in [&front, &back] {
        assert_eq!(
            aliases_of(&new_networks, network),
            aliases_of(&old_networks, network),
            "aliases on {network}, but the engine's"
        );
        assert!(
            !new_networks[network.as_str()]["Aliases"]
                .as_array()
                .expect("aliases")
                .iter()
                .any(|alias| alias == &old.id[..12]),
            "the old ID is not carried on {network}"
        );
        // `null` and `{}` both say that no address was asked for.
        let ipam = |networks: &Value| match &networks[network.as_str()]["IPAMConfig"] {
            Value::Null => serde_json::json!({}),
            ipam => ipam.clone(),
        };
        assert_eq!(
            ipam(&new_networks),
            ipam(&old_networks),
            "IPAM config on {network}"
        );
    }
    assert_eq!(new_networks[&front]["IPAddress"], ip.as_str());
    assert_eq!(
        new_networks[&front]["IPAMConfig"]["IPv4Address"],
        ip.as_str()
    );
    assert_eq!(aliases_of(&new_networks, &front), ["web"]);
    assert_eq!(aliases_of(&new_networks, &back), ["second"]);
}

/// The aliases on `network`, less the engine's (12 hex digits: a short container ID).
fn aliases_of(networks: &Value, network: &str) -> Vec<String> {
    networks[network]["Aliases"]
        .as_array()
        .expect("aliases")
        .iter()
        .filter_map(Value::as_str)
        .filter(|alias| !(alias.len() == 12 && alias.chars().all(|c| c.is_ascii_hexdigit())))
        .map(str::to_string)
        .collect()
}

#[tokio::test]
async fn on_a_new_image_the_images_defaults_follow_it_and_the_users_settings_stay() {
    let run = TestRun::new();
    let repo = run.name("spec");
    let v1 = run.build(
        &format!("{repo}:1"),
        &ImageSpec::version("1")
            .cmd(&["sleep", "3601"])
            .change("ENV APP_MODE=one")
            .change("ENV SHARED=one")
            .change("LABEL app.version=1")
            .change("WORKDIR /tmp"),
    );
    let v2 = run.build(
        &format!("{repo}:2"),
        &ImageSpec::version("2")
            .cmd(&["sleep", "3602"])
            .change("ENV APP_MODE=two")
            .change("ENV SHARED=two")
            .change("LABEL app.version=2")
            .change("WORKDIR /bin"),
    );
    let old = run.run_with(
        "old",
        &["-e", "SHARED=mine", "--label", "user.label=yes"],
        &v1.reference,
        &[],
    );
    let container: ContainerInspectResponse = inspect(&run, "container", &old.id);
    let old_image: ImageInspect = inspect(&run, "image", &v1.id);
    let spec = spec::recreate(&container, &old_image, &v2.reference, None)
        .expect("the engine's inspect is complete");
    run.stop(&old);
    let new = create_from(&run, &spec, "new").await;

    let config = run.inspect_json(&new.id, ".Config");
    let mut env: Vec<&str> = config["Env"]
        .as_array()
        .expect("env")
        .iter()
        .filter_map(Value::as_str)
        .collect();
    env.sort();
    assert_eq!(env, ["APP_MODE=two", "PATH=/bin", "SHARED=mine"]);
    assert_eq!(config["Labels"]["user.label"], "yes");
    assert_eq!(config["Labels"]["app.version"], "2");
    assert_eq!(config["Cmd"], serde_json::json!(["sleep", "3602"]));
    assert_eq!(config["WorkingDir"], "/bin");
    assert_eq!(config["Image"], v2.reference.as_str());
    assert_eq!(run.inspect(&new.id, "{{.Image}}"), v2.id);
    assert_eq!(run.inspect(&new.id, "{{.State.Running}}"), "true");
}
