//! What a reference points to in a real registry, and whether a running container runs it: one
//! HEAD per reference and check, and a manifest GET only when a multi-arch index moved.

use super::{anonymous_client, assert_counts, container_info, image};
use crate::support::rogue::Rogue;
use crate::support::{Registry, TestRun};
use futures_util::future::join_all;
use tidewatch::model::ContainerInfo;
use tidewatch::registry::{DigestCheck, RegistryClient, RegistryError, RequestKind::*};

/// The container's check in a new session, which is what the next watch cycle does.
async fn check(client: &RegistryClient, container: &ContainerInfo) -> DigestCheck {
    let reference = container.reference().expect("container has a reference");
    client
        .session()
        .check_digest(&reference, None, container)
        .await
        .unwrap_or_else(|err| panic!("check {}: {err}", container.image))
}

#[tokio::test]
async fn head_gives_the_pushed_digest_and_nothing_more() {
    let run = TestRun::new();
    let registry = run.registry();
    let pushed = run.push(&registry, "app", "1.0.0");
    let client = anonymous_client();
    let host = registry.addr();

    let remote = client
        .session()
        .manifest_digest(&image(&pushed.reference), None)
        .await
        .expect("digest of a pushed tag");

    assert_eq!(remote.digest, pushed.digest);
    assert_eq!(
        remote.media_type.as_deref(),
        Some("application/vnd.docker.distribution.manifest.v2+json")
    );
    assert_counts(&client, &[(host, Ping, 200, 1), (host, Head, 200, 1)]);

    let missing = client
        .session()
        .manifest_digest(&image(&registry.reference("app", "9.9.9")), None)
        .await;
    assert_eq!(
        missing,
        Err(RegistryError::NotFound {
            image: registry.reference("app", "9.9.9")
        })
    );
    assert_counts(
        &client,
        &[
            (host, Ping, 200, 1),
            (host, Head, 200, 1),
            (host, Head, 404, 1),
        ],
    );
}

#[tokio::test]
async fn tags_are_listed_as_pushed() {
    let run = TestRun::new();
    let registry = run.registry();
    run.push(&registry, "app", "1.0.0");
    run.push(&registry, "app", "1.1.0");
    let client = anonymous_client();
    let host = registry.addr();
    let session = client.session();
    let app = image(&registry.reference("app", "1.0.0"));

    let tags = session.tags(&app, None).await.expect("tags");
    let again = session.tags(&app, None).await.expect("tags again");

    // In the registry's order, which distribution does not sort.
    let mut sorted = tags.as_ref().clone();
    sorted.sort();
    assert_eq!(sorted, ["1.0.0", "1.1.0"]);
    assert_eq!(again, tags);
    assert_counts(&client, &[(host, Ping, 200, 1), (host, Tags, 200, 1)]);
}

#[tokio::test]
async fn a_push_to_the_same_tag_is_a_change() {
    let run = TestRun::new();
    let registry = run.registry();
    let first = run.push(&registry, "app", "1.0.0");
    let container = run.run("app", &first.reference, &[]);
    let client = anonymous_client();
    let host = registry.addr();

    let before = container_info(&container.id).await;
    assert!(
        before.repo_digests.contains(&first.repo_digest),
        "{:?}",
        before.repo_digests
    );
    assert_eq!(
        check(&client, &before).await,
        DigestCheck::UpToDate {
            remote: first.digest.clone()
        }
    );

    let second = run.push(&registry, "app", "1.0.0");
    assert_ne!(second.digest, first.digest, "the re-push is another image");
    let after = container_info(&container.id).await;
    assert_eq!(
        after.image_id, first.id,
        "the container still runs the first"
    );

    assert_eq!(
        check(&client, &after).await,
        DigestCheck::Changed {
            remote: second.digest
        }
    );
    // Single-arch: the HEAD's digest settles it both times.
    assert_counts(&client, &[(host, Ping, 200, 1), (host, Head, 200, 2)]);
}

/// A local build has no digest to compare with, so there is nothing to ask.
#[tokio::test]
async fn a_local_build_is_not_asked_about() {
    let run = TestRun::new();
    let rogue = Rogue::start();
    let built = run.image(&format!("{}/app:dev", rogue.addr()), "dev");
    let container = run.run("dev", &built.reference, &[]);
    let info = container_info(&container.id).await;
    assert_eq!(info.repo_digests, Vec::<String>::new());
    let client = anonymous_client();

    assert_eq!(check(&client, &info).await, DigestCheck::NoLocalDigest);
    assert_counts(&client, &[]);
    assert_eq!(rogue.hits().len(), 0);
}

#[tokio::test]
async fn containers_on_one_reference_share_one_head() {
    let run = TestRun::new();
    let registry = run.registry();
    let pushed = [
        run.push(&registry, "app", "1.0.0"),
        run.push(&registry, "app", "2.0.0"),
        run.push(&registry, "tools/other", "1.0.0"),
    ];
    let mut infos = Vec::new();
    for (n, p) in pushed.iter().enumerate() {
        let container = run.run(&format!("c{n}"), &p.reference, &[]);
        infos.push(container_info(&container.id).await);
    }
    // Twenty containers as a watcher lists them: several per reference.
    let containers: Vec<(usize, ContainerInfo)> =
        (0..20).map(|n| (n % 3, infos[n % 3].clone())).collect();
    let client = anonymous_client();
    let host = registry.addr();
    let session = client.session();

    let checks = join_all(containers.iter().map(|(which, info)| {
        let session = &session;
        async move {
            let reference = info.reference().expect("reference");
            (*which, session.check_digest(&reference, None, info).await)
        }
    }))
    .await;

    for (which, result) in checks {
        assert_eq!(
            result,
            Ok(DigestCheck::UpToDate {
                remote: pushed[which].digest.clone()
            })
        );
    }
    assert_counts(&client, &[(host, Ping, 200, 1), (host, Head, 200, 3)]);
}

/// A manifest as an index lists it.
#[derive(Debug, Clone)]
struct Entry {
    media_type: String,
    digest: String,
    size: usize,
    architecture: String,
    variant: Option<String>,
}

const DOCKER_LIST: &str = "application/vnd.docker.distribution.manifest.list.v2+json";

/// The entry for a pushed single-platform manifest.
fn entry(registry: &Registry, repo: &str, digest: &str, architecture: &str) -> Entry {
    let (media_type, body) = registry.manifest(repo, digest);
    Entry {
        media_type,
        digest: digest.to_string(),
        size: body.len(),
        architecture: architecture.to_string(),
        variant: None,
    }
}

/// Stores a copy of the amd64 manifest `source` that says it is for linux/arm64/v8: the same
/// layers, a config naming the other architecture and `marker` (each copy is its own image).
/// The engine here never runs it, and `docker import` cannot set an architecture.
fn arm64_copy(registry: &Registry, repo: &str, source: &str, marker: &str) -> Entry {
    let (media_type, body) = registry.manifest(repo, source);
    let mut manifest: serde_json::Value = serde_json::from_slice(&body).expect("manifest JSON");
    let config_digest = manifest["config"]["digest"]
        .as_str()
        .expect("config digest")
        .to_string();
    let blob = registry.request("GET", &format!("/v2/{repo}/blobs/{config_digest}"), &[]);
    assert_eq!(blob.status, 200, "config blob {config_digest}");
    let mut config: serde_json::Value = serde_json::from_slice(&blob.body).expect("config JSON");
    assert_eq!(config["architecture"], "amd64", "source is the amd64 build");
    config["architecture"] = "arm64".into();
    config["variant"] = "v8".into();
    config["comment"] = marker.into();
    let config = config.to_string().into_bytes();
    manifest["config"]["digest"] = registry.put_blob(repo, &config).into();
    manifest["config"]["size"] = config.len().into();
    let body = manifest.to_string().into_bytes();
    let digest = registry.put_manifest(repo, &format!("arm64-{marker}"), &media_type, &body);
    Entry {
        media_type,
        digest,
        size: body.len(),
        architecture: "arm64".into(),
        variant: Some("v8".into()),
    }
}

/// Puts a Docker manifest list of `entries` at `repo:tag`; returns its digest.
fn put_index(registry: &Registry, repo: &str, tag: &str, entries: &[&Entry]) -> String {
    let manifests: Vec<serde_json::Value> = entries
        .iter()
        .map(|e| {
            let mut platform = serde_json::json!({"architecture": e.architecture, "os": "linux"});
            if let Some(variant) = &e.variant {
                platform["variant"] = variant.as_str().into();
            }
            serde_json::json!({
                "mediaType": e.media_type,
                "digest": e.digest,
                "size": e.size,
                "platform": platform,
            })
        })
        .collect();
    let index = serde_json::json!({
        "schemaVersion": 2,
        "mediaType": DOCKER_LIST,
        "manifests": manifests,
    });
    registry.put_manifest(repo, tag, DOCKER_LIST, index.to_string().as_bytes())
}

#[tokio::test]
async fn multi_arch_image_changes_only_when_our_platform_does() {
    let run = TestRun::new();
    let registry = run.registry();
    let repo = "multi";
    let amd64 = run.push(&registry, repo, "amd64-1");
    let amd64_entry = entry(&registry, repo, &amd64.digest, "amd64");
    let arm64_entry = arm64_copy(&registry, repo, &amd64.digest, "1");
    let first = put_index(&registry, repo, "multi", &[&amd64_entry, &arm64_entry]);
    // Pulled fresh, as a user would: the engine then knows the image by the index only.
    run.docker(&["rmi", &amd64.reference]);
    let reference = registry.reference(repo, "multi");
    run.docker(&["pull", &reference]);
    let container = run.run("multi", &reference, &[]);
    assert_eq!(
        run.inspect(&reference, "{{.Os}}/{{.Architecture}} {{.RepoDigests}}"),
        format!("linux/amd64 [{}/{repo}@{first}]", registry.addr())
    );
    let info = container_info(&container.id).await;
    assert_eq!(info.image_id, amd64.id, "the engine picked the amd64 entry");
    let client = anonymous_client();
    let host = registry.addr();

    // The index digest is what the engine recorded: the HEAD settles it.
    assert_eq!(
        check(&client, &info).await,
        DigestCheck::UpToDate {
            remote: first.clone()
        }
    );
    assert_counts(&client, &[(host, Ping, 200, 1), (host, Head, 200, 1)]);

    // Only arm64 moved: the index and our platform's manifest are read once...
    let arm64_entry = arm64_copy(&registry, repo, &amd64.digest, "2");
    let second = put_index(&registry, repo, "multi", &[&amd64_entry, &arm64_entry]);
    assert_ne!(second, first);
    for _ in 0..2 {
        assert_eq!(
            check(&client, &info).await,
            DigestCheck::UpToDate {
                remote: second.clone()
            }
        );
    }
    // ...and not again for the same index digest.
    assert_counts(
        &client,
        &[
            (host, Ping, 200, 1),
            (host, Head, 200, 3),
            (host, Get, 200, 2),
        ],
    );

    // Now amd64 moved too.
    let amd64 = run.push(&registry, repo, "amd64-2");
    let amd64_entry = entry(&registry, repo, &amd64.digest, "amd64");
    let third = put_index(&registry, repo, "multi", &[&amd64_entry, &arm64_entry]);
    assert_eq!(
        check(&client, &info).await,
        DigestCheck::Changed {
            remote: third.clone()
        }
    );
    assert_counts(
        &client,
        &[
            (host, Ping, 200, 1),
            (host, Head, 200, 4),
            (host, Get, 200, 4),
        ],
    );
}
