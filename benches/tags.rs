//! Tag selection over a large tag list: what one check of one image costs in CPU once the
//! registry has answered. Docker Hub's busiest official images list a few thousand tags, so
//! 10,000 is a generous upper bound. Prints the mean time per selection; asserts nothing.
//!
//! `cargo bench --bench tags [-- TAGS RUNS]` (default 10,000 tags, 100 runs per scenario).

use std::hint::black_box;
use std::time::Instant;
use tidewatch::tags::{TagPolicy, newest};

#[allow(dead_code)]
#[path = "../src/tags/rng.rs"]
mod rng;

use rng::Rng;

const FLAVOURS: &[&str] = &[
    "",
    "",
    "-alpine",
    "-alpine3.19",
    "-alpine3.20",
    "-bookworm",
    "-slim-bookworm",
    "-perl",
    "-alpine-perl",
];

const ROLLING: &[&str] = &[
    "latest",
    "stable",
    "mainline",
    "edge",
    "alpine",
    "alpine3.19",
    "stable-alpine",
    "lts-alpine",
    "nightly",
];

/// The mix of an official image with several flavours plus a linuxserver-style line: mostly
/// versions, some pre-releases, some rolling aliases and commit tags.
fn tag_list(count: usize, rng: &mut Rng) -> Vec<String> {
    (0..count)
        .map(|_| {
            let (major, minor, patch) = (1 + rng.below(5), rng.below(30), rng.below(40));
            match rng.below(20) {
                0 => rng.pick(ROLLING).to_owned(),
                1 => format!("sha-{:08x}", rng.next() as u32),
                2 | 3 => format!(
                    "{major}.{minor}.{patch}-rc{}{}",
                    1 + rng.below(4),
                    rng.pick(FLAVOURS)
                ),
                4 => format!("{major}.{minor}{}", rng.pick(FLAVOURS)),
                5 | 6 => format!(
                    "{major}.{minor}.{patch}.{}-ls{}",
                    1000 + rng.below(500),
                    100 + rng.below(200)
                ),
                _ => format!("{major}.{minor}.{patch}{}", rng.pick(FLAVOURS)),
            }
        })
        .collect()
}

fn main() {
    let args: Vec<usize> = std::env::args()
        .skip(1)
        .filter_map(|a| a.parse().ok())
        .collect();
    let count = args.first().copied().unwrap_or(10_000);
    let runs = args.get(1).copied().unwrap_or(100).max(1);
    let tags = tag_list(count, &mut Rng(0x7a95));

    let plain = TagPolicy::default();
    let filtered = TagPolicy::new(Some(r"^\d+\.\d+\.\d+-alpine3\.\d+$"), Some(r"^1\."), None)
        .expect("valid policy");
    let transformed = TagPolicy::new(None, None, Some(r"^(\d+\.\d+\.\d+\.\d+)-ls(\d+)$ => $1.$2"))
        .expect("valid policy");
    let scenarios: [(&str, &str, &TagPolicy); 5] = [
        ("plain", "2.10.3", &plain),
        ("flavour", "2.10.3-alpine3.19", &plain),
        ("include+exclude", "2.10.3-alpine3.19", &filtered),
        ("transform", "2.10.3.1200-ls150", &transformed),
        ("not a version", "latest", &plain),
    ];

    println!("{} tags, {runs} runs per scenario", tags.len());
    for (name, current, policy) in scenarios {
        // One untimed run: the answer, and warm caches.
        let chosen = newest(current, &tags, policy);
        let start = Instant::now();
        for _ in 0..runs {
            black_box(newest(black_box(current), black_box(&tags), policy));
        }
        let per_run = start.elapsed() / runs as u32;
        let per_tag_ns = per_run.as_nanos() as f64 / tags.len().max(1) as f64;
        let chosen = chosen.map_or_else(
            || "none".to_owned(),
            |n| format!("{} ({:?})", n.tag, n.kind),
        );
        println!(
            "{name:>16}: {current:<18} → {chosen:<32} {per_run:>10.2?} per selection, {per_tag_ns:.0} ns per tag"
        );
    }
}
