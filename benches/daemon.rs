//! The daemon at the scale of a busy host: N containers over M references on one loopback
//! registry. Prints registry requests per cycle by kind (against the minimum), the wall and CPU
//! time of a cycle, and the RSS of `tidewatch run` idle after its start-up cycle and at its peak.
//!
//! `cargo bench --bench daemon [-- N M]` (default 300 containers over 50 references). Creates
//! real containers (busybox `sleep`), labelled and removed at the end like the tests' objects.

#[allow(unused_imports)]
#[path = "../tests/it/support/mod.rs"]
mod support;

use std::collections::BTreeMap;
use std::io::{BufRead, BufReader};
use std::process::Stdio;
use std::time::{Duration, Instant};
use tidewatch::bus::Bus;
use tidewatch::config::{RegistriesConfig, WatcherConfig};
use tidewatch::registry::{ClientSettings, RegistryClient, RequestCounts};

fn main() {
    let args: Vec<usize> = std::env::args()
        .skip(1)
        .filter_map(|a| a.parse().ok())
        .collect();
    let containers = args.first().copied().unwrap_or(300);
    let references = args.get(1).copied().unwrap_or(50).clamp(1, containers);

    let run = support::TestRun::new();
    let registry = run.registry();
    eprintln!("pushing {references} images, starting {containers} containers…");
    let pushed: Vec<_> = (0..references)
        .map(|i| run.push(&registry, &format!("fleet{i}"), "1.0.0"))
        .collect();
    for i in 0..containers {
        run.run(&format!("c{i}"), &pushed[i % references].reference, &[]);
    }

    // Requests and time per cycle, through the library, as the daemon runs it.
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .expect("tokio runtime");
    let client = RegistryClient::new(&RegistriesConfig::default(), ClientSettings::default())
        .expect("registry client");
    let watchers = BTreeMap::from([("local".to_string(), WatcherConfig::default())]);
    println!(
        "daemon bench: {containers} containers over {references} references, one engine, one loopback registry"
    );
    println!(
        "{:<6} {:>8} {:>5} {:>5} {:>5} {:>5} {:>9} {:>9}",
        "cycle", "scanned", "ping", "head", "get", "tags", "wall ms", "cpu ms"
    );
    let mut before = RequestCounts::new();
    for cycle in 1..=3 {
        let (cpu, start) = (support::cpu_ms(), Instant::now());
        let outcome = runtime.block_on(tidewatch::watch::watcher::cycle(
            &watchers,
            &client,
            &Bus::default(),
            &tidewatch::model::Holds::default(),
        ));
        let (wall, cpu) = (
            start.elapsed().as_secs_f64() * 1000.0,
            support::cpu_ms() - cpu,
        );
        let after = client.counts();
        let count = |kind: &str| -> u64 {
            after
                .iter()
                .filter(|((_, k, _), _)| format!("{k:?}").eq_ignore_ascii_case(kind))
                .map(|(key, n)| n - before.get(key).unwrap_or(&0))
                .sum()
        };
        let ours = outcome
            .listing
            .containers
            .iter()
            .filter(|c| c.image.contains(registry.addr()))
            .count();
        println!(
            "{cycle:<6} {ours:>8} {:>5} {:>5} {:>5} {:>5} {wall:>9.1} {cpu:>9.1}",
            count("ping"),
            count("head"),
            count("get"),
            count("tags"),
        );
        before = after;
    }
    println!(
        "minimum per cycle: tags = {references} (version tags are compared with the tag list), head = 0 while nothing is newer, get = 0; ping = 1 in the first cycle"
    );

    // The binary's memory: idle after its start-up cycle, and its peak.
    let mut daemon = support::tidewatch_command(
        &["run"],
        &[
            ("TIDEWATCH_WATCHER_LOCAL_CRON", "0 0 1 1 *"),
            ("TIDEWATCH_LOG_FORMAT", "json"),
        ],
    )
    .stdout(Stdio::null())
    .stderr(Stdio::piped())
    .spawn()
    .expect("start tidewatch run");
    let stderr = BufReader::new(daemon.stderr.take().expect("stderr"));
    for line in stderr.lines().map_while(Result::ok) {
        if line.contains("Check completed.") {
            break;
        }
    }
    std::thread::sleep(Duration::from_secs(2));
    let status =
        std::fs::read_to_string(format!("/proc/{}/status", daemon.id())).unwrap_or_default();
    let field = |name: &str| -> String {
        status
            .lines()
            .find(|l| l.starts_with(name))
            .map(|l| l.split_whitespace().skip(1).collect::<Vec<_>>().join(" "))
            .unwrap_or_else(|| "?".into())
    };
    println!(
        "tidewatch run (release? {}): RSS idle after the start-up cycle {}, peak (VmHWM) {}",
        !cfg!(debug_assertions),
        field("VmRSS:"),
        field("VmHWM:")
    );
    let _ = daemon.kill();
    let _ = daemon.wait();
}
