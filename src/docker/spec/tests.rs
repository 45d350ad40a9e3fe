//! Each rule of the recreate spec, on inspect data captured from a real engine (Docker 20.10,
//! API 1.41) with `docker inspect`: `container.json` is a container run as
//!
//! ```text
//! docker run -d --name app --label user.label=yes -e FOO=1 -e APP_MODE=prod \
//!   --network front --ip 172.31.250.10 --ip6 fd00:7a7e::10 --network-alias web \
//!   -p 127.0.0.1::80 -p 127.0.0.1::8080 --restart unless-stopped --health-interval 10s \
//!   -v /cache example/app:1.0
//! docker network connect --alias second back app
//! ```
//!
//! and `image.json` its image (`ENV PATH=/bin APP_MODE=prod`, `LABEL app.version=1.0
//! maintainer=…`, `EXPOSE 80`, `VOLUME /data`, `WORKDIR /tmp`, `CMD sleep 3600`, a
//! healthcheck every 30s). Each test patches them (JSON merge patch: `null` removes a field).

use super::*;
use serde_json::{Value, json};

const CONTAINER: &str = include_str!("container.json");
const IMAGE: &str = include_str!("image.json");
const ID: &str = "bff35c1418f8973a2777ceea77bd63d5f984b0bd7f1fa24ddad95a82cc86c8e0";
const SHORT: &str = "bff35c1418f8";
const NEW: &str = "example/app:2.0";

/// RFC 7396: objects merge key by key, `null` removes, anything else replaces.
fn merge(base: &mut Value, patch: Value) {
    match (base, patch) {
        (Value::Object(base), Value::Object(patch)) => {
            for (key, value) in patch {
                if value.is_null() {
                    base.remove(&key);
                } else {
                    merge(base.entry(key).or_insert(Value::Null), value);
                }
            }
        }
        (base, patch) => *base = patch,
    }
}

fn patched<T: serde::de::DeserializeOwned>(json: &str, patch: Value) -> T {
    let mut value: Value = serde_json::from_str(json).expect("fixture is JSON");
    merge(&mut value, patch);
    serde_json::from_value(value).expect("fixture deserialises into bollard's model")
}

fn container(patch: Value) -> ContainerInspectResponse {
    patched(CONTAINER, patch)
}

fn image(patch: Value) -> ImageInspect {
    patched(IMAGE, patch)
}

/// The one place that calls [`recreate`].
fn check_with(container_patch: Value, image_patch: Value, mac: Option<&str>) -> Recreate {
    recreate(&container(container_patch), &image(image_patch), NEW, mac)
        .expect("the fixture is complete")
}

fn check(container_patch: Value, image_patch: Value) -> Recreate {
    check_with(container_patch, image_patch, None)
}

/// The endpoint given at create: its network and settings.
fn primary(spec: &Recreate) -> Option<(&str, &EndpointSettings)> {
    let endpoints = spec
        .body
        .networking_config
        .as_ref()?
        .endpoints_config
        .as_ref()?;
    assert!(
        endpoints.len() <= 1,
        "one endpoint at create: {endpoints:?}"
    );
    endpoints.iter().next().map(|(n, e)| (n.as_str(), e))
}

fn host_config(spec: &Recreate) -> &HostConfig {
    spec.body.host_config.as_ref().expect("a host config")
}

fn strings(list: &[&str]) -> Option<Vec<String>> {
    Some(list.iter().map(|s| s.to_string()).collect())
}

// --- Config ---

#[test]
fn image_is_the_new_reference_and_the_name_loses_its_slash() {
    let spec = check(json!({}), json!({}));
    assert_eq!(spec.body.image.as_deref(), Some(NEW));
    assert_eq!(spec.name, "app");
}

#[test]
fn env_from_the_old_image_is_reset_and_the_users_kept() {
    let spec = check(
        json!({"Config": {"Env": ["FOO=1", "APP_MODE=dev", "PATH=/bin", "EMPTY="]}}),
        json!({}),
    );
    // PATH=/bin is the image's: the new image's PATH applies. APP_MODE=dev overrides it.
    assert_eq!(spec.body.env, strings(&["FOO=1", "APP_MODE=dev", "EMPTY="]));

    // Set by the user to exactly the image's value, it cannot be told apart and follows the
    // image (the fixture was run with `-e APP_MODE=prod`).
    let spec = check(json!({}), json!({}));
    assert_eq!(spec.body.env, strings(&["FOO=1"]));

    let spec = check(json!({"Config": {"Env": ["PATH=/bin"]}}), json!({}));
    assert_eq!(spec.body.env, None);
}

#[test]
fn labels_from_the_old_image_are_dropped_and_the_users_kept() {
    let spec = check(
        json!({"Config": {"Labels": {"maintainer": "me@example.org", "user.label": null}}}),
        json!({}),
    );
    // `maintainer` has the user's value, not the image's: kept, and it wins over the new
    // image's at create.
    let labels = spec.body.labels.expect("user labels");
    assert_eq!(
        labels,
        HashMap::from([("maintainer".to_string(), "me@example.org".to_string())])
    );

    let spec = check(json!({}), json!({}));
    let labels = spec.body.labels.expect("user labels");
    assert_eq!(
        labels,
        HashMap::from([("user.label".to_string(), "yes".to_string())])
    );

    let spec = check(
        json!({"Config": {"Labels": {"user.label": null}}}),
        json!({}),
    );
    assert_eq!(spec.body.labels, None);
}

#[test]
fn entrypoint_and_cmd_from_the_image_are_reset() {
    let spec = check(
        json!({"Config": {"Entrypoint": ["/bin/sh", "-c"], "Cmd": ["sleep 9"]}}),
        json!({"Config": {"Entrypoint": ["/bin/sh", "-c"], "Cmd": ["sleep 9"]}}),
    );
    assert_eq!(spec.body.entrypoint, None);
    assert_eq!(spec.body.cmd, None);

    // The fixture: no entrypoint, the image's CMD.
    let spec = check(json!({}), json!({}));
    assert_eq!(spec.body.entrypoint, None);
    assert_eq!(spec.body.cmd, None);
}

#[test]
fn a_users_cmd_is_kept_when_the_entrypoint_came_from_the_image() {
    let spec = check(json!({"Config": {"Cmd": ["sleep", "100"]}}), json!({}));
    assert_eq!(spec.body.entrypoint, None);
    assert_eq!(spec.body.cmd, strings(&["sleep", "100"]));
}

#[test]
fn a_users_entrypoint_keeps_cmd_even_when_it_equals_the_images() {
    // `--entrypoint` makes the engine ignore the image's CMD: the CMD shown is the user's.
    let spec = check(
        json!({"Config": {"Entrypoint": ["/bin/sh"], "Cmd": ["sleep", "3600"]}}),
        json!({}),
    );
    assert_eq!(spec.body.entrypoint, strings(&["/bin/sh"]));
    assert_eq!(spec.body.cmd, strings(&["sleep", "3600"]));

    // And an entrypoint without a command stays without one.
    let spec = check(
        json!({"Config": {"Entrypoint": ["/bin/sh"], "Cmd": null}}),
        json!({}),
    );
    assert_eq!(spec.body.entrypoint, strings(&["/bin/sh"]));
    assert_eq!(spec.body.cmd, None);
}

#[test]
fn working_dir_user_and_stop_signal_reset_when_the_images_kept_when_the_users() {
    let image_patch = json!({"Config": {"User": "app", "StopSignal": "SIGQUIT"}});
    let spec = check(
        json!({"Config": {"User": "app", "StopSignal": "SIGQUIT"}}),
        image_patch.clone(),
    );
    assert_eq!(spec.body.working_dir, None, "/tmp is the image's");
    assert_eq!(spec.body.user, None);
    assert_eq!(spec.body.stop_signal, None);

    let spec = check(
        json!({"Config": {"WorkingDir": "/srv", "User": "1000:1000", "StopSignal": "SIGINT"}}),
        image_patch,
    );
    assert_eq!(spec.body.working_dir.as_deref(), Some("/srv"));
    assert_eq!(spec.body.user.as_deref(), Some("1000:1000"));
    assert_eq!(spec.body.stop_signal.as_deref(), Some("SIGINT"));

    // Empty is unset, whatever the image says.
    let spec = check(json!({"Config": {"User": ""}}), json!({}));
    assert_eq!(spec.body.user, None);
}

#[test]
fn healthcheck_keeps_only_the_fields_the_user_set() {
    // The fixture: `--health-interval 10s` on an image checking every 30s.
    let spec = check(json!({}), json!({}));
    assert_eq!(
        spec.body.healthcheck,
        Some(HealthConfig {
            interval: Some(10_000_000_000),
            ..Default::default()
        })
    );

    let spec = check(
        json!({"Config": {"Healthcheck": {"Interval": 30_000_000_000_i64}}}),
        json!({}),
    );
    assert_eq!(spec.body.healthcheck, None, "all of it is the image's");

    let spec = check(
        json!({"Config": {"Healthcheck": {"Test": ["NONE"], "Interval": 30_000_000_000_i64}}}),
        json!({}),
    );
    assert_eq!(
        spec.body.healthcheck,
        Some(HealthConfig {
            test: strings(&["NONE"]),
            ..Default::default()
        }),
        "--no-healthcheck is the user's"
    );

    // An image without a healthcheck: all of it is the user's.
    let spec = check(json!({}), json!({"Config": {"Healthcheck": null}}));
    let health = spec.body.healthcheck.expect("the user's healthcheck");
    assert_eq!(health.test, strings(&["CMD", "true"]));
    assert_eq!(health.retries, Some(3));
}

#[test]
fn volumes_and_exposed_ports_of_the_image_are_dropped_and_published_ports_stay_exposed() {
    let spec = check(json!({}), json!({}));
    assert_eq!(
        spec.body.volumes,
        strings(&["/cache"]),
        "/data is the image's"
    );
    // 80 is the image's but published: it stays exposed, in case the new image stops
    // exposing it (the engine publishes only exposed ports).
    assert_eq!(spec.body.exposed_ports, strings(&["80/tcp", "8080/tcp"]));

    let spec = check(
        json!({
            "Config": {"ExposedPorts": {"8080/tcp": null, "9000/udp": {}}},
            "HostConfig": {"PortBindings": null},
        }),
        json!({}),
    );
    assert_eq!(spec.body.exposed_ports, strings(&["9000/udp"]));

    let spec = check(
        json!({
            "Config": {"ExposedPorts": {"8080/tcp": null}, "Volumes": {"/cache": null}},
            "HostConfig": {"PortBindings": null},
        }),
        json!({}),
    );
    assert_eq!(spec.body.exposed_ports, None);
    assert_eq!(spec.body.volumes, None);
}

#[test]
fn the_rest_of_config_is_kept() {
    let spec = check(
        json!({"Config": {"Tty": true, "OpenStdin": true, "StopTimeout": 30}}),
        json!({}),
    );
    assert_eq!(spec.body.tty, Some(true));
    assert_eq!(spec.body.open_stdin, Some(true));
    assert_eq!(spec.body.stop_timeout, Some(30));
}

// --- Hostname ---

#[test]
fn the_engines_hostname_is_dropped_and_a_users_kept() {
    let spec = check(json!({}), json!({}));
    assert_eq!(spec.body.hostname, None, "{SHORT} is the engine's default");
    assert_eq!(spec.body.domainname, None);

    let spec = check(
        json!({"Config": {"Hostname": "db1", "Domainname": "example.org"}}),
        json!({}),
    );
    assert_eq!(spec.body.hostname.as_deref(), Some("db1"));
    assert_eq!(spec.body.domainname.as_deref(), Some("example.org"));
}

// --- HostConfig ---

#[test]
fn host_config_is_kept_with_links_in_the_form_create_takes() {
    let original = container(json!({
        "HostConfig": {
            "Binds": ["/srv/app:/srv:ro", "appdata:/var/lib/app"],
            "Links": ["/db:/app/db", "/cache:/app/redis", "queue:mq"],
            "CapAdd": ["NET_ADMIN"],
            "Memory": 268435456,
        },
    }));
    let spec = recreate(&original, &image(json!({})), NEW, None).expect("complete");
    let host = host_config(&spec);
    assert_eq!(host.links, strings(&["db:db", "cache:redis", "queue:mq"]));
    let mut expected = original.host_config.clone().expect("fixture has one");
    expected.links = host.links.clone();
    assert_eq!(host, &expected, "all else as it was");
    assert_eq!(
        host.restart_policy.as_ref().and_then(|p| p.name),
        Some(bollard::models::RestartPolicyNameEnum::UNLESS_STOPPED)
    );
    let bindings = host.port_bindings.as_ref().expect("port bindings");
    assert_eq!(bindings.len(), 2);
    assert_eq!(
        bindings["80/tcp"].as_ref().expect("a binding")[0]
            .host_ip
            .as_deref(),
        Some("127.0.0.1")
    );
}

// --- Networks ---

#[test]
fn the_primary_network_is_given_at_create_and_the_others_connected_after_by_name() {
    let extra = |alias: &str| json!({"Aliases": [alias, SHORT], "NetworkID": "f".repeat(64)});
    let spec = check(
        json!({"NetworkSettings": {"Networks": {"zeta": extra("z"), "alpha": extra("a")}}}),
        json!({}),
    );
    let (network, _) = primary(&spec).expect("a primary endpoint");
    assert_eq!(network, "front");
    assert_eq!(host_config(&spec).network_mode.as_deref(), Some("front"));
    let order: Vec<&str> = spec.connect.iter().map(|a| a.network.as_str()).collect();
    assert_eq!(order, ["alpha", "back", "zeta"]);
    assert_eq!(spec.connect[0].endpoint.aliases, strings(&["a"]));
}

#[test]
fn aliases_lose_the_old_containers_id() {
    let spec = check(
        json!({"NetworkSettings": {"Networks": {"front": {"Aliases": ["web", SHORT, ID, "web"]}}}}),
        json!({}),
    );
    let (_, endpoint) = primary(&spec).expect("a primary endpoint");
    assert_eq!(endpoint.aliases, strings(&["web"]));
    assert_eq!(spec.connect[0].endpoint.aliases, strings(&["second"]));

    let spec = check(
        json!({"NetworkSettings": {"Networks": {"front": {"Aliases": [SHORT]}}}}),
        json!({}),
    );
    assert_eq!(primary(&spec).expect("primary").1.aliases, None);
}

#[test]
fn static_addresses_and_endpoint_options_are_kept_and_runtime_fields_dropped() {
    let spec = check(
        json!({"NetworkSettings": {"Networks": {
            "front": {
                "IPAMConfig": {"LinkLocalIPs": ["169.254.10.10"]},
                "Links": ["db:db"],
                "DriverOpts": {"com.example.opt": "1"},
                "DNSNames": ["app", SHORT, "web"],
            },
        }}}),
        json!({}),
    );
    let (_, endpoint) = primary(&spec).expect("a primary endpoint");
    assert_eq!(
        endpoint,
        &EndpointSettings {
            ipam_config: Some(EndpointIpamConfig {
                ipv4_address: Some("172.31.250.10".into()),
                ipv6_address: Some("fd00:7a7e::10".into()),
                link_local_ips: strings(&["169.254.10.10"]),
            }),
            links: strings(&["db:db"]),
            aliases: strings(&["web"]),
            driver_opts: Some(HashMap::from([("com.example.opt".into(), "1".into())])),
            ..Default::default()
        },
        "no NetworkID, EndpointID, Gateway, IPAddress, IPv6Gateway, MacAddress, DNSNames…"
    );
    // `IPAMConfig: {}` and `DriverOpts: {}` of `back` are nothing the user set.
    assert_eq!(
        spec.connect[0].endpoint,
        EndpointSettings {
            aliases: strings(&["second"]),
            ..Default::default()
        }
    );
}

#[test]
fn a_mac_address_is_kept_only_when_configured() {
    // Every endpoint shows a MAC, mostly generated: none is carried on its own.
    let spec = check(json!({}), json!({}));
    assert_eq!(primary(&spec).expect("primary").1.mac_address, None);
    assert!(
        spec.connect
            .iter()
            .all(|a| a.endpoint.mac_address.is_none())
    );

    let spec = check_with(json!({}), json!({}), Some("02:42:ac:1f:fa:99"));
    assert_eq!(
        primary(&spec).expect("primary").1.mac_address.as_deref(),
        Some("02:42:ac:1f:fa:99")
    );
    assert!(
        spec.connect
            .iter()
            .all(|a| a.endpoint.mac_address.is_none()),
        "Config.MacAddress is the primary network's"
    );

    let spec = check_with(json!({}), json!({}), Some(""));
    assert_eq!(primary(&spec).expect("primary").1.mac_address, None);
}

#[test]
fn the_primary_network_may_be_named_by_id() {
    let id = "56a6ba59f5cc6eb9f34c958adbb28afd1538f9253a5e8de32f9793a8f6e58350";
    for mode in [id, &id[..12]] {
        let spec = check(json!({"HostConfig": {"NetworkMode": mode}}), json!({}));
        assert_eq!(primary(&spec).expect("primary").0, "front", "{mode}");
        assert_eq!(spec.connect.len(), 1);
    }
}

#[test]
fn the_default_network_is_the_bridge() {
    let bridge = json!({"Aliases": null, "IPAMConfig": null, "NetworkID": "b".repeat(64)});
    let spec = check(
        json!({
            "HostConfig": {"NetworkMode": "default"},
            "NetworkSettings": {"Networks": {"front": null, "back": null, "bridge": bridge}},
        }),
        json!({}),
    );
    let (network, endpoint) = primary(&spec).expect("primary");
    assert_eq!(network, "bridge");
    assert_eq!(endpoint, &EndpointSettings::default());
    assert_eq!(host_config(&spec).network_mode.as_deref(), Some("default"));
    assert!(spec.connect.is_empty());
}

#[test]
fn a_container_off_its_primary_network_keeps_the_networks_it_is_on() {
    let spec = check(
        json!({"NetworkSettings": {"Networks": {"front": null, "mid": {"Aliases": ["m"]}}}}),
        json!({}),
    );
    assert_eq!(host_config(&spec).network_mode.as_deref(), Some("back"));
    assert_eq!(primary(&spec).expect("primary").0, "back");
    let order: Vec<&str> = spec.connect.iter().map(|a| a.network.as_str()).collect();
    assert_eq!(order, ["mid"]);

    // On no network at all: the mode stays, nothing else to do.
    let spec = check(json!({"NetworkSettings": {"Networks": null}}), json!({}));
    assert_eq!(host_config(&spec).network_mode.as_deref(), Some("front"));
    assert_eq!(primary(&spec), None);
    assert!(spec.connect.is_empty());
}

#[test]
fn container_network_mode_has_no_networks_no_hostname_no_ports_and_follows_its_target() {
    // As the engine shows `--network container:app` for another container: its hostname is
    // the target's, its exposed ports the image's.
    let target = "0952cae55c87aa7c3ed21b4e2b1f67ad49ac0c2d0da1d2d1a6d0ab1a1c6dd0a0";
    let patch = json!({
        "Id": target,
        "Name": "/sidecar",
        "Config": {"Hostname": SHORT, "ExposedPorts": {"8080/tcp": null}},
        "HostConfig": {"NetworkMode": format!("container:{ID}"), "PortBindings": null},
        "NetworkSettings": {"Networks": {"front": null, "back": null}},
    });
    let mut spec = check(patch, json!({}));
    assert_eq!(spec.body.hostname, None);
    assert_eq!(spec.body.exposed_ports, None);
    assert_eq!(primary(&spec), None);
    assert!(spec.connect.is_empty());
    assert_eq!(spec.network_container(), Some(ID));

    let new_id = "c".repeat(64);
    assert!(!spec.follow_network_container(&"d".repeat(64), "/other", &new_id));
    assert_eq!(spec.network_container(), Some(ID));
    assert!(spec.follow_network_container(ID, "/app", &new_id));
    assert_eq!(
        host_config(&spec).network_mode,
        Some(format!("container:{new_id}"))
    );

    // Named by name or short ID, as a user may have written it.
    for written in ["app", "/app", SHORT] {
        let mut spec = check(
            json!({"HostConfig": {"NetworkMode": format!("container:{written}")}}),
            json!({}),
        );
        assert!(
            spec.follow_network_container(ID, "app", &new_id),
            "{written}"
        );
        assert_eq!(spec.network_container(), Some(new_id.as_str()));
    }
}

#[test]
fn host_and_none_modes_have_no_endpoints() {
    for (mode, network) in [("host", "host"), ("none", "none")] {
        let mut networks = json!({"front": null, "back": null});
        networks[network] = json!({"NetworkID": "e".repeat(64), "Aliases": null});
        let mut spec = check_with(
            json!({
                "Config": {"Hostname": "vm"},
                "HostConfig": {"NetworkMode": mode, "PortBindings": null},
                "NetworkSettings": {"Networks": networks},
            }),
            json!({}),
            Some("02:42:ac:1f:fa:99"),
        );
        assert_eq!(primary(&spec), None, "{mode}");
        assert!(spec.connect.is_empty(), "{mode}");
        assert_eq!(host_config(&spec).network_mode.as_deref(), Some(mode));
        assert_eq!(spec.network_container(), None);
        assert!(!spec.follow_network_container(ID, "app", "x"));
        // The host's name in host mode cannot be told from a user's here: kept.
        assert_eq!(spec.body.hostname.as_deref(), Some("vm"));
    }
}

// --- Incomplete inspect data ---

#[test]
fn inspect_data_without_what_a_create_needs_is_an_error() {
    for (field, patch) in [
        ("Id", json!({"Id": null})),
        ("Id", json!({"Id": ""})),
        ("Name", json!({"Name": null})),
        ("Name", json!({"Name": "/"})),
        ("Config", json!({"Config": null})),
        ("HostConfig", json!({"HostConfig": null})),
    ] {
        let err = recreate(&container(patch), &image(json!({})), NEW, None)
            .expect_err("incomplete inspect");
        assert_eq!(err, SpecError::Incomplete(field));
        assert_eq!(
            err.to_string(),
            format!("the inspect of the container has no {field}")
        );
    }
}

#[test]
fn an_image_without_config_has_no_defaults_to_reset() {
    let spec = check(json!({}), json!({"Config": null}));
    assert_eq!(
        spec.body.env,
        strings(&["FOO=1", "APP_MODE=prod", "PATH=/bin"])
    );
    assert_eq!(spec.body.cmd, strings(&["sleep", "3600"]));
    assert_eq!(spec.body.working_dir.as_deref(), Some("/tmp"));
}

// --- Stopping ---

#[test]
fn stop_signal_is_the_label_then_the_containers_then_the_images() {
    let signal = |container_patch: Value, image_patch: Value| {
        stop_signal(&container(container_patch), &image(image_patch))
    };
    assert_eq!(signal(json!({}), json!({})), None);
    assert_eq!(
        signal(json!({}), json!({"Config": {"StopSignal": "SIGQUIT"}})).as_deref(),
        Some("SIGQUIT")
    );
    assert_eq!(
        signal(
            json!({"Config": {"StopSignal": "SIGINT"}}),
            json!({"Config": {"StopSignal": "SIGQUIT"}})
        )
        .as_deref(),
        Some("SIGINT")
    );
    let labelled = |labels: Value| {
        signal(
            json!({"Config": {"StopSignal": "SIGINT", "Labels": labels}}),
            json!({}),
        )
    };
    assert_eq!(
        labelled(json!({"com.centurylinklabs.watchtower.stop-signal": " SIGHUP "})).as_deref(),
        Some("SIGHUP")
    );
    assert_eq!(
        labelled(json!({
            "com.centurylinklabs.watchtower.stop-signal": "SIGHUP",
            "tidewatch.stop-signal": "SIGUSR1",
        }))
        .as_deref(),
        Some("SIGUSR1")
    );
    assert_eq!(
        labelled(json!({"tidewatch.stop-signal": ""})).as_deref(),
        Some("SIGINT"),
        "an empty label says nothing"
    );
}

#[test]
fn stop_timeout_is_the_containers_when_set() {
    let timeout = |patch: Value| stop_timeout(&container(patch));
    assert_eq!(timeout(json!({})), None);
    assert_eq!(
        timeout(json!({"Config": {"StopTimeout": 45}})),
        Some(Duration::from_secs(45))
    );
    assert_eq!(
        timeout(json!({"Config": {"StopTimeout": 0}})),
        Some(Duration::ZERO)
    );
    assert_eq!(timeout(json!({"Config": {"StopTimeout": -1}})), None);
}

// --- Anonymous volumes ---

const DATA_VOLUME: &str = "790b04d4bc41a3249e51ddafea5ec71474b1c192828e9f181c8ed7a60083426e";
const CACHE_VOLUME: &str = "cfe4f383745816e805688a465c11ce428ec2fe2bf0ab97533adb8cda03c7c77d";

/// The successor's host config once the anonymous volumes of the old container are carried.
fn carried(container_patch: Value) -> HostConfig {
    let old = container(container_patch);
    let mut host = recreate(&old, &image(json!({})), NEW, None)
        .expect("complete")
        .body
        .host_config
        .expect("a host config");
    carry_anonymous_volumes(&old, &mut host);
    host
}

#[test]
fn anonymous_volumes_of_the_image_and_of_dash_v_are_bound_by_name() {
    let host = carried(json!({}));
    assert_eq!(
        host.binds,
        Some(vec![
            format!("{DATA_VOLUME}:/data"),
            format!("{CACHE_VOLUME}:/cache")
        ])
    );
    assert_eq!(host.mounts, None);
}

#[test]
fn an_anonymous_volume_declared_in_mounts_gets_its_old_volume_as_source_and_no_bind() {
    // `docker run --mount type=volume,dst=/cache,readonly` (compose v2's `volumes: [/cache]`):
    // a bind on /cache besides would be a duplicate mount point.
    let host = carried(json!({
        "HostConfig": {"Mounts": [
            {"Type": "volume", "Target": "/cache", "ReadOnly": true,
             "VolumeOptions": {"NoCopy": true}},
            {"Type": "tmpfs", "Target": "/run"},
        ]},
    }));
    assert_eq!(host.binds, Some(vec![format!("{DATA_VOLUME}:/data")]));
    let mounts = host.mounts.expect("mounts kept");
    assert_eq!(mounts.len(), 2);
    assert_eq!(mounts[0].source.as_deref(), Some(CACHE_VOLUME));
    assert_eq!(mounts[0].target.as_deref(), Some("/cache"));
    assert_eq!(mounts[0].read_only, Some(true), "its options kept");
    assert_eq!(
        mounts[0].volume_options.as_ref().and_then(|o| o.no_copy),
        Some(true)
    );
    assert_eq!(mounts[1].source, None, "a tmpfs has no source");
}

#[test]
fn a_destination_taken_by_a_bind_or_a_named_mount_carries_nothing_and_ro_stays_ro() {
    let host = carried(json!({
        "HostConfig": {
            "Binds": ["/srv/data:/data"],
            "Mounts": [{"Type": "volume", "Source": "named", "Target": "/cache"}],
        },
    }));
    assert_eq!(host.binds, Some(vec!["/srv/data:/data".to_string()]));
    assert_eq!(
        host.mounts.expect("mounts")[0].source.as_deref(),
        Some("named")
    );

    let host = carried(json!({
        "Mounts": [{
            "Type": "volume", "Name": CACHE_VOLUME, "Destination": "/cache", "RW": false,
        }],
    }));
    assert_eq!(host.binds, Some(vec![format!("{CACHE_VOLUME}:/cache:ro")]));

    let host = carried(json!({
        "Mounts": [{"Type": "volume", "Name": "named", "Destination": "/cache", "RW": true}],
    }));
    assert_eq!(
        host.binds, None,
        "a named volume is in Binds or Mounts already"
    );
}

// --- Health ---

#[test]
fn a_container_reports_health_unless_its_test_is_none_or_absent() {
    let health = |patch: Value| {
        has_healthcheck(
            container(patch)
                .config
                .as_ref()
                .and_then(|c| c.healthcheck.as_ref()),
        )
    };
    assert!(health(json!({})), "the fixture's image has a health check");
    assert!(!health(
        json!({"Config": {"Healthcheck": {"Test": ["NONE"]}}})
    ));
    assert!(!health(json!({"Config": {"Healthcheck": null}})));
    assert!(!health(json!({"Config": {"Healthcheck": {"Test": []}}})));
    assert!(health(
        json!({"Config": {"Healthcheck": {"Test": ["CMD-SHELL", "true"]}}})
    ));
}
