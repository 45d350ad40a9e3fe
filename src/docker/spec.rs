//! The recreate rules: what of an old container its successor on a new image keeps, and what is
//! reset to the new image's defaults. Pure functions over the engine's inspect data, so that
//! every rule is a unit test; the update executor does the I/O.
//!
//! Watchtower's semantics (`GetCreateConfig`, `GetCreateHostConfig`, `StartContainer`), plus
//! what its issue tracker shows it loses. The inspect of a container merges the image's
//! defaults with what the user set at `docker run`, so each default is recognised by comparing
//! with the *old* image's config, and left out: the engine then fills in the *new* image's
//! defaults at create. That is also why the new image's config is not an input here.
//!
//! - `Config`: the old one with `Image` set to the new reference. `Env` entries and `Labels`
//!   equal to one of the old image's are dropped, user ones kept (an entry the user set to
//!   exactly the image's value cannot be told apart, and follows the image). `Entrypoint`,
//!   `WorkingDir`, `User`, `StopSignal`, `ArgsEscaped`, `OnBuild`, `Shell` are unset when equal
//!   to the image's; `Cmd` likewise, but only when the entrypoint came from the image too: a
//!   user's entrypoint stops the engine from applying the image's `Cmd`, so the container's
//!   `Cmd` is the user's even when it happens to equal the image's. `Healthcheck` is reset field
//!   by field (the engine merges it field by field). `Volumes` and `ExposedPorts` lose the
//!   image's entries, and every published port stays exposed: the engine publishes only exposed
//!   ports, and a new image may stop exposing one.
//! - Hostname: the engine's default, the first 12 characters of the old container's ID, is
//!   dropped (Watchtower issue #1251: the new container would carry its predecessor's name).
//!   A user's hostname is kept. In `container:` mode it is always dropped: the inspect shows the
//!   other container's, and the engine refuses a hostname in that mode. In `host` mode the
//!   engine fills in the host's name; it is kept, since it cannot be told apart from a user's
//!   here (harmless unless the host is renamed). `Domainname` is kept unless empty.
//! - `HostConfig`: kept as is (ports, binds, mounts, restart policy, resources, devices,
//!   capabilities, logging…), except `Links`, which the inspect shows as `/db:/web/db` and
//!   which are given back as `db:db`, the form create takes.
//! - Anonymous volumes ([`carry_anonymous_volumes`]) move to the successor with their data, as
//!   compose does (Watchtower gives it new, empty ones): one declared in `HostConfig.Mounts`
//!   (`--mount type=volume,dst=/x`, compose v2's `volumes: [/x]`) gets the old volume as its
//!   `Source`, keeping its options; any other (an image's `VOLUME`, `-v /x`) becomes a bind of
//!   the old volume by name. Never both for one destination: the engine refuses a duplicate
//!   mount point, and every update would roll back.
//! - Networks: the primary network (`HostConfig.NetworkMode`) is the one endpoint given at
//!   create (engines before API 1.44 take only one); every other network is to be connected
//!   after create, in order of name. Each endpoint keeps `Aliases` minus the old container's
//!   ID (full or short, which the engine adds itself and which would pile up over updates),
//!   `Links`, `DriverOpts`, `GwPriority` and the user's static addresses (`IPAMConfig`:
//!   Watchtower issue #1912); the runtime fields (`NetworkID`, `EndpointID`, `Gateway`,
//!   `IPAddress`, `IPPrefixLen`, `IPv6Gateway`, `GlobalIPv6Address`, `DNSNames`…) are dropped.
//!   When the container was disconnected from its primary network but is on others, the first
//!   of those by name becomes the primary, so the successor is on exactly the same networks.
//!   `host`, `none` and `container:` modes have no endpoints.
//! - MAC address (Watchtower issue #1941): an endpoint's `MacAddress` in the inspect may be one
//!   the engine generated, and keeping that one duplicates MACs once IPs move (moby#48168). The
//!   only sign of a user's MAC is the container's `Config.MacAddress` (filled by engines only for
//!   a configured MAC, moby#47233), which bollard's `ContainerConfig` does not carry: the caller
//!   reads it from the raw inspect and passes it. It goes on the primary endpoint; other
//!   endpoints get no MAC, since nothing tells a user's from a generated one there. Engines
//!   before API 1.44 read a MAC only from `Config.MacAddress`, which `ContainerCreateBody`
//!   cannot carry: for those the caller sends the create request itself (`docker::raw`).

use bollard::models::{
    ContainerConfig, ContainerCreateBody, ContainerInspectResponse, EndpointIpamConfig,
    EndpointSettings, HealthConfig, HostConfig, ImageConfig, ImageInspect, MountType,
    NetworkingConfig,
};
use std::collections::{BTreeMap, BTreeSet, HashMap, HashSet};
use std::time::Duration;

/// Labels that name the signal that stops a container, strongest first: tidewatch's own, then
/// Watchtower's. Kept here, the only reader, until `labels.rs` reads container inspect data.
pub const STOP_SIGNAL_LABELS: [&str; 2] = [
    "tidewatch.stop-signal",
    "com.centurylinklabs.watchtower.stop-signal",
];

/// Length of the short ID the engine uses as default hostname and network alias.
const SHORT_ID: usize = 12;

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SpecError {
    /// The engine's inspect of the container lacks something a re-create needs.
    #[error("the inspect of the container has no {0}")]
    Incomplete(&'static str),
}

/// How to create the successor of a container.
#[derive(Debug, Clone, PartialEq)]
pub struct Recreate {
    /// The old container's name, without the leading `/`.
    pub name: String,
    /// The body of `POST /containers/create`, with the primary network's endpoint.
    pub body: ContainerCreateBody,
    /// The other networks to connect after create, in order of name.
    pub connect: Vec<Attachment>,
}

/// A network to connect the new container to, and how.
#[derive(Debug, Clone, PartialEq)]
pub struct Attachment {
    /// The network's name, as the old container's inspect keyed it.
    pub network: String,
    pub endpoint: EndpointSettings,
}

/// The successor of `container` on `image` (a reference, as `Config.Image` takes it).
/// `old_image` is the inspect of the image the container was created from: its defaults are
/// what is reset. `configured_mac` is the container's `Config.MacAddress`, read from the raw
/// inspect (see the module docs); `None` lets the engine generate a MAC.
pub fn recreate(
    container: &ContainerInspectResponse,
    old_image: &ImageInspect,
    image: &str,
    configured_mac: Option<&str>,
) -> Result<Recreate, SpecError> {
    let id = container
        .id
        .as_deref()
        .filter(|id| !id.is_empty())
        .ok_or(SpecError::Incomplete("Id"))?;
    let name = container
        .name
        .as_deref()
        .map(|name| name.trim_start_matches('/'))
        .filter(|name| !name.is_empty())
        .ok_or(SpecError::Incomplete("Name"))?;
    let config = container
        .config
        .as_ref()
        .ok_or(SpecError::Incomplete("Config"))?;
    let mut host_config = container
        .host_config
        .clone()
        .ok_or(SpecError::Incomplete("HostConfig"))?;
    let defaults = old_image.config.clone().unwrap_or_default();

    let network_mode = host_config
        .network_mode
        .clone()
        .filter(|mode| !mode.is_empty())
        .unwrap_or_else(|| "default".to_string());
    let mode = Mode::of(&network_mode);

    let mut body = create_config(config, &defaults, id, &mode, &host_config);
    body.image = Some(image.to_string());
    host_config.links = host_config
        .links
        .take()
        .map(|links| links.iter().map(|link| create_link(link)).collect());

    let (primary, connect) = match mode {
        Mode::Network(network) => {
            let mut endpoints: BTreeMap<&str, &EndpointSettings> = container
                .network_settings
                .as_ref()
                .and_then(|settings| settings.networks.as_ref())
                .into_iter()
                .flatten()
                .map(|(name, endpoint)| (name.as_str(), endpoint))
                .collect();
            let key = endpoints
                .iter()
                .find(|(name, endpoint)| is_network(name, endpoint, network))
                .map(|(name, _)| *name)
                .or_else(|| {
                    // Disconnected from its primary network: another one takes its place, or the
                    // engine would attach the successor to a network its predecessor left.
                    let first = endpoints.keys().next().copied()?;
                    host_config.network_mode = Some(first.to_string());
                    Some(first)
                });
            let primary = key.and_then(|key| {
                let mut endpoint = create_endpoint(endpoints.remove(key)?, id);
                endpoint.mac_address = configured_mac
                    .filter(|mac| !mac.is_empty())
                    .map(str::to_string);
                Some((key.to_string(), endpoint))
            });
            let connect = endpoints
                .into_iter()
                .map(|(network, endpoint)| Attachment {
                    network: network.to_string(),
                    endpoint: create_endpoint(endpoint, id),
                })
                .collect();
            (primary, connect)
        }
        Mode::Host | Mode::None | Mode::Container => (None, Vec::new()),
    };

    body.host_config = Some(host_config);
    body.networking_config = primary.map(|(network, endpoint)| NetworkingConfig {
        endpoints_config: Some(HashMap::from([(network, endpoint)])),
    });
    Ok(Recreate {
        name: name.to_string(),
        body,
        connect,
    })
}

impl Recreate {
    /// The container whose network this one shares (`container:<id or name>`), if any: it is
    /// to be updated first, and this one re-created after it.
    pub fn network_container(&self) -> Option<&str> {
        self.body
            .host_config
            .as_ref()?
            .network_mode
            .as_deref()?
            .strip_prefix("container:")
    }

    /// For a container that shares the network of one just re-created: points
    /// `container:<old>` at `new_id`. `old_id` is the old container's full ID, `old_name` its
    /// name (with or without the `/`). True when this container followed.
    pub fn follow_network_container(&mut self, old_id: &str, old_name: &str, new_id: &str) -> bool {
        let Some(target) = self.network_container() else {
            return false;
        };
        let is_old = target == old_id
            || (target.len() >= SHORT_ID && old_id.starts_with(target))
            || target.trim_start_matches('/') == old_name.trim_start_matches('/');
        if !is_old {
            return false;
        }
        if let Some(host_config) = self.body.host_config.as_mut() {
            host_config.network_mode = Some(format!("container:{new_id}"));
        }
        true
    }
}

/// The signal that stops `container`: a stop-signal label ([`STOP_SIGNAL_LABELS`]), else its
/// `Config.StopSignal` (`docker run --stop-signal`, or the image's `STOPSIGNAL`), else
/// `image`'s; `None` means the engine's default (SIGTERM).
pub fn stop_signal(container: &ContainerInspectResponse, image: &ImageInspect) -> Option<String> {
    let config = container.config.as_ref();
    let labels = config.and_then(|config| config.labels.as_ref());
    let label = STOP_SIGNAL_LABELS
        .iter()
        .find_map(|name| labels?.get(*name).map(|value| value.trim()))
        .filter(|value| !value.is_empty());
    label
        .or_else(|| non_blank(config?.stop_signal.as_deref()))
        .or_else(|| non_blank(image.config.as_ref()?.stop_signal.as_deref()))
        .map(str::to_string)
}

/// Gives the successor `container`'s anonymous volumes (see the module docs): `host_config` is
/// the successor's, as [`recreate`] made it. The executor removes the old container without its
/// volumes, so they survive it.
pub fn carry_anonymous_volumes(container: &ContainerInspectResponse, host_config: &mut HostConfig) {
    let bound: Vec<String> = host_config
        .binds
        .iter()
        .flatten()
        .filter_map(|bind| bind.split(':').nth(1))
        .map(str::to_string)
        .collect();
    for (name, destination, read_only) in anonymous_volumes(container) {
        let declared = host_config.mounts.iter_mut().flatten().find(|mount| {
            mount.target.as_deref().map(|t| t.trim_end_matches('/'))
                == Some(destination.trim_end_matches('/'))
        });
        match declared {
            // Declared without a source: the engine would make a new, empty volume.
            Some(mount)
                if mount.typ == Some(MountType::VOLUME)
                    && non_blank(mount.source.as_deref()).is_none() =>
            {
                mount.source = Some(name.to_string());
            }
            // A bind, tmpfs or named volume there now: not this volume's place any more.
            Some(_) => {}
            None if bound.iter().any(|b| b == destination) => {}
            None => {
                let bind = if read_only {
                    format!("{name}:{destination}:ro")
                } else {
                    format!("{name}:{destination}")
                };
                host_config.binds.get_or_insert_with(Vec::new).push(bind);
            }
        }
    }
}

/// `(name, destination, read-only)` of each anonymous volume `container` has mounted: a volume
/// whose name is the engine's 64 hex digits.
fn anonymous_volumes(container: &ContainerInspectResponse) -> Vec<(&str, &str, bool)> {
    container
        .mounts
        .iter()
        .flatten()
        .filter(|m| m.typ.as_deref() == Some("volume"))
        .filter_map(|m| {
            let name = m.name.as_deref()?;
            let destination = non_blank(m.destination.as_deref())?;
            let anonymous = name.len() == 64 && name.chars().all(|c| c.is_ascii_hexdigit());
            anonymous.then_some((name, destination, m.rw == Some(false)))
        })
        .collect()
}

/// Whether a container whose `Config.Healthcheck` is `health` reports health: a test other
/// than `NONE`. The engine copies the image's health check into the container's config at
/// create, so this is the whole answer for a created container, whatever its image says.
pub fn has_healthcheck(health: Option<&HealthConfig>) -> bool {
    health
        .and_then(|h| h.test.as_ref())
        .and_then(|test| test.first())
        .is_some_and(|first| first != "NONE")
}

/// How long `container` is given to stop before it is killed: its `Config.StopTimeout`
/// (`docker run --stop-timeout`, seconds). `None` when unset, and for a negative value (the
/// engine's "wait forever"): the caller's bounded default applies, since an update must not
/// wait forever.
pub fn stop_timeout(container: &ContainerInspectResponse) -> Option<Duration> {
    let seconds = container.config.as_ref()?.stop_timeout?;
    u64::try_from(seconds).ok().map(Duration::from_secs)
}

/// `HostConfig.NetworkMode`, read.
enum Mode<'a> {
    /// A network: `bridge` for the engine's `default`, or a user-defined one by name or ID.
    Network(&'a str),
    Host,
    None,
    /// `container:<id or name>`: the other container's network namespace.
    Container,
}

impl Mode<'_> {
    fn of(mode: &str) -> Mode<'_> {
        match mode {
            "default" | "bridge" => Mode::Network("bridge"),
            "host" => Mode::Host,
            "none" => Mode::None,
            _ if mode.starts_with("container:") => Mode::Container,
            _ => Mode::Network(mode),
        }
    }
}

/// Whether the endpoint keyed `name` in the inspect is the network `mode` names (by name, or
/// by ID or a unique prefix of it, as `--network` takes them).
fn is_network(name: &str, endpoint: &EndpointSettings, mode: &str) -> bool {
    name == mode
        || endpoint
            .network_id
            .as_deref()
            .is_some_and(|id| id == mode || (mode.len() >= SHORT_ID && id.starts_with(mode)))
}

/// The old `Config` less what came from the old image (`defaults`).
fn create_config(
    old: &ContainerConfig,
    defaults: &ImageConfig,
    id: &str,
    mode: &Mode<'_>,
    host_config: &HostConfig,
) -> ContainerCreateBody {
    let short_id = id.get(..SHORT_ID).unwrap_or(id);
    let hostname = match mode {
        Mode::Container => None,
        _ => non_blank(old.hostname.as_deref())
            .filter(|hostname| *hostname != short_id)
            .map(str::to_string),
    };

    let image_env: HashSet<&str> = strings(&defaults.env).collect();
    let env = old
        .env
        .iter()
        .flatten()
        .filter(|entry| !image_env.contains(entry.as_str()))
        .cloned()
        .collect();

    let image_labels = defaults.labels.as_ref();
    let labels: HashMap<String, String> = old
        .labels
        .iter()
        .flatten()
        .filter(|(key, value)| image_labels.and_then(|labels| labels.get(*key)) != Some(value))
        .map(|(key, value)| (key.clone(), value.clone()))
        .collect();

    let (entrypoint, cmd) = if same_list(&old.entrypoint, &defaults.entrypoint) {
        let cmd = if same_list(&old.cmd, &defaults.cmd) {
            None
        } else {
            old.cmd.clone()
        };
        (None, cmd)
    } else {
        (old.entrypoint.clone(), old.cmd.clone())
    };

    let volumes = minus(&old.volumes, &defaults.volumes);
    // Container mode takes no exposed ports (the engine refuses them); elsewhere every
    // published port stays exposed, whatever the new image exposes.
    let exposed_ports = match mode {
        Mode::Container => Vec::new(),
        _ => {
            let mut ports = minus(&old.exposed_ports, &defaults.exposed_ports);
            ports.extend(
                host_config
                    .port_bindings
                    .iter()
                    .flatten()
                    .map(|(p, _)| p.clone()),
            );
            ports
                .into_iter()
                .collect::<BTreeSet<_>>()
                .into_iter()
                .collect()
        }
    };

    ContainerCreateBody {
        hostname,
        domainname: non_blank(old.domainname.as_deref()).map(str::to_string),
        user: unless_default(&old.user, &defaults.user),
        attach_stdin: old.attach_stdin,
        attach_stdout: old.attach_stdout,
        attach_stderr: old.attach_stderr,
        exposed_ports: non_empty(exposed_ports),
        tty: old.tty,
        open_stdin: old.open_stdin,
        stdin_once: old.stdin_once,
        env: non_empty(env),
        cmd,
        healthcheck: old
            .healthcheck
            .as_ref()
            .and_then(|health| healthcheck(health, defaults.healthcheck.as_ref())),
        args_escaped: old
            .args_escaped
            .filter(|_| old.args_escaped != defaults.args_escaped),
        image: None,
        volumes: non_empty(volumes),
        working_dir: unless_default(&old.working_dir, &defaults.working_dir),
        entrypoint,
        network_disabled: old.network_disabled,
        on_build: old
            .on_build
            .clone()
            .filter(|_| !same_list(&old.on_build, &defaults.on_build)),
        labels: (!labels.is_empty()).then_some(labels),
        stop_signal: unless_default(&old.stop_signal, &defaults.stop_signal),
        stop_timeout: old.stop_timeout,
        shell: old
            .shell
            .clone()
            .filter(|_| !same_list(&old.shell, &defaults.shell)),
        host_config: None,
        networking_config: None,
    }
}

/// The container's healthcheck less the fields equal to the image's; `None` when nothing of
/// its own is left (the engine merges the new image's field by field).
fn healthcheck(old: &HealthConfig, image: Option<&HealthConfig>) -> Option<HealthConfig> {
    let Some(image) = image else {
        return Some(old.clone());
    };
    fn own<T: PartialEq + Clone>(old: &Option<T>, image: &Option<T>) -> Option<T> {
        old.clone().filter(|_| old != image)
    }
    let health = HealthConfig {
        test: own(&old.test, &image.test).filter(|test| !test.is_empty()),
        interval: own(&old.interval, &image.interval).filter(|d| *d != 0),
        timeout: own(&old.timeout, &image.timeout).filter(|d| *d != 0),
        retries: own(&old.retries, &image.retries).filter(|r| *r != 0),
        start_period: own(&old.start_period, &image.start_period).filter(|d| *d != 0),
        start_interval: own(&old.start_interval, &image.start_interval).filter(|d| *d != 0),
    };
    (health != HealthConfig::default()).then_some(health)
}

/// An endpoint as create and connect take it: the user's settings, without what the engine
/// made up at run time.
fn create_endpoint(old: &EndpointSettings, id: &str) -> EndpointSettings {
    let short_id = id.get(..SHORT_ID).unwrap_or(id);
    let mut aliases: Vec<String> = Vec::new();
    for alias in old.aliases.iter().flatten() {
        if alias != id && alias != short_id && !alias.is_empty() && !aliases.contains(alias) {
            aliases.push(alias.clone());
        }
    }
    let ipam_config = old.ipam_config.as_ref().and_then(|ipam| {
        let ipam = EndpointIpamConfig {
            ipv4_address: non_blank(ipam.ipv4_address.as_deref()).map(str::to_string),
            ipv6_address: non_blank(ipam.ipv6_address.as_deref()).map(str::to_string),
            link_local_ips: ipam.link_local_ips.clone().and_then(non_empty),
        };
        (ipam != EndpointIpamConfig::default()).then_some(ipam)
    });
    EndpointSettings {
        ipam_config,
        links: old.links.clone().and_then(non_empty),
        aliases: non_empty(aliases),
        driver_opts: old.driver_opts.clone().filter(|opts| !opts.is_empty()),
        gw_priority: old.gw_priority.filter(|priority| *priority != 0),
        ..Default::default()
    }
}

/// `/db:/web/db` (as inspect shows a link) → `db:db` (as create takes it).
fn create_link(link: &str) -> String {
    match link.split_once(':') {
        Some((name, alias)) => {
            let alias = alias.rsplit('/').next().unwrap_or(alias);
            format!("{}:{alias}", name.trim_start_matches('/'))
        }
        None => link.trim_start_matches('/').to_string(),
    }
}

/// `old` unless it is empty or the image's.
fn unless_default(old: &Option<String>, image: &Option<String>) -> Option<String> {
    let old = non_blank(old.as_deref())?;
    (Some(old) != non_blank(image.as_deref())).then(|| old.to_string())
}

/// Two lists the same, an absent one being empty.
fn same_list(a: &Option<Vec<String>>, b: &Option<Vec<String>>) -> bool {
    a.as_deref().unwrap_or_default() == b.as_deref().unwrap_or_default()
}

/// The entries of `old` that are not in `image`'s.
fn minus(old: &Option<Vec<String>>, image: &Option<Vec<String>>) -> Vec<String> {
    let image: HashSet<&str> = strings(image).collect();
    strings(old)
        .filter(|entry| !image.contains(entry))
        .map(str::to_string)
        .collect()
}

fn strings(list: &Option<Vec<String>>) -> impl Iterator<Item = &str> {
    list.iter().flatten().map(String::as_str)
}

fn non_blank(value: Option<&str>) -> Option<&str> {
    value.filter(|value| !value.is_empty())
}

fn non_empty<T>(list: Vec<T>) -> Option<Vec<T>> {
    (!list.is_empty()).then_some(list)
}

#[cfg(test)]
mod tests;
