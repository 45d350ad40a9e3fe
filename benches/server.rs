//! The API under load while the daemon checks: requests per second `GET /api/containers`
//! serves from many concurrent clients, and the time of a check cycle (`POST
//! /api/containers/watch`, which answers when the cycle is done) with and without that load.
//!
//! `cargo bench --bench server [-- N M CLIENTS]` (default 100 containers over 20 references,
//! 32 clients). Creates real containers, labelled and removed at the end like the tests'.

#[allow(unused_imports)]
#[path = "../tests/it/support/mod.rs"]
mod support;

use std::io::{BufRead, BufReader};
use std::process::Stdio;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant};

const TOKEN: &str = "bench-token";

fn main() {
    let args: Vec<usize> = std::env::args()
        .skip(1)
        .filter_map(|a| a.parse().ok())
        .collect();
    let containers = args.first().copied().unwrap_or(100);
    let references = args.get(1).copied().unwrap_or(20).clamp(1, containers);
    let clients = args.get(2).copied().unwrap_or(32).max(1);

    let run = support::TestRun::new();
    let registry = run.registry();
    eprintln!("pushing {references} images, starting {containers} containers…");
    let pushed: Vec<_> = (0..references)
        .map(|i| run.push(&registry, &format!("api{i}"), "1.0.0"))
        .collect();
    for i in 0..containers {
        run.run(&format!("c{i}"), &pushed[i % references].reference, &[]);
    }
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("a free port");
    let port_text = port.to_string();
    let include = format!("{}-c.*", run.id());
    let store = support::fresh_store_dir();
    let mut child = support::tidewatch_command(
        &["run"],
        &[
            ("TIDEWATCH_SERVER_PORT", &port_text),
            ("TIDEWATCH_SERVER_ADDRESS", "127.0.0.1"),
            ("TIDEWATCH_SERVER_TOKEN", TOKEN),
            ("TIDEWATCH_WATCHER_LOCAL_INCLUDE", &include),
            ("TIDEWATCH_WATCHER_LOCAL_CRON", "0 0 1 1 *"),
            ("TIDEWATCH_WATCHER_LOCAL_WATCHEVENTS", "false"),
            ("TIDEWATCH_STORE_PATH", store.to_str().expect("UTF-8")),
        ],
    )
    .stdout(Stdio::null())
    .stderr(Stdio::piped())
    .spawn()
    .expect("start tidewatch run");
    let stderr = child.stderr.take().expect("stderr");
    let mut lines = BufReader::new(stderr).lines();
    for line in lines.by_ref() {
        if line.expect("a log line").contains("Check completed.") {
            break;
        }
    }
    std::thread::spawn(move || for _ in lines {});

    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .expect("runtime");
    let base = format!("http://127.0.0.1:{port}");
    let client = reqwest::Client::new();
    let cycle = |client: &reqwest::Client| {
        let start = Instant::now();
        let status = runtime.block_on(async {
            client
                .post(format!("{base}/api/containers/watch"))
                .bearer_auth(TOKEN)
                .send()
                .await
                .map(|r| r.status().as_u16())
        });
        assert_eq!(status.ok(), Some(200), "POST /api/containers/watch");
        start.elapsed()
    };
    let median = |mut v: Vec<Duration>| {
        v.sort();
        v[v.len() / 2]
    };
    let quiet = median((0..5).map(|_| cycle(&client)).collect());

    let stop = Arc::new(AtomicBool::new(false));
    let served = Arc::new(AtomicU64::new(0));
    let failed = Arc::new(AtomicU64::new(0));
    let load: Vec<_> = (0..clients)
        .map(|_| {
            let (stop, served, failed) = (stop.clone(), served.clone(), failed.clone());
            let (client, url) = (reqwest::Client::new(), format!("{base}/api/containers"));
            runtime.spawn(async move {
                while !stop.load(Ordering::Relaxed) {
                    match client.get(&url).send().await {
                        Ok(r) if r.status().is_success() => {
                            let _ = r.bytes().await;
                            served.fetch_add(1, Ordering::Relaxed);
                        }
                        _ => {
                            failed.fetch_add(1, Ordering::Relaxed);
                        }
                    }
                }
            })
        })
        .collect();
    std::thread::sleep(Duration::from_secs(1));
    let (start, before) = (Instant::now(), served.load(Ordering::Relaxed));
    let loaded = median((0..5).map(|_| cycle(&client)).collect());
    let rate = (served.load(Ordering::Relaxed) - before) as f64 / start.elapsed().as_secs_f64();
    stop.store(true, Ordering::Relaxed);
    for task in load {
        let _ = runtime.block_on(task);
    }
    let _ = child.kill();
    let _ = child.wait();

    println!(
        "server bench: {containers} containers over {references} references, {clients} clients on GET /api/containers, {} cores",
        std::thread::available_parallelism().map_or(0, |n| n.get())
    );
    println!(
        "requests/s served during check cycles: {rate:.0} ({} failed)",
        failed.load(Ordering::Relaxed)
    );
    println!(
        "check cycle: {:.0} ms quiet, {:.0} ms under load, ratio {:.2}",
        quiet.as_secs_f64() * 1000.0,
        loaded.as_secs_f64() * 1000.0,
        loaded.as_secs_f64() / quiet.as_secs_f64()
    );
}
