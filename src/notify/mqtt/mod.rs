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
//! The title and body templates are not used. Every other container, and an applied update, is
//! published by the trigger's [`Mirror`], as WUD mirrors its whole store.
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
//! `<hass.prefix>/update/<topic with / as _>/config`, published before its state; the mirror
//! adds WUD's sensors (`hass.rs`).
//!
//! Not supported, said clearly rather than half done: MQTT over WebSocket (`ws://`, `wss://`
//! are refused).

mod hass;
mod mirror;
mod payload;
mod tls;

pub use hass::DEFAULT_HASS_PREFIX;
pub use mirror::Mirror;
pub use payload::{payload, topic};

use super::template::Defaults;
use super::{Message, Notifier, TriggerError};
use crate::config::{MqttConfig, Secret};
use crate::trigger::BuildProblem;
use async_trait::async_trait;
use reqwest::Url;
use rumqttc::{
    AsyncClient, ConnectReturnCode, ConnectionError, Event, MqttOptions, Outgoing, Packet, QoS,
    TlsConfiguration, Transport,
};
use rustls::ClientConfig;
use std::hash::{BuildHasher, Hasher};
use std::sync::Arc;
use std::time::Duration;

/// Unused (the payload is WUD's JSON), but the runner renders a message for every notifier.
pub const TEMPLATES: Defaults = super::http::TEMPLATES;

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
    /// `hass.enabled`: WUD's count sensors are published (their entities only with discovery).
    hass: bool,
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
            Some((_, _, true)) => tls::tls_config(&config.tls)
                .map_err(|p| problems.extend(p))
                .ok(),
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
                hass: hass.enabled,
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

/// WUD's default is `wud_` and 8 random hex digits; ours says who it is.
fn random_client_id() -> String {
    let random = std::collections::hash_map::RandomState::new()
        .build_hasher()
        .finish();
    format!("tidewatch_{:08x}", random as u32)
}

#[async_trait]
impl Notifier for Mqtt {
    async fn send(&self, message: &Message) -> Result<(), TriggerError> {
        let mut publications: Vec<(String, Vec<u8>)> = Vec::new();
        // An update applied, or a rollback by hand, is the mirror's to publish: it knows the
        // new container's ID, which the message does not.
        let told = message
            .updates
            .iter()
            .filter(|e| e.state != super::template::State::Updated);
        for entry in told {
            let c = &entry.candidate.container;
            let state = topic(&self.topic, &c.watcher, &c.name);
            let flat = payload(entry);
            // Home Assistant's entity first, so that it reads the state published after it.
            if let Some(prefix) = &self.discovery {
                let (at, config) = hass::discovery(prefix, &state, &flat);
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
    use crate::config::MqttTlsConfig;

    fn keys(config: MqttConfig) -> Vec<String> {
        super::super::webhook::problem_keys(Mqtt::new(&config))
    }

    pub(super) fn url(url: &str) -> MqttConfig {
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
}
