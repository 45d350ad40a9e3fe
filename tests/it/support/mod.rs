//! What every integration test stands on: a [`TestRun`] that owns everything a test creates on
//! the Docker engine, a private [`Registry`], tiny busybox images, and the binary under test;
//! for the registry client's tests also a token service ([`token_server`]) and a registry that
//! misbehaves on cue ([`rogue`]).
//!
//! Tests run in parallel on one engine (nextest: one process per test), so a run names every
//! object after its unique id and labels it `tidewatch.test.run=<id>`; dropping the run removes
//! them, pass or fail (drop runs while a failed assertion unwinds). `.ci/run` sweeps the label
//! too, for runs that were killed before they could clean up.
//!
//! Scenes are set with the `docker` CLI, never with the crate's own `docker` module: the code
//! under test must not be the judge of itself.

// Helpers serve test modules still being written; an unused one is not a mistake.
#![allow(dead_code)]

pub mod browser;
mod docker;
pub mod engine;
pub mod events;
mod http;
mod image;
mod process;
pub mod receiver;
mod registry;
pub mod rogue;
mod server;
pub mod smtp;
pub mod swarm;
mod tidewatch;
pub mod token_server;
pub mod update;

// The API of this module in one place, whether or not a test uses each part yet.
#[allow(unused_imports)]
pub use http::Response;
pub use http::request as http_request;
#[allow(unused_imports)]
pub use image::{Image, ImageSpec, Pushed};
pub use process::Output;
#[allow(unused_imports)]
pub use registry::{
    Auth, INDEX_ACCEPT, MANIFEST_ACCEPT, Registry, RegistryOptions, TokenAuth, sha256_digest,
};
pub use tidewatch::{command as tidewatch_command, fresh_store_dir, tidewatch};

use std::hash::{BuildHasher, Hasher};
use std::path::PathBuf;
use std::sync::Mutex;
use std::sync::OnceLock;
use std::sync::atomic::{AtomicUsize, Ordering};
use tempfile::TempDir;

/// The label on every object a test creates; its value is the run id.
pub const RUN_LABEL: &str = "tidewatch.test.run";

/// A container a test started.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Container {
    /// Full name, prefixed with the run id.
    pub name: String,
    /// Full 64-hex ID.
    pub id: String,
}

/// The id of the newest [`TestRun`] of this thread (a test's own thread under `cargo test`), and
/// of this process for the threads a test spawns (nextest runs each test in a process of its
/// own). See [`own_scope`].
static CURRENT: Mutex<Option<String>> = Mutex::new(None);
thread_local! {
    static CURRENT_HERE: std::cell::RefCell<Option<String>> = const { std::cell::RefCell::new(None) };
}

/// A watcher `include` of the current test's containers only, the names [`TestRun::name`]
/// makes and the compose projects made from them (which lose their dashes). The engine is
/// shared: a tidewatch that checked every container would ask other tests' registries and count
/// their requests, and see their containers come and go.
pub fn own_scope() -> Option<String> {
    let id = CURRENT_HERE
        .with(|here| here.borrow().clone())
        .or_else(|| CURRENT.lock().unwrap_or_else(|e| e.into_inner()).clone())?;
    Some(format!("{id}-.*,{}.*", id.replace('-', "")))
}

/// One test's footprint on the engine. Create one per test, first thing; everything it made
/// is removed when it is dropped.
pub struct TestRun {
    id: String,
    /// The docker client configuration (logins), busybox rootfs and image tars.
    dir: TempDir,
    rootfs: OnceLock<PathBuf>,
    builds: AtomicUsize,
    /// Every reference this run tagged, for images that lose the label (none today) or are
    /// re-tagged by a test.
    tags: Mutex<Vec<String>>,
}

impl TestRun {
    /// Panics with one clear message when the engine is not reachable: a test that needs Docker
    /// never passes without it.
    #[track_caller]
    pub fn new() -> TestRun {
        docker::require_engine();
        let dir = tempfile::Builder::new()
            .prefix("tidewatch-test-")
            .tempdir()
            .expect("create test temp dir");
        std::fs::create_dir_all(dir.path().join("docker")).expect("create docker config dir");
        let id = unique_id();
        *CURRENT.lock().unwrap_or_else(|e| e.into_inner()) = Some(id.clone());
        CURRENT_HERE.with(|here| *here.borrow_mut() = Some(id.clone()));
        TestRun {
            id,
            dir,
            rootfs: OnceLock::new(),
            builds: AtomicUsize::new(0),
            tags: Mutex::new(Vec::new()),
        }
    }

    /// `tw-<pid>-<counter>-<random>`: unique across parallel processes and earlier runs, and
    /// valid in container names and image repositories alike.
    pub fn id(&self) -> &str {
        &self.id
    }

    /// A watcher `include` of this run's containers only (their names start with the id): a
    /// daemon on the shared engine must not check, count or forget other tests' containers.
    pub fn own_names(&self) -> String {
        format!("{}-.*", self.id)
    }

    /// `tidewatch.test.run=<id>`, as `--label` and `--filter label=` take it.
    pub fn label(&self) -> String {
        format!("{RUN_LABEL}={}", self.id)
    }

    /// A name no other test uses: `<id>-<what>`.
    pub fn name(&self, what: &str) -> String {
        format!("{}-{what}", self.id)
    }

    /// The docker client configuration directory (`DOCKER_CONFIG`) of this run: registry logins
    /// land here, never in `~/.docker`. Pass it to tidewatch when it should see them.
    pub fn docker_config(&self) -> PathBuf {
        self.dir.path().join("docker")
    }

    /// `docker ARGS`, whatever the outcome, for tests that expect a failure.
    pub fn docker_output(&self, args: &[&str]) -> Output {
        docker::docker(&self.docker_config(), args, None)
    }

    /// `docker ARGS`; panics unless it succeeds; returns stdout, trimmed.
    #[track_caller]
    pub fn docker(&self, args: &[&str]) -> String {
        let out = self.docker_output(args);
        out.assert_success();
        out.stdout.trim().to_string()
    }

    /// `docker inspect --format FORMAT TARGET` (a container or an image).
    #[track_caller]
    pub fn inspect(&self, target: &str, format: &str) -> String {
        self.docker(&["inspect", "--format", format, target])
    }

    /// `docker inspect --format '{{json FIELD}}' TARGET`, parsed: a field compared whole.
    #[track_caller]
    pub fn inspect_json(&self, target: &str, field: &str) -> serde_json::Value {
        let out = self.inspect(target, &format!("{{{{json {field}}}}}"));
        serde_json::from_str(&out)
            .unwrap_or_else(|err| panic!("{field} is not JSON ({err}): {out}"))
    }

    /// A private registry with default options: anonymous, delete enabled.
    pub fn registry(&self) -> Registry {
        self.registry_with(RegistryOptions::default())
    }

    pub fn registry_with(&self, options: RegistryOptions) -> Registry {
        Registry::start(&self.id, &self.docker_config(), &options)
    }

    /// Builds a busybox image whose `/version` holds `version`, tagged `reference`.
    pub fn image(&self, reference: &str, version: &str) -> Image {
        self.build(reference, &ImageSpec::version(version))
    }

    /// Builds an image to `spec`, tagged `reference` and labelled with this run.
    pub fn build(&self, reference: &str, spec: &ImageSpec) -> Image {
        let rootfs = self.rootfs.get_or_init(|| {
            let rootfs = self.dir.path().join("rootfs");
            image::build_rootfs(&rootfs);
            rootfs
        });
        let n = self.builds.fetch_add(1, Ordering::Relaxed);
        let build = format!("{}-{n}", self.id);
        let tar = image::tar_image(
            rootfs,
            &self.dir.path().join(format!("image-{n}")),
            spec,
            &build,
        );
        self.remember_tag(reference);
        let mut args = vec!["import".to_string()];
        for change in image::import_changes(spec, &self.label()) {
            args.push("--change".into());
            args.push(change);
        }
        args.push(tar.to_string_lossy().into_owned());
        args.push(reference.to_string());
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        let id = self.docker(&args);
        assert!(
            id.starts_with("sha256:"),
            "docker import printed {id:?}, not an image ID"
        );
        let _ = std::fs::remove_file(&tar);
        Image {
            reference: reference.to_string(),
            id,
        }
    }

    /// Builds `repo:tag` (version = tag) and pushes it to `registry`.
    pub fn push(&self, registry: &Registry, repo: &str, tag: &str) -> Pushed {
        self.push_spec(registry, repo, tag, &ImageSpec::version(tag))
    }

    /// Builds `repo:tag` to `spec` and pushes it; the digest is the one the registry then serves
    /// for the tag, checked against what `docker push` reported.
    pub fn push_spec(
        &self,
        registry: &Registry,
        repo: &str,
        tag: &str,
        spec: &ImageSpec,
    ) -> Pushed {
        let image = self.build(&registry.reference(repo, tag), spec);
        registry.login();
        let pushed = self.docker(&["push", &image.reference]);
        let digest = registry
            .manifest_digest(repo, tag)
            .unwrap_or_else(|| panic!("registry has no {repo}:{tag} after docker push"));
        if let Some(reported) = pushed.split("digest: ").nth(1) {
            let reported = reported.split_whitespace().next().unwrap_or_default();
            assert_eq!(
                reported, digest,
                "docker push and the registry disagree on the digest"
            );
        }
        Pushed {
            repo_digest: format!("{}/{repo}@{digest}", registry.addr()),
            reference: image.reference,
            digest,
            id: image.id,
        }
    }

    /// Also tags `source` as `target`, and remembers to remove the tag.
    pub fn tag(&self, source: &str, target: &str) {
        self.remember_tag(target);
        self.docker(&["tag", source, target]);
    }

    /// `docker run -d` of `image` with `args` as its command, named `<id>-<name>`, labelled.
    pub fn run(&self, name: &str, image: &str, args: &[&str]) -> Container {
        self.run_with(name, &[], image, args)
    }

    /// As [`TestRun::run`], with extra `docker run` options (`-p 127.0.0.1::80`, `--network …`).
    pub fn run_with(&self, name: &str, options: &[&str], image: &str, args: &[&str]) -> Container {
        let name = self.name(name);
        let label = self.label();
        let mut all = vec!["run", "-d", "--name", &name, "--label", &label];
        all.extend_from_slice(options);
        all.push(image);
        all.extend_from_slice(args);
        let id = self.docker(&all);
        assert_eq!(
            id.len(),
            64,
            "docker run printed {id:?}, not a container ID"
        );
        Container { name, id }
    }

    /// Stops at once: the images' `sleep` is PID 1 and ignores SIGTERM, so a grace period would
    /// only be waited out.
    pub fn stop(&self, container: &Container) {
        self.docker(&["stop", "-t", "0", &container.id]);
    }

    /// The host port on 127.0.0.1 that `container_port` (`80/tcp`) is published on. Tests reach
    /// containers only this way, never by container IP.
    pub fn port(&self, container: &Container, container_port: &str) -> u16 {
        let out = self.docker(&["port", &container.id, container_port]);
        out.lines()
            .find_map(|line| line.strip_prefix("127.0.0.1:"))
            .and_then(|port| port.trim().parse().ok())
            .unwrap_or_else(|| {
                panic!(
                    "{container_port} of {} not on 127.0.0.1: {out}",
                    container.name
                )
            })
    }

    /// A labelled network named `<id>-<name>`.
    pub fn network(&self, name: &str) -> String {
        let name = self.name(name);
        self.docker(&["network", "create", "--label", &self.label(), &name]);
        name
    }

    /// A labelled network named `<id>-<what>` with a /24 of its own under 10.200.0.0/13, which a
    /// static IP needs. Parallel tests and other networks on this engine hold some subnets: an
    /// overlap moves on to the next candidate. Returns its name and the subnet's first three
    /// octets.
    pub fn network_with_subnet(&self, what: &str) -> (String, String) {
        let name = self.name(what);
        let seed = std::process::id().wrapping_mul(31);
        for attempt in 0..40u32 {
            let n = seed.wrapping_add(attempt.wrapping_mul(7919)) % (40 * 256);
            let prefix = format!("10.{}.{}", 200 + n / 256, n % 256);
            let subnet = format!("{prefix}.0/24");
            let label = self.label();
            let out = self.docker_output(&[
                "network", "create", "--label", &label, "--subnet", &subnet, &name,
            ]);
            if out.success() {
                return (name, prefix);
            }
            assert!(
                out.stderr.contains("overlap"),
                "network create failed for another reason than an overlap:\n{out}"
            );
        }
        panic!("no free /24 in 10.200.0.0/13 for network {name}");
    }

    /// A labelled volume named `<id>-<name>`.
    pub fn volume(&self, name: &str) -> String {
        let name = self.name(name);
        self.docker(&["volume", "create", "--label", &self.label(), &name]);
        name
    }

    fn remember_tag(&self, reference: &str) {
        self.tags
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
            .push(reference.to_string());
    }

    /// IDs of this run's objects of one kind (`ps -a`, `network ls`, `volume ls`, `images`).
    fn labelled(&self, list: &[&str]) -> Vec<String> {
        let filter = format!("label={}", self.label());
        let mut args = list.to_vec();
        args.extend(["--quiet", "--filter", &filter]);
        let out = self.docker_output(&args);
        if !out.success() {
            eprintln!("warning: cleanup cannot list objects:\n{out}");
            return Vec::new();
        }
        let mut ids: Vec<String> = out.stdout.split_whitespace().map(str::to_string).collect();
        ids.sort();
        ids.dedup();
        ids
    }

    /// Removes `ids` with `docker REMOVE… ids`; a failure is reported but must not panic, since
    /// this runs in `drop`, possibly while a failed test unwinds.
    fn remove(&self, remove: &[&str], ids: &[String]) {
        if ids.is_empty() {
            return;
        }
        let mut args = remove.to_vec();
        args.extend(ids.iter().map(String::as_str));
        let out = self.docker_output(&args);
        if !out.success() && !out.stderr.contains("No such image") {
            eprintln!(
                "warning: cleanup of test run {} incomplete:\n{out}",
                self.id
            );
        }
    }
}

impl Drop for TestRun {
    fn drop(&mut self) {
        // Containers first: they hold networks, volumes and images.
        self.remove(
            &["rm", "--force", "--volumes"],
            &self.labelled(&["ps", "--all"]),
        );
        self.remove(&["network", "rm"], &self.labelled(&["network", "ls"]));
        self.remove(
            &["volume", "rm", "--force"],
            &self.labelled(&["volume", "ls"]),
        );
        self.remove(&["rmi", "--force"], &self.labelled(&["images", "--all"]));
        let tags = std::mem::take(
            self.tags
                .get_mut()
                .unwrap_or_else(|poisoned| poisoned.into_inner()),
        );
        // Already gone with their labelled image, unless a test tagged a foreign image.
        for tag in tags {
            let out = self.docker_output(&["image", "inspect", "--format", "{{.Id}}", &tag]);
            if out.success() {
                self.remove(&["rmi", "--force"], &[tag]);
            }
        }
    }
}

/// `tw-<pid>-<counter>-<random>`: the pid and counter keep parallel tests apart, the random part
/// keeps a reused pid from meeting the leftovers of an earlier, killed run.
fn unique_id() -> String {
    static COUNTER: AtomicUsize = AtomicUsize::new(0);
    let n = COUNTER.fetch_add(1, Ordering::Relaxed);
    // std's hasher keys are random per process: enough randomness for a name, without a crate.
    let mut hasher = std::collections::hash_map::RandomState::new().build_hasher();
    hasher.write_usize(n);
    hasher.write_u128(
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_nanos())
            .unwrap_or_default(),
    );
    let random = hasher.finish() & 0xff_ffff;
    format!("tw-{}-{n}-{random:06x}", std::process::id())
}

/// For benches: user plus system CPU time of this process, all threads, in milliseconds.
pub fn cpu_ms() -> f64 {
    // SAFETY: getrusage only writes the struct it is given.
    let usage = unsafe {
        let mut usage: libc::rusage = std::mem::zeroed();
        libc::getrusage(libc::RUSAGE_SELF, &mut usage);
        usage
    };
    let ms = |t: libc::timeval| t.tv_sec as f64 * 1000.0 + t.tv_usec as f64 / 1000.0;
    ms(usage.ru_utime) + ms(usage.ru_stime)
}
