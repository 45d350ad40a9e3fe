//! The `mqtt` trigger: WUD's container JSON published to an MQTT broker, as WUD's `mqtt`
//! trigger does, so that what reads it (Home Assistant's MQTT sensors, Node-RED) keeps working.
//!
//! ```sh
//! TIDEWATCH_TRIGGER_MQTT_HASS_URL=mqtt://broker:1883
//! TIDEWATCH_TRIGGER_MQTT_HASS_TOPIC=wud/container       # the default
//! TIDEWATCH_TRIGGER_MQTT_HASS_USER=tidewatch
//! TIDEWATCH_TRIGGER_MQTT_HASS_PASSWORD__FILE=/run/secrets/mqtt
//! ```
//!
//! Each container a message tells of is published, retained and at QoS 1, to
//! `<topic>/<watcher>/<name>` (dots in the name become `-`, as WUD does) as WUD's container JSON
//! flattened with `_` (`image_tag_value`, `update_kind_semver_diff`, …), WUD's `flatten`. A
//! batch publishes one message per container: a topic holds one container's state, never a list.
//! The title and body templates are not used.
//!
//! Each send connects, publishes, waits for the broker's acknowledgements and disconnects:
//! messages are rare, and a connection held open would need its own reconnect logic. The
//! runner's `timeout` bounds the whole exchange.
//!
//! `mqtts://` (port 8883 by default) speaks TLS through rustls, with WUD's `tls.cachain`,
//! `tls.clientcert`/`tls.clientkey` and `tls.rejectunauthorized`; the files are read at start-up.
//!
//! With `hass.enabled` (and `hass.discovery`, default true then), each container also gets WUD's
//! Home Assistant `update` entity: its discovery config, retained, at
//! `<hass.prefix>/update/<topic with / as _>/config`, published before its state.
//!
//! Not supported yet, said clearly rather than half done: MQTT over WebSocket (`ws://`, `wss://`
//! are refused) and WUD's other Home Assistant sensors (container counts, update status, watcher
//! running, connection status with its last will): `hass.enabled` is warned about at start-up.

use super::template::{Defaults, Entry};
use super::{Message, Notifier, TriggerError, wud};
use crate::config::{MqttConfig, MqttTlsConfig, Secret};
use crate::trigger::BuildProblem;
use async_trait::async_trait;
use reqwest::Url;
use rumqttc::{
    AsyncClient, ConnectReturnCode, ConnectionError, Event, MqttOptions, Outgoing, Packet, QoS,
    TlsConfiguration, Transport,
};
use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::crypto::CryptoProvider;
use rustls::{ClientConfig, DigitallySignedStruct, RootCertStore, SignatureScheme};
use rustls_pki_types::pem::PemObject;
use rustls_pki_types::{CertificateDer, PrivateKeyDer, ServerName, UnixTime};
use serde_json::{Map, Value, json};
use std::hash::{BuildHasher, Hasher};
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

/// Unused (the payload is WUD's JSON), but the runner renders a message for every notifier.
pub const TEMPLATES: Defaults = super::http::TEMPLATES;

/// Home Assistant's templates, WUD's: the running version, and the one offered.
const HASS_VALUE_TEMPLATE: &str = "{{ value_json.image_tag_value }}";
const HASS_LATEST_VERSION_TEMPLATE: &str = "{% if value_json.update_kind_kind == \"digest\" %}{{ value_json.result_digest[:15] }}{% elif value_json.result_tag is defined %}{{ value_json.result_tag }}{% elif value_json.result_digest is defined %}{{ value_json.result_digest[:15] }}{% else %}{{ value_json.image_tag_value }}{% endif %}";
/// WUD's default Home Assistant discovery prefix.
pub const DEFAULT_HASS_PREFIX: &str = "homeassistant";

/// WUD's default base topic.
pub const DEFAULT_TOPIC: &str = "wud/container";
const DEFAULT_PORT: u16 = 1883;
const DEFAULT_TLS_PORT: u16 = 8883;
/// Only for the one exchange of a send; the broker drops the client after 1.5 times this.
const KEEP_ALIVE: Duration = Duration::from_secs(30);

pub struct Mqtt {
    host: String,
    port: u16,
    topic: String,
    client_id: String,
    user: Option<String>,
    password: Option<Secret>,
    /// For `mqtts://`: read once at start-up, so a missing file stops start-up.
    tls: Option<Arc<ClientConfig>>,
    /// Home Assistant's discovery prefix, when `hass.enabled` with `hass.discovery`.
    discovery: Option<String>,
}

/// Never the password.
impl std::fmt::Debug for Mqtt {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Mqtt")
            .field("broker", &format_args!("{}:{}", self.host, self.port))
            .field("topic", &self.topic)
            .field("user", &self.user)
            .field("tls", &self.tls.is_some())
            .finish_non_exhaustive()
    }
}

impl Mqtt {
    pub fn new(config: &MqttConfig) -> Result<Self, Vec<BuildProblem>> {
        let mut problems = Vec::new();
        let broker = match config.url.as_deref().map(str::trim) {
            None | Some("") => {
                problems.push(BuildProblem::new("url", "required"));
                None
            }
            Some(url) => broker(url).map_err(|p| problems.push(p)).ok(),
        };
        let topic = config
            .topic
            .as_deref()
            .map(|t| t.trim().trim_end_matches('/'))
            .unwrap_or(DEFAULT_TOPIC)
            .to_string();
        if topic.is_empty() || topic.contains(['+', '#', '\0']) {
            problems.push(BuildProblem::new(
                "topic",
                "must be a topic name, without the wildcards `+` and `#`",
            ));
        }
        let user = config.user.clone().filter(|u| !u.is_empty());
        if config.password.is_some() && user.is_none() {
            problems.push(BuildProblem::new("user", "required with password"));
        }
        let client_id = match config.clientid.as_deref().map(str::trim) {
            None | Some("") => random_client_id(),
            Some(id) if id.len() > 65535 => {
                problems.push(BuildProblem::new("clientid", "too long"));
                String::new()
            }
            Some(id) => id.to_string(),
        };
        let tls = match &broker {
            Some((_, _, true)) => tls_config(&config.tls).map_err(|p| problems.extend(p)).ok(),
            Some((_, _, false)) => {
                let set = &config.tls;
                for (key, given) in [
                    ("tls.clientkey", set.clientkey.is_some()),
                    ("tls.clientcert", set.clientcert.is_some()),
                    ("tls.cachain", set.cachain.is_some()),
                ] {
                    if given {
                        problems.push(BuildProblem::new(key, "TLS settings need an mqtts:// url"));
                    }
                }
                None
            }
            None => None,
        };
        let hass = &config.hass;
        let discovery = (hass.enabled && hass.discovery.unwrap_or(true)).then(|| {
            hass.prefix
                .as_deref()
                .map(|p| p.trim().trim_end_matches('/'))
                .filter(|p| !p.is_empty())
                .unwrap_or(DEFAULT_HASS_PREFIX)
                .to_string()
        });
        if discovery
            .as_deref()
            .is_some_and(|p| p.contains(['+', '#', '\0']))
        {
            problems.push(BuildProblem::new(
                "hass.prefix",
                "must be a topic name, without the wildcards `+` and `#`",
            ));
        }
        match (broker, problems.is_empty()) {
            (Some((host, port, _)), true) => Ok(Mqtt {
                host,
                port,
                topic,
                client_id,
                user,
                password: config.password.clone(),
                tls,
                discovery,
            }),
            _ => Err(problems),
        }
    }
}

/// The broker's host, port and whether it speaks TLS, from `mqtt://host[:port]` (or `tcp://`)
/// or `mqtts://host[:port]` (or `tls://`, `ssl://`). The message names what is wrong, never the
/// value.
fn broker(url: &str) -> Result<(String, u16, bool), BuildProblem> {
    let problem = |message: &str| BuildProblem::new("url", message);
    let parsed = Url::parse(url)
        // ParseError's texts are fixed phrases, never the input.
        .map_err(|err| problem(&format!("not a valid URL ({err})")))?;
    let secure = match parsed.scheme() {
        "mqtt" | "tcp" => false,
        "mqtts" | "tls" | "ssl" => true,
        "ws" | "wss" => {
            return Err(problem(
                "MQTT over WebSocket is not supported: use the broker's mqtt:// listener",
            ));
        }
        _ => {
            return Err(problem(
                "must be an mqtt:// or mqtts:// URL (mqtt://host:1883)",
            ));
        }
    };
    if !parsed.username().is_empty() || parsed.password().is_some() {
        return Err(problem(
            "give the credentials in user and password, not in the URL",
        ));
    }
    let host = match parsed.host_str() {
        Some(host) if !host.is_empty() => host.trim_start_matches('[').trim_end_matches(']'),
        _ => return Err(problem("has no host")),
    };
    let port = parsed.port().unwrap_or(if secure {
        DEFAULT_TLS_PORT
    } else {
        DEFAULT_PORT
    });
    Ok((host.to_string(), port, secure))
}

/// The TLS client of `mqtts://`, WUD's keys: `cachain` (PEM) trusted instead of the system's
/// CAs, `clientcert` with `clientkey` (PEM) for mutual TLS, `rejectunauthorized=false` to accept
/// any server certificate (WUD's escape hatch for self-signed brokers; the handshake's
/// signatures are still checked).
fn tls_config(tls: &MqttTlsConfig) -> Result<Arc<ClientConfig>, Vec<BuildProblem>> {
    let mut problems = Vec::new();
    let provider = Arc::new(rustls::crypto::aws_lc_rs::default_provider());
    let mut roots = RootCertStore::empty();
    match &tls.cachain {
        Some(path) => match certificates("tls.cachain", path) {
            Ok(certs) => {
                let (_, ignored) = roots.add_parsable_certificates(certs);
                if roots.is_empty() || ignored > 0 {
                    problems.push(BuildProblem::new(
                        "tls.cachain",
                        format!("{}: not a CA certificate rustls accepts", path.display()),
                    ));
                }
            }
            Err(p) => problems.push(p),
        },
        None => {
            // Unreadable system certificates are skipped; a broker they cannot verify fails
            // its handshake, said then.
            let found = rustls_native_certs::load_native_certs();
            roots.add_parsable_certificates(found.certs);
        }
    }
    let client = match (&tls.clientcert, &tls.clientkey) {
        (None, None) => None,
        (Some(cert), Some(key)) => {
            let certs = certificates("tls.clientcert", cert).map_err(|p| problems.push(p));
            let key = PrivateKeyDer::from_pem_file(key).map_err(|err| {
                problems.push(BuildProblem::new(
                    "tls.clientkey",
                    format!("{}: {err}", key.display()),
                ))
            });
            certs.ok().zip(key.ok())
        }
        (Some(_), None) => {
            problems.push(BuildProblem::new(
                "tls.clientkey",
                "required with tls.clientcert",
            ));
            None
        }
        (None, Some(_)) => {
            problems.push(BuildProblem::new(
                "tls.clientcert",
                "required with tls.clientkey",
            ));
            None
        }
    };
    if !problems.is_empty() {
        return Err(problems);
    }
    let builder = ClientConfig::builder_with_provider(provider.clone())
        .with_safe_default_protocol_versions()
        .map_err(|err| {
            vec![BuildProblem::new(
                "url",
                format!("cannot set up TLS: {err}"),
            )]
        })?;
    let builder = if tls.rejectunauthorized == Some(false) {
        builder
            .dangerous()
            .with_custom_certificate_verifier(Arc::new(AnyCertificate(provider)))
    } else {
        builder.with_root_certificates(roots)
    };
    let config = match client {
        Some((certs, key)) => builder
            .with_client_auth_cert(certs, key)
            .map_err(|err| vec![BuildProblem::new("tls.clientkey", err.to_string())])?,
        None => builder.with_no_client_auth(),
    };
    Ok(Arc::new(config))
}

/// Every certificate of a PEM file; none is a problem at `key`.
fn certificates(key: &str, path: &Path) -> Result<Vec<CertificateDer<'static>>, BuildProblem> {
    let problem =
        |message: String| BuildProblem::new(key, format!("{}: {message}", path.display()));
    let certs = CertificateDer::pem_file_iter(path)
        .and_then(|certs| certs.collect::<Result<Vec<_>, _>>())
        .map_err(|err| problem(err.to_string()))?;
    if certs.is_empty() {
        return Err(problem("no certificate in it".into()));
    }
    Ok(certs)
}

/// `rejectunauthorized=false`: any server certificate is taken; the handshake's signatures are
/// still verified, so the session is encrypted to whoever holds the certificate's key.
#[derive(Debug)]
struct AnyCertificate(Arc<CryptoProvider>);

impl ServerCertVerifier for AnyCertificate {
    fn verify_server_cert(
        &self,
        _end_entity: &CertificateDer<'_>,
        _intermediates: &[CertificateDer<'_>],
        _server_name: &ServerName<'_>,
        _ocsp_response: &[u8],
        _now: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
        Ok(ServerCertVerified::assertion())
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls12_signature(
            message,
            cert,
            dss,
            &self.0.signature_verification_algorithms,
        )
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls13_signature(
            message,
            cert,
            dss,
            &self.0.signature_verification_algorithms,
        )
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.0.signature_verification_algorithms.supported_schemes()
    }
}

/// WUD's default is `wud_` and 8 random hex digits; ours says who it is.
fn random_client_id() -> String {
    let random = std::collections::hash_map::RandomState::new()
        .build_hasher()
        .finish();
    format!("tidewatch_{:08x}", random as u32)
}

/// WUD's Home Assistant `update` entity of the container whose state is at `state`: the
/// discovery topic and its config, as WUD's `Hass.addContainerSensor` publishes them (same
/// unique ID and device, so entities WUD made are taken over, not duplicated).
pub fn discovery(prefix: &str, state: &str, flat: &Value) -> (String, Value) {
    let entity = state.replace('/', "_");
    let mut config = json!({
        "unique_id": entity,
        "default_entity_id": format!("update.{entity}"),
        "name": flat.get("display_name").cloned().unwrap_or_else(|| json!(entity)),
        "device": {
            "identifiers": ["wud"],
            "manufacturer": "wud",
            "model": "wud",
            "name": "wud",
            "sw_version": concat!("tidewatch ", env!("CARGO_PKG_VERSION")),
        },
        "icon": hass_icon(flat.get("display_icon").and_then(Value::as_str).unwrap_or("mdi:docker")),
        "state_topic": state,
        "force_update": true,
        "value_template": HASS_VALUE_TEMPLATE,
        "latest_version_topic": state,
        "latest_version_template": HASS_LATEST_VERSION_TEMPLATE,
        "json_attributes_topic": state,
    });
    if let Some(link) = flat.get("result_link") {
        config["release_url"] = link.clone();
    }
    (format!("{prefix}/update/{entity}/config"), config)
}

/// Home Assistant wants `mdi:docker`; WUD's labels also take `mdi-docker` (and `fa-`, `si-`, …).
fn hass_icon(icon: &str) -> String {
    ["mdi", "fa", "fab", "far", "fas", "si"]
        .iter()
        .find_map(|set| {
            icon.strip_prefix(&format!("{set}-"))
                .map(|rest| format!("{set}:{rest}"))
        })
        .unwrap_or_else(|| icon.to_string())
}

/// WUD's topic for a container: `<base>/<watcher>/<name>`, dots in the name made `-`.
pub fn topic(base: &str, watcher: &str, name: &str) -> String {
    format!("{base}/{watcher}/{}", name.replace('.', "-"))
}

/// What is published for one container: WUD's JSON, flattened as WUD's `flatten` does.
pub fn payload(entry: &Entry) -> Value {
    let container = serde_json::to_value(wud::of_entry(entry)).unwrap_or(Value::Null);
    let mut flat = Map::new();
    flatten("", container, &mut flat);
    Value::Object(flat)
}

/// The `flat` package with lodash's `snakeCase` on every key, as WUD calls it: nested keys
/// joined with `_`. An undefined value is absent from WUD's JSON; WUD's shape here has `null`
/// for it, so a `null` is left out. An empty object stays, as `flat` keeps it.
fn flatten(prefix: &str, value: Value, out: &mut Map<String, Value>) {
    match value {
        Value::Object(map) if !map.is_empty() => {
            for (key, value) in map {
                let key = snake_case(&key);
                let key = if prefix.is_empty() {
                    key
                } else {
                    format!("{prefix}_{key}")
                };
                flatten(&key, value, out);
            }
        }
        Value::Null => {}
        value => {
            out.insert(prefix.to_string(), value);
        }
    }
}

/// lodash's `snakeCase`: the words of `key` (split at anything not a letter or digit, between a
/// lower-case letter and an upper-case one, before the last capital of a run followed by a
/// lower-case letter, and around digits), lower-cased, joined with `_`.
fn snake_case(key: &str) -> String {
    let chars: Vec<char> = key.chars().collect();
    let mut words: Vec<String> = Vec::new();
    let mut word = String::new();
    for (i, &c) in chars.iter().enumerate() {
        if !c.is_alphanumeric() {
            if !word.is_empty() {
                words.push(std::mem::take(&mut word));
            }
            continue;
        }
        if let Some(&prev) = word.chars().last().as_ref() {
            let next = chars.get(i + 1).copied();
            let boundary = (prev.is_lowercase() && c.is_uppercase())
                || (prev.is_numeric() != c.is_numeric())
                || (prev.is_uppercase()
                    && c.is_uppercase()
                    && next.is_some_and(char::is_lowercase));
            if boundary {
                words.push(std::mem::take(&mut word));
            }
        }
        word.push(c);
    }
    if !word.is_empty() {
        words.push(word);
    }
    words
        .iter()
        .map(|w| w.to_lowercase())
        .collect::<Vec<_>>()
        .join("_")
}

#[async_trait]
impl Notifier for Mqtt {
    async fn send(&self, message: &Message) -> Result<(), TriggerError> {
        let mut publications: Vec<(String, Vec<u8>)> = Vec::new();
        for entry in &message.updates {
            let c = &entry.candidate.container;
            let state = topic(&self.topic, &c.watcher, &c.name);
            let flat = payload(entry);
            // Home Assistant's entity first, so that it reads the state published after it.
            if let Some(prefix) = &self.discovery {
                let (at, config) = discovery(prefix, &state, &flat);
                publications.push((at, serde_json::to_vec(&config).unwrap_or_default()));
            }
            publications.push((state, serde_json::to_vec(&flat).unwrap_or_default()));
        }
        if publications.is_empty() {
            return Ok(());
        }
        self.publish(publications).await
    }
}

impl Mqtt {
    /// Connects, publishes every `(topic, body)` retained at QoS 1, waits for every PUBACK,
    /// then disconnects. The runner's timeout bounds the whole of it.
    async fn publish(&self, publications: Vec<(String, Vec<u8>)>) -> Result<(), TriggerError> {
        let broker = format!("{}:{}", self.host, self.port);
        let mut options = MqttOptions::new(&self.client_id, &self.host, self.port);
        options.set_keep_alive(KEEP_ALIVE);
        options.set_clean_session(true);
        options.set_max_packet_size(1 << 20, 1 << 20);
        if let Some(tls) = &self.tls {
            options.set_transport(Transport::tls_with_config(TlsConfiguration::Rustls(
                tls.clone(),
            )));
        }
        if let Some(user) = &self.user {
            let password = self.password.as_ref().map_or("", Secret::expose);
            options.set_credentials(user.clone(), password.to_string());
        }
        let wanted = publications.len();
        // Room for every publication and the disconnect, so queueing never waits on the loop.
        let (client, mut events) = AsyncClient::new(options, wanted + 1);
        for (topic, body) in publications {
            client
                .try_publish(topic, QoS::AtLeastOnce, true, body)
                .map_err(|err| {
                    TriggerError::Permanent(format!("cannot queue an MQTT message: {err}"))
                })?;
        }
        let mut acked = 0;
        let mut disconnecting = false;
        loop {
            match events.poll().await {
                Ok(Event::Incoming(Packet::PubAck(_))) => {
                    acked += 1;
                    if acked == wanted && !disconnecting {
                        disconnecting = true;
                        // Everything is delivered; a failed goodbye loses nothing.
                        if client.try_disconnect().is_err() {
                            return Ok(());
                        }
                    }
                }
                Ok(Event::Outgoing(Outgoing::Disconnect)) => return Ok(()),
                Ok(_) => {}
                Err(_) if disconnecting => return Ok(()),
                Err(err) => return Err(failure(&broker, err)),
            }
        }
    }
}

/// What failed, classified: rejected credentials or authorisation cannot be retried.
fn failure(broker: &str, err: ConnectionError) -> TriggerError {
    match err {
        ConnectionError::ConnectionRefused(code) => {
            let why = match code {
                ConnectReturnCode::BadUserNamePassword => "bad user name or password",
                ConnectReturnCode::NotAuthorized => "not authorised",
                ConnectReturnCode::BadClientId => "client ID rejected",
                ConnectReturnCode::RefusedProtocolVersion => "protocol version refused",
                ConnectReturnCode::ServiceUnavailable => {
                    return TriggerError::Transient(format!(
                        "MQTT broker {broker} refused the connection: service unavailable"
                    ));
                }
                ConnectReturnCode::Success => "refused",
            };
            TriggerError::Permanent(format!(
                "MQTT broker {broker} refused the connection: {why}"
            ))
        }
        // Neither the options nor the credentials are in rumqttc's texts.
        other => TriggerError::Transient(format!("MQTT broker {broker}: {other}")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::{MqttTlsConfig, Secret};
    use crate::notify::template::{self, State};
    use serde_json::json;

    fn keys(config: MqttConfig) -> Vec<String> {
        super::super::webhook::problem_keys(Mqtt::new(&config))
    }

    fn url(url: &str) -> MqttConfig {
        MqttConfig {
            url: Some(url.into()),
            ..MqttConfig::default()
        }
    }

    #[test]
    fn wuds_settings_build_and_what_is_not_supported_is_named() {
        let mqtt = Mqtt::new(&MqttConfig {
            user: Some("tide".into()),
            password: Some(Secret::new("SECRET")),
            ..url("mqtt://broker.lan")
        })
        .unwrap();
        assert_eq!((mqtt.host.as_str(), mqtt.port), ("broker.lan", 1883));
        assert_eq!(mqtt.topic, DEFAULT_TOPIC);
        assert!(mqtt.client_id.starts_with("tidewatch_"));
        assert!(!format!("{mqtt:?}").contains("SECRET"), "{mqtt:?}");
        let mqtt = Mqtt::new(&MqttConfig {
            topic: Some("home/updates/".into()),
            clientid: Some("me".into()),
            ..url("tcp://10.0.0.2:1884")
        })
        .unwrap();
        assert_eq!((mqtt.host.as_str(), mqtt.port), ("10.0.0.2", 1884));
        assert_eq!(
            (mqtt.topic.as_str(), mqtt.client_id.as_str()),
            ("home/updates", "me")
        );

        assert_eq!(keys(MqttConfig::default()), ["url"]);
        let secure = Mqtt::new(&url("mqtts://broker.lan")).unwrap();
        assert_eq!((secure.port, secure.tls.is_some()), (8883, true));
        for bad in ["wss://b", "http://b", "mqtt://u:p@b", "b:1883"] {
            assert_eq!(keys(url(bad)), ["url"], "{bad}");
        }
        assert_eq!(
            keys(MqttConfig {
                topic: Some("wud/#".into()),
                password: Some(Secret::new("p")),
                tls: MqttTlsConfig {
                    cachain: Some("/ca.pem".into()),
                    ..MqttTlsConfig::default()
                },
                ..url("mqtt://b")
            }),
            ["topic", "user", "tls.cachain"]
        );
        let refused = Mqtt::new(&url("ws://b")).unwrap_err();
        assert!(refused[0].message.contains("not supported"), "{refused:?}");
        assert_eq!(
            keys(MqttConfig {
                tls: MqttTlsConfig {
                    cachain: Some("/nonexistent/ca.pem".into()),
                    clientcert: Some("/nonexistent/cert.pem".into()),
                    ..MqttTlsConfig::default()
                },
                ..url("mqtts://b")
            }),
            ["tls.cachain", "tls.clientkey"]
        );
    }

    #[test]
    fn topics_are_wuds() {
        assert_eq!(
            topic("wud/container", "local", "my.app.1"),
            "wud/container/local/my-app-1"
        );
        assert_eq!(topic("t", "docker2", "web"), "t/docker2/web");
    }

    #[test]
    fn home_assistant_gets_wuds_update_entity() {
        let entry = Entry::new(template::sample_candidate(), State::Stale);
        let flat = payload(&entry);
        let (at, config) = discovery("homeassistant", "wud/container/local/web", &flat);
        assert_eq!(at, "homeassistant/update/wud_container_local_web/config");
        assert_eq!(config["unique_id"], "wud_container_local_web");
        assert_eq!(
            config["default_entity_id"],
            "update.wud_container_local_web"
        );
        assert_eq!(config["name"], "web");
        assert_eq!(config["state_topic"], "wud/container/local/web");
        assert_eq!(config["latest_version_topic"], "wud/container/local/web");
        assert_eq!(config["device"]["identifiers"], json!(["wud"]));
        assert_eq!(config["icon"], "mdi:docker");
        assert_eq!(config["release_url"], "https://example.com/releases/1.25.4");
        assert_eq!(hass_icon("si-nginx"), "si:nginx");
        assert_eq!(hass_icon("mdi:web"), "mdi:web");
        let on = |enabled, discovery| {
            Mqtt::new(&MqttConfig {
                hass: crate::config::MqttHassConfig {
                    enabled,
                    discovery,
                    prefix: None,
                },
                ..url("mqtt://b")
            })
            .unwrap()
            .discovery
        };
        assert_eq!(on(true, None).as_deref(), Some("homeassistant"));
        assert_eq!(on(true, Some(false)), None);
        assert_eq!(on(false, Some(true)), None);
    }

    #[test]
    fn keys_are_snake_cased_as_lodash_does() {
        for (key, snake) in [
            ("updateKind", "update_kind"),
            ("semverDiff", "semver_diff"),
            ("displayIcon", "display_icon"),
            ("wud.display.name", "wud_display_name"),
            ("com.docker.compose.project", "com_docker_compose_project"),
            ("XMLHttp", "xml_http"),
            ("v2Api", "v_2_api"),
            ("already_snake", "already_snake"),
        ] {
            assert_eq!(snake_case(key), snake, "{key}");
        }
    }

    #[test]
    fn the_payload_is_wuds_flattened_container() {
        let entry = Entry::new(template::sample_candidate(), State::Stale);
        let sent = payload(&entry);
        let whole = serde_json::to_value(wud::of_entry(&entry)).unwrap();
        assert_eq!(sent["name"], whole["name"]);
        assert_eq!(sent["watcher"], "local");
        assert_eq!(sent["image_tag_value"], "1.25.3");
        assert_eq!(sent["image_registry_name"], "hub");
        assert_eq!(sent["result_tag"], "1.25.4");
        assert_eq!(sent["update_available"], true);
        assert_eq!(sent["update_kind_kind"], "tag");
        assert_eq!(sent["update_kind_local_value"], "1.25.3");
        assert_eq!(sent["update_kind_remote_value"], "1.25.4");
        assert_eq!(sent["update_kind_semver_diff"], "patch");
        assert_eq!(sent["display_icon"], "mdi:docker");
        let object = sent.as_object().unwrap();
        assert!(object.values().all(|v| !v.is_null() && !v.is_array()));
        assert!(object.keys().all(|k| !k.contains(char::is_uppercase)));
        assert!(!object.contains_key("error"), "undefined in WUD: absent");
        let mut nested = Map::new();
        flatten(
            "",
            json!({"labels": {"wud.watch": "true"}, "empty": {}, "none": null}),
            &mut nested,
        );
        assert_eq!(
            Value::Object(nested),
            json!({"labels_wud_watch": "true", "empty": {}})
        );
    }
}
