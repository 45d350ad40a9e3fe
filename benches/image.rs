//! The image's figures for the README: its size, and the resident memory of the daemon in it,
//! idle after its first cycle over N containers (default 60, over 10 references on a loopback
//! registry), and its peak.
//!
//! `cargo bench --bench image [-- N M] [-- --binary PATH…]`: builds the image with
//! `scripts/image` and runs it as the README says (socket, store volume; the host's network
//! for the loopback registry). Each `--binary PATH` is also run as a host process over the
//! same containers, for comparing builds (allocators, targets) by the same measure.
//! Containers, images and volumes are labelled and removed at the end like the tests' objects.

#[allow(unused_imports)]
#[path = "../tests/it/support/mod.rs"]
mod support;

use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

fn main() {
    let mut numbers = Vec::new();
    let mut binaries = Vec::new();
    let mut args = std::env::args().skip(1);
    while let Some(arg) = args.next() {
        if arg == "--binary" {
            binaries.extend(args.next());
        } else if let Ok(n) = arg.parse::<usize>() {
            numbers.push(n);
        }
    }
    let containers = numbers.first().copied().unwrap_or(60);
    let references = numbers.get(1).copied().unwrap_or(10).clamp(1, containers);

    let run = support::TestRun::new();
    let registry = run.registry();
    let only_ours = format!("{}-.*", run.id());

    let start = Instant::now();
    let tag = format!("{}-tidewatch:bench", run.id());
    let out = Command::new(Path::new(env!("CARGO_MANIFEST_DIR")).join("scripts/image"))
        .args(["--tag", &tag, "--label", &run.label()])
        .stderr(Stdio::inherit())
        .output()
        .expect("run scripts/image");
    assert!(out.status.success(), "scripts/image failed");
    let build = start.elapsed();
    let image = registry.reference("tidewatch", "bench");
    run.tag(&tag, &image);
    run.docker(&["push", &image]);
    let size: u64 = run.inspect(&tag, "{{.Size}}").parse().unwrap();
    let binary = std::fs::metadata(
        Path::new(env!("CARGO_MANIFEST_DIR")).join("target/image-context/rootfs/tidewatch"),
    )
    .map(|m| m.len())
    .unwrap_or_default();

    eprintln!("pushing {references} images, starting {containers} containers…");
    let pushed: Vec<_> = (0..references)
        .map(|i| run.push(&registry, &format!("fleet{i}"), "1.0.0"))
        .collect();
    for i in 0..containers {
        run.run(&format!("c{i}"), &pushed[i % references].reference, &[]);
    }

    println!("image bench: {containers} containers over {references} references");
    println!(
        "image {tag}: {size} bytes ({:.1} MB), binary {binary} bytes; scripts/image took {:.0} s",
        size as f64 / 1e6,
        build.as_secs_f64()
    );

    // In the image, as the README runs it.
    let volume = run.volume("store");
    let store = format!("{volume}:/store");
    let include = format!("TIDEWATCH_WATCHER_LOCAL_INCLUDE={only_ours}");
    let container = run.run_with(
        "tidewatch",
        &[
            "--network",
            "host",
            "-v",
            "/var/run/docker.sock:/var/run/docker.sock",
            "-v",
            &store,
            "-e",
            &include,
            "-e",
            "TIDEWATCH_WATCHER_LOCAL_CRON=0 0 1 1 *",
            "-e",
            "TIDEWATCH_LOG_FORMAT=json",
        ],
        &image,
        &[],
    );
    let deadline = Instant::now() + Duration::from_secs(300);
    loop {
        let logs = run.docker_output(&["logs", &container.id]);
        if logs.stderr.contains("Check completed.") || logs.stdout.contains("Check completed.") {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "no completed cycle in the image:\n{}",
            logs.stderr
        );
        std::thread::sleep(Duration::from_millis(200));
    }
    std::thread::sleep(Duration::from_secs(2));
    let pid = run.inspect(&container.id, "{{.State.Pid}}");
    let (rss, peak) = memory(&pid);
    println!("in the image: RSS idle after the first cycle {rss}, peak (VmHWM) {peak}");

    // The same measure for other builds, as host processes.
    for path in binaries {
        let mut daemon = Command::new(&path)
            .arg("run")
            .env("TIDEWATCH_WATCHER_LOCAL_INCLUDE", &only_ours)
            .env("TIDEWATCH_WATCHER_LOCAL_CRON", "0 0 1 1 *")
            .env("TIDEWATCH_LOG_FORMAT", "json")
            .env("TIDEWATCH_STORE_PATH", support::fresh_store_dir())
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap_or_else(|err| panic!("cannot start {path}: {err}"));
        let stderr = BufReader::new(daemon.stderr.take().expect("stderr"));
        for line in stderr.lines().map_while(Result::ok) {
            if line.contains("Check completed.") {
                break;
            }
        }
        std::thread::sleep(Duration::from_secs(2));
        let (rss, peak) = memory(&daemon.id().to_string());
        println!("{path}: RSS idle after the first cycle {rss}, peak (VmHWM) {peak}");
        let _ = daemon.kill();
        let _ = daemon.wait();
    }
}

/// `VmRSS` and `VmHWM` of process `pid`, as `/proc` prints them.
fn memory(pid: &str) -> (String, String) {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap_or_default();
    let field = |name: &str| -> String {
        status
            .lines()
            .find(|l| l.starts_with(name))
            .map(|l| l.split_whitespace().skip(1).collect::<Vec<_>>().join(" "))
            .unwrap_or_else(|| "?".into())
    };
    (field("VmRSS:"), field("VmHWM:"))
}
