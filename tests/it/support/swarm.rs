//! A private engine in Swarm mode, a one-node Swarm of its own: the shared engine never joins a
//! Swarm (parallel tests would see its services), so each Swarm test starts a [`PrivateEngine`]
//! and makes it a manager.
//!
//! Swarm adds a bridge to the host, `docker_gwbridge`, which by default takes the first free
//! private range and, on a busy machine, can take routes another engine's bridge needs. So it
//! is created before `swarm init`, under a name of our own (`twgw…`) and on a /24 that overlaps
//! no route of the host, and removed when the Swarm goes, pass or fail, with the engine's own
//! bridge. The Swarm listens on loopback ports of its own (control and data path), so that two
//! Swarm tests running at once do not meet on Docker's fixed 2377 and 4789.

use super::engine::PrivateEngine;
use super::process::{self, Output};
use std::net::{TcpListener, UdpSocket};
use std::process::Command;
use std::time::{Duration, Instant};

/// A service converges within seconds; a loaded machine with parallel builds takes longer.
const CONVERGE: Duration = Duration::from_secs(120);

pub struct Swarm {
    /// `None` only while dropping: the engine must stop before its gateway bridge can go.
    engine: Option<PrivateEngine>,
    /// The `docker_gwbridge` interface, `twgw<hex>`.
    gateway: String,
}

impl Swarm {
    /// A private engine, its `docker_gwbridge` on a free /24, then `swarm init` on loopback.
    pub fn start() -> Swarm {
        let engine = PrivateEngine::start();
        let gateway = format!(
            "twgw{:08x}",
            std::process::id() ^ (u32::from(engine.tcp_port()) << 16)
        );
        let swarm = Swarm {
            engine: Some(engine),
            gateway,
        };
        let mut created = false;
        for subnet in candidate_subnets() {
            if overlaps_a_route(&subnet) {
                continue;
            }
            let bridge_name = format!("com.docker.network.bridge.name={}", swarm.gateway);
            let out = swarm.docker_output(&[
                "network",
                "create",
                "--subnet",
                &subnet,
                "--opt",
                &bridge_name,
                "--opt",
                "com.docker.network.bridge.enable_icc=false",
                "--opt",
                "com.docker.network.bridge.enable_ip_masquerade=false",
                "docker_gwbridge",
            ]);
            if out.success() {
                created = true;
                break;
            }
            assert!(
                out.stderr.contains("overlap"),
                "docker_gwbridge not created for another reason than an overlap:\n{out}"
            );
        }
        assert!(
            created,
            "no free /24 for docker_gwbridge under 10.248.0.0/14"
        );
        let control = format!("127.0.0.1:{}", free_tcp_port());
        let data_port = free_udp_port().to_string();
        swarm.docker(&[
            "swarm",
            "init",
            "--advertise-addr",
            &control,
            "--listen-addr",
            &control,
            "--data-path-port",
            &data_port,
        ]);
        swarm
    }

    pub fn engine(&self) -> &PrivateEngine {
        self.engine.as_ref().expect("the engine runs until drop")
    }

    /// The manager's socket, for `TIDEWATCH_WATCHER_<NAME>_SOCKET`.
    pub fn socket(&self) -> String {
        self.engine().socket().display().to_string()
    }

    /// `docker -H <manager> ARGS`; panics with the output unless it succeeds.
    #[track_caller]
    pub fn docker(&self, args: &[&str]) -> String {
        let out = self.docker_output(args);
        assert!(out.success(), "{out}");
        out.stdout.trim().to_string()
    }

    /// `docker -H <manager> ARGS`, whatever the outcome.
    pub fn docker_output(&self, args: &[&str]) -> Output {
        let host = format!("unix://{}", self.engine().socket().display());
        let mut cmd = Command::new("docker");
        cmd.arg("-H").arg(&host).args(args);
        process::run(&mut cmd, None, Duration::from_secs(120)).unwrap_or_else(|why| panic!("{why}"))
    }

    /// `docker service inspect --format '{{json FIELD}}' SERVICE`, parsed.
    #[track_caller]
    pub fn service_json(&self, service: &str, field: &str) -> serde_json::Value {
        let out = self.docker(&[
            "service",
            "inspect",
            "--format",
            &format!("{{{{json {field}}}}}"),
            service,
        ]);
        serde_json::from_str(&out)
            .unwrap_or_else(|err| panic!("{field} is not JSON ({err}): {out}"))
    }

    /// The images of the running task containers of `service`, one per container.
    pub fn task_images(&self, service: &str) -> Vec<String> {
        let filter = format!("label=com.docker.swarm.service.name={service}");
        let ids = self.docker(&["ps", "--quiet", "--filter", &filter]);
        ids.split_whitespace()
            .map(|id| self.docker(&["inspect", "--format", "{{.Config.Image}}", id]))
            .collect()
    }

    /// Waits until `service` runs `replicas` tasks, all on `image` (as Swarm pins it,
    /// `repo:tag@sha256:…`), and no other container of it is running.
    #[track_caller]
    pub fn wait_converged(&self, service: &str, replicas: usize, image: &str) {
        let deadline = Instant::now() + CONVERGE;
        loop {
            let images = self.task_images(service);
            if images.len() == replicas && images.iter().all(|i| i == image) {
                return;
            }
            assert!(
                Instant::now() < deadline,
                "{service} did not converge on {replicas} tasks of {image}: {images:?}\n{}",
                self.docker(&["service", "ps", "--no-trunc", service])
            );
            std::thread::sleep(Duration::from_millis(500));
        }
    }
}

impl Drop for Swarm {
    fn drop(&mut self) {
        // Services and their tasks go with the Swarm; the gateway network is then unused.
        // Never a panic here: this runs while a failed test unwinds.
        let host = format!("unix://{}", self.engine().socket().display());
        for args in [
            &["swarm", "leave", "--force"][..],
            &["network", "rm", "docker_gwbridge"][..],
        ] {
            let mut cmd = Command::new("docker");
            cmd.arg("-H").arg(&host).args(args);
            if let Err(why) = process::run(&mut cmd, None, Duration::from_secs(120)) {
                eprintln!("warning: Swarm cleanup: {why}");
            }
        }
        drop(self.engine.take());
        // Whatever the engine left of it: the bridge must not outlive the test.
        let _ = Command::new("ip")
            .args(["link", "del", &self.gateway])
            .stderr(std::process::Stdio::null())
            .status();
    }
}

/// /24s under 10.248.0.0/14, from a point that differs per process, so that parallel tests
/// rarely try the same one. (The shared engine's test networks use 10.200.0.0/13.)
fn candidate_subnets() -> impl Iterator<Item = String> {
    let seed = std::process::id().wrapping_mul(7919);
    (0..64u32).map(move |attempt| {
        let n = seed.wrapping_add(attempt.wrapping_mul(31)) % (4 * 256);
        format!("10.{}.{}.0/24", 248 + n / 256, n % 256)
    })
}

/// Whether `subnet` overlaps a route of the host: a bridge there would take its traffic.
fn overlaps_a_route(subnet: &str) -> bool {
    let out = Command::new("ip")
        .args(["-4", "route", "show"])
        .output()
        .expect("ip route (iproute2)");
    let routes = String::from_utf8_lossy(&out.stdout);
    let Some(ours) = cidr(subnet) else {
        return true;
    };
    routes
        .lines()
        .filter_map(|line| line.split_whitespace().next())
        .filter(|dst| *dst != "default")
        .filter_map(cidr)
        .any(|theirs| {
            let len = ours.1.min(theirs.1);
            let mask = if len == 0 { 0 } else { u32::MAX << (32 - len) };
            ours.0 & mask == theirs.0 & mask
        })
}

/// `a.b.c.d/len` (or a bare address, a /32) as a number and a prefix length.
fn cidr(text: &str) -> Option<(u32, u32)> {
    let (addr, len) = text.split_once('/').unwrap_or((text, "32"));
    let addr: std::net::Ipv4Addr = addr.parse().ok()?;
    Some((u32::from(addr), len.parse().ok()?))
}

fn free_tcp_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .expect("a free TCP port")
        .port()
}

/// Swarm wants its data path port below 49152; try until the kernel offers one.
fn free_udp_port() -> u16 {
    for _ in 0..100 {
        let port = UdpSocket::bind("127.0.0.1:0")
            .and_then(|s| s.local_addr())
            .expect("a free UDP port")
            .port();
        if (1024..49152).contains(&port) {
            return port;
        }
    }
    // The kernel's ephemeral range is above 49151 on this machine: pick one in the range.
    (0..1000u16)
        .map(|i| 40000 + (std::process::id() as u16 % 9000).wrapping_add(i) % 9000)
        .find(|port| UdpSocket::bind(("127.0.0.1", *port)).is_ok())
        .expect("a free UDP port under 49152")
}

/// `tidewatch ARGS` as [`super::tidewatch`] runs it, with room for Swarm's rolling updates,
/// which take a monitor period per batch of tasks.
pub fn tidewatch_swarm(args: &[&str], env: &[(&str, &str)]) -> Output {
    let mut cmd = super::tidewatch_command(args, env);
    process::run(&mut cmd, None, Duration::from_secs(300)).unwrap_or_else(|why| panic!("{why}"))
}
