//! The downtime of one update of a container serving HTTP (busybox `httpd`), as a client sees
//! it: requests sent, requests that failed, and the longest gap between two answered ones.
//!
//! - `stop-first` (the default order): the container publishes a fixed port on 127.0.0.1 and
//!   is probed there from this process; the old container must stop before the new one can
//!   take the port.
//! - `start-first` (`tidewatch.update.order=start-first`): the container publishes nothing and
//!   is reached through a network alias, probed by a second container on the network (busybox
//!   `nc` in a loop; the engine timestamps each line of its log).
//!
//! `cargo bench --bench downtime`. Reported, never asserted: the figures depend on the machine.
//! Creates real containers, labelled and removed at the end like the tests' objects.

#[allow(unused_imports)]
#[path = "../tests/it/support/mod.rs"]
mod support;

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use support::{ImageSpec, TestRun};

/// A server that stops at once on SIGTERM: a busy PID 1 that ignored it would make every
/// update wait out the stop timeout, which measures the timeout and not the update.
fn server(version: &str) -> ImageSpec {
    ImageSpec::version(version).cmd(&[
        "sh",
        "-c",
        "trap 'exit 0' TERM; httpd -f -p 8080 -h / & wait",
    ])
}

/// Requests sent, failed, and the longest time between two answered requests.
#[derive(Debug, Default)]
struct Tally {
    sent: usize,
    failed: usize,
    longest_gap: Duration,
}

impl Tally {
    /// From each request's time and outcome, in order.
    fn of(probes: &[(Duration, bool)]) -> Tally {
        let mut tally = Tally {
            sent: probes.len(),
            failed: probes.iter().filter(|(_, ok)| !ok).count(),
            ..Tally::default()
        };
        let answered: Vec<Duration> = probes
            .iter()
            .filter(|(_, ok)| *ok)
            .map(|(at, _)| *at)
            .collect();
        tally.longest_gap = answered
            .windows(2)
            .map(|w| w[1].saturating_sub(w[0]))
            .max()
            .unwrap_or_default();
        tally
    }

    fn print(&self, order: &str) {
        println!(
            "{order:<12} {:>6} {:>7} {:>10.0}",
            self.sent,
            self.failed,
            self.longest_gap.as_secs_f64() * 1000.0
        );
    }
}

/// One `GET /version` on `addr`; true for a 200.
fn get(addr: SocketAddr) -> bool {
    let answer = (|| -> std::io::Result<String> {
        let mut stream = TcpStream::connect_timeout(&addr, Duration::from_millis(500))?;
        stream.set_read_timeout(Some(Duration::from_secs(1)))?;
        stream.write_all(b"GET /version HTTP/1.0\r\n\r\n")?;
        let mut answer = String::new();
        stream.read_to_string(&mut answer)?;
        Ok(answer)
    })();
    answer.is_ok_and(|a| a.starts_with("HTTP/1.0 200") || a.starts_with("HTTP/1.1 200"))
}

/// `tidewatch run --once` with the docker trigger limited to `name`, defaults otherwise.
fn update(name: &str) -> support::Output {
    let store = support::fresh_store_dir();
    let store = store.to_str().expect("UTF-8 path");
    support::tidewatch(
        &["run", "--once"],
        &[
            ("TIDEWATCH_TRIGGER_DOCKER_LOCAL_INCLUDE", name),
            ("TIDEWATCH_STORE_PATH", store),
        ],
    )
}

fn stop_first(run: &TestRun, registry: &support::Registry) -> Tally {
    let v1 = run.push_spec(registry, "web", "1.0.0", &server("1.0.0"));
    run.push_spec(registry, "web", "1.1.0", &server("1.1.0"));
    let port = TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .expect("a free port")
        .port();
    let publish = format!("127.0.0.1:{port}:8080");
    let web = run.run_with("web", &["-p", &publish], &v1.reference, &[]);
    let addr = SocketAddr::from(([127, 0, 0, 1], port));
    let start = Instant::now();
    while !get(addr) {
        assert!(
            start.elapsed() < Duration::from_secs(30),
            "httpd never answered"
        );
        std::thread::sleep(Duration::from_millis(50));
    }

    let done = Arc::new(AtomicBool::new(false));
    let probes = Arc::new(Mutex::new(Vec::new()));
    let prober = {
        let (done, probes) = (done.clone(), probes.clone());
        std::thread::spawn(move || {
            let start = Instant::now();
            while !done.load(Ordering::Relaxed) {
                let ok = get(addr);
                probes
                    .lock()
                    .unwrap_or_else(|p| p.into_inner())
                    .push((start.elapsed(), ok));
                std::thread::sleep(Duration::from_millis(10));
            }
        })
    };
    let out = update(&web.name);
    assert!(out.stderr.contains("Updated."), "{out}");
    // Until the new one answers again, however long that takes.
    let after = Instant::now();
    while !get(addr) && after.elapsed() < Duration::from_secs(30) {
        std::thread::sleep(Duration::from_millis(10));
    }
    std::thread::sleep(Duration::from_millis(200));
    done.store(true, Ordering::Relaxed);
    prober.join().expect("prober");
    let probes = probes.lock().unwrap_or_else(|p| p.into_inner());
    Tally::of(&probes)
}

fn start_first(run: &TestRun, registry: &support::Registry) -> Tally {
    let v1 = run.push_spec(registry, "api", "1.0.0", &server("1.0.0"));
    run.push_spec(registry, "api", "1.1.0", &server("1.1.0"));
    let network = run.network("net");
    let api = run.run_with(
        "api",
        &[
            "--network",
            &network,
            "--network-alias",
            "api",
            "--label",
            "tidewatch.update.order=start-first",
        ],
        &v1.reference,
        &[],
    );
    // The static busybox's `wget` crashes inside a container; its `nc` does not.
    let probe = "while true; do \
        r=$(printf 'GET /version HTTP/1.0\\r\\n\\r\\n' | busybox nc -w 1 api 8080); \
        case \"$r\" in *' 200 '*) echo ok;; *) echo fail;; esac; \
        sleep 0.01; done";
    let client = run.run_with(
        "client",
        &["--network", &network],
        &v1.reference,
        &["sh", "-c", probe],
    );
    let logs = || run.docker(&["logs", "--timestamps", &client.id]);
    let start = Instant::now();
    while !logs().contains(" ok") {
        assert!(
            start.elapsed() < Duration::from_secs(30),
            "api never answered"
        );
        std::thread::sleep(Duration::from_millis(100));
    }
    let since = support::update::engine_time(run);

    let out = update(&api.name);
    assert!(out.stderr.contains("beside the old one"), "{out}");
    std::thread::sleep(Duration::from_secs(1));
    let until = support::update::engine_time(run);
    let lines = run.docker(&[
        "logs",
        "--timestamps",
        "--since",
        &since,
        "--until",
        &until,
        &client.id,
    ]);
    let probes: Vec<(Duration, bool)> = lines
        .lines()
        .filter_map(|line| {
            let (at, outcome) = line.split_once(' ')?;
            Some((nanos_of_day(at)?, outcome.trim() == "ok"))
        })
        .collect();
    Tally::of(&probes)
}

/// `2026-12-06T11:20:01.123456789Z` → the time of day: enough to subtract two within one run.
fn nanos_of_day(timestamp: &str) -> Option<Duration> {
    let time = timestamp.split_once('T')?.1.trim_end_matches('Z');
    let (hms, fraction) = time.split_once('.').unwrap_or((time, "0"));
    let mut parts = hms.split(':').map(|p| p.parse::<u64>().ok());
    let (h, m, s) = (parts.next()??, parts.next()??, parts.next()??);
    let nanos: u64 = format!("{fraction:0<9}").get(..9)?.parse().ok()?;
    Some(Duration::from_secs(h * 3600 + m * 60 + s) + Duration::from_nanos(nanos))
}

fn main() {
    let run = TestRun::new();
    let registry = run.registry();
    eprintln!("building images, starting containers…");
    let stop_first = stop_first(&run, &registry);
    let start_first = start_first(&run, &registry);
    println!("downtime bench: one update of a busybox httpd, defaults otherwise");
    println!(
        "{:<12} {:>6} {:>7} {:>10}",
        "order", "sent", "failed", "gap ms"
    );
    stop_first.print("stop-first");
    start_first.print("start-first");
}
