//! Registry requests per check: N containers sharing M references, checked against a real
//! registry on loopback. Prints requests by kind against the minimum the design promises
//! (one ping per host per process, one HEAD per unique reference per check, no manifest GET for
//! an unchanged image), and the wall and CPU time of each cycle.
//!
//! `cargo bench --bench registry [-- N M] [--anonymous]` (default 300 containers over 50
//! references in 50 repositories, on a registry that wants bearer tokens, as Docker Hub does).
//! Needs the Docker engine, Debian's docker-registry and openssl, as the integration tests do.

#[allow(unused_imports)]
#[path = "../tests/it/support/mod.rs"]
mod support;

use std::collections::BTreeMap;
use std::time::Instant;
use tidewatch::config::RegistriesConfig;
use tidewatch::model::reference::ImageRef;
use tidewatch::model::{ContainerInfo, Platform};
use tidewatch::registry::{ClientSettings, DigestCheck, RegistryClient, RequestCounts};

fn main() {
    let args: Vec<usize> = std::env::args()
        .skip(1)
        .filter_map(|a| a.parse().ok())
        .collect();
    let containers = args.first().copied().unwrap_or(300);
    let references = args.get(1).copied().unwrap_or(50).clamp(1, containers);

    let anonymous = std::env::args().any(|a| a == "--anonymous");

    let run = support::TestRun::new();
    let tokens = support::token_server::TokenServer::opaque(Default::default());
    let registry = if anonymous {
        run.registry()
    } else {
        run.registry_with(tokens.registry_options())
    };
    eprintln!("pushing {references} images…");
    let pushed: Vec<_> = (0..references)
        .map(|i| run.push(&registry, &format!("bench{i}"), "1.0.0"))
        .collect();
    let fleet: Vec<(ImageRef, ContainerInfo)> = (0..containers)
        .map(|i| {
            let image = &pushed[i % references];
            let container = ContainerInfo {
                watcher: "bench".into(),
                kind: Default::default(),
                id: format!("{i:064x}"),
                name: format!("c{i}"),
                state: "running".into(),
                image: image.reference.clone(),
                image_id: image.id.clone(),
                repo_digests: vec![image.repo_digest.clone()],
                platform: Platform {
                    os: "linux".into(),
                    architecture: "amd64".into(),
                    variant: None,
                },
                labels: BTreeMap::new(),
            };
            let reference = ImageRef::parse(&image.reference).expect("pushed reference parses");
            (reference, container)
        })
        .collect();

    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .expect("tokio runtime");
    let client = RegistryClient::new(&RegistriesConfig::default(), ClientSettings::default())
        .expect("registry client");
    let auth = if anonymous {
        "anonymous"
    } else {
        "bearer tokens"
    };
    println!(
        "registry bench: {containers} containers over {references} references ({references} repositories), one loopback registry, {auth}"
    );
    println!(
        "{:<8} {:>6} {:>6} {:>6} {:>6} {:>6} {:>10} {:>10} {:>10} {:>14}",
        "cycle",
        "ping",
        "token",
        "head",
        "get",
        "tags",
        "up-to-date",
        "wall ms",
        "cpu ms",
        "cpu µs/check"
    );
    let mut before = RequestCounts::new();
    for cycle in 1..=5 {
        let cpu_start = support::cpu_ms();
        let start = Instant::now();
        let results = runtime.block_on(async {
            let session = client.session();
            let checks = fleet
                .iter()
                .map(|(image, c)| session.check_digest(image, None, c));
            futures_util::future::join_all(checks).await
        });
        let wall = start.elapsed().as_secs_f64() * 1000.0;
        let cpu = support::cpu_ms() - cpu_start;
        let up_to_date = results
            .iter()
            .filter(|r| matches!(r, Ok(DigestCheck::UpToDate { .. })))
            .count();
        let after = client.counts();
        let by_kind = delta(&before, &after);
        println!(
            "{:<8} {:>6} {:>6} {:>6} {:>6} {:>6} {:>10} {:>10.1} {:>10.1} {:>14.1}",
            cycle,
            by_kind.get("ping").unwrap_or(&0),
            by_kind.get("token").unwrap_or(&0),
            by_kind.get("head").unwrap_or(&0),
            by_kind.get("get").unwrap_or(&0),
            by_kind.get("tags").unwrap_or(&0),
            up_to_date,
            wall,
            cpu,
            cpu * 1000.0 / containers as f64
        );
        before = after;
        assert_eq!(
            up_to_date, containers,
            "every container is up to date: {results:?}"
        );
    }
    println!(
        "minimum per cycle: head = {references} (unique references), get = 0; token <= {references} (one per repository, then none while it lives); ping = 1 per host, first cycle only"
    );
}

/// Requests by kind between two snapshots.
fn delta(before: &RequestCounts, after: &RequestCounts) -> BTreeMap<String, u64> {
    let mut by_kind = BTreeMap::new();
    for ((host, kind, status), count) in after {
        let prior = before.get(&(host.clone(), *kind, *status)).unwrap_or(&0);
        let name = serde_json::to_value(kind)
            .ok()
            .and_then(|v| v.as_str().map(String::from))
            .unwrap_or_default();
        *by_kind.entry(name).or_default() += count - prior;
    }
    by_kind
}
