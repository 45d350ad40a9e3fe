//! Trigger instances, one map per kind (`TIDEWATCH_TRIGGER_<KIND>_<NAME>_<KEY>`).
//!
//! Each kind adds a field here and a constructor in `crate::app::triggers::build_all`; the compiler
//! then shows every other place to edit. Key names are WUD's wherever WUD has the option, so a
//! WUD setup keeps working once its prefix is changed.
//!
//! The options every notifier shares are written once, in [`notifier_config!`], rather than
//! through `#[serde(flatten)]`: flattening disables `deny_unknown_fields`, and a misspelt key
//! must stay an error that names the variable.

use super::secret::Secret;
use crate::tags::Threshold;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::path::PathBuf;

#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize, Serialize)]
#[serde(deny_unknown_fields, default)]
pub struct TriggersConfig {
    pub smtp: BTreeMap<String, SmtpConfig>,
    pub slack: BTreeMap<String, SlackConfig>,
    pub teams: BTreeMap<String, TeamsConfig>,
    pub http: BTreeMap<String, HttpConfig>,
    pub discord: BTreeMap<String, DiscordConfig>,
    pub telegram: BTreeMap<String, TelegramConfig>,
    pub ntfy: BTreeMap<String, NtfyConfig>,
    pub gotify: BTreeMap<String, GotifyConfig>,
    pub pushover: BTreeMap<String, PushoverConfig>,
    pub matrix: BTreeMap<String, MatrixConfig>,
    pub mqtt: BTreeMap<String, MqttConfig>,
    pub docker: BTreeMap<String, DockerTriggerConfig>,
    /// WUD calls it `dockercompose`.
    #[serde(alias = "dockercompose")]
    pub compose: BTreeMap<String, ComposeTriggerConfig>,
}

/// The compose trigger: rewrites the service's image in the compose file (or its `.env`), then
/// brings the service up on it.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize, Serialize)]
#[serde(deny_unknown_fields, default)]
pub struct ComposeTriggerConfig {
    pub threshold: Threshold,
    /// Comma-separated: a container-name regex, or `key=value` for a label.
    pub include: Option<String>,
    pub exclude: Option<String>,
    /// The compose file; when unset, found from the container's compose labels.
    pub file: Option<PathBuf>,
    /// Comma-separated folders under which files may be rewritten; by default the folder of
    /// `file`. A container's labels can never point tidewatch outside them.
    pub allowed: Option<String>,
    /// `host=local` path prefixes, comma-separated: where the host paths of the compose labels
    /// are mounted inside tidewatch's container.
    pub pathmap: Option<String>,
    /// Keep a timestamped copy of a file before rewriting it (WUD's `BACKUP`).
    pub backup: bool,
    /// Show what would change, change nothing (WUD's `DRYRUN`).
    pub dryrun: bool,
    /// `docker-compose` or `docker compose`; found on the PATH when unset. `none`: re-create
    /// through the docker trigger's executor instead.
    pub command: Option<String>,
    /// As the docker trigger's: seconds between the stop signal and a kill (default 10).
    pub stoptimeout: Option<u64>,
    /// As the docker trigger's: seconds a container with a health check has to become healthy
    /// after `up` (default 60).
    pub healthtimeout: Option<u64>,
    /// As the docker trigger's: seconds a container without one has to stay up (default 5).
    pub settle: Option<u64>,
    /// A Swarm stack deployed from `file` (`docker stack deploy -c FILE STACK`): its services
    /// get `file` rewritten, then are updated through Swarm. Requires `file`: a stack keeps
    /// no record of the file it came from.
    pub stack: Option<String>,
}

/// The docker trigger: updates containers in place (Watchtower's job), never losing one.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize, Serialize)]
#[serde(deny_unknown_fields, default)]
pub struct DockerTriggerConfig {
    /// Which update kinds are applied (WUD's values).
    pub threshold: Threshold,
    /// Comma-separated: a container-name regex, or `key=value` for a label.
    pub include: Option<String>,
    pub exclude: Option<String>,
    /// Remove the old image once no container uses it (WUD's `prune`, Watchtower's `cleanup`).
    #[serde(alias = "cleanup")]
    pub prune: bool,
    /// Remove the old container's anonymous volumes with it.
    pub removevolumes: bool,
    /// Seconds between the stop signal and a kill, unless the container sets its own.
    pub stoptimeout: u64,
    /// Seconds a container with a health check has to become healthy.
    pub healthtimeout: u64,
    /// Seconds a container without a health check has to stay up.
    pub settle: u64,
    /// Update as soon as an update is found; `false` waits for `tidewatch update NAME`.
    pub auto: bool,
    /// Run the containers' lifecycle hooks (Watchtower's `--enable-lifecycle-hooks`).
    pub lifecyclehooks: bool,
    /// Start the new container even when the old one was stopped (`--revive-stopped`).
    pub revivestopped: bool,
    /// Do not pull: use the image as the engine already has it (`--no-pull`).
    pub nopull: bool,
    /// Re-create but do not start: something else starts containers (`--no-restart`).
    pub norestart: bool,
    /// Update nothing: every container is monitor-only (`--monitor-only`).
    pub monitoronly: bool,
    /// A container's `monitor-only` label wins over `monitoronly`, either way
    /// (`--label-take-precedence`).
    pub labelprecedence: bool,
    /// What is kept for `tidewatch rollback`.
    pub rollback: RollbackConfig,
}

/// The docker trigger's `rollback.*` settings.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize, Serialize)]
#[serde(deny_unknown_fields, default)]
pub struct RollbackConfig {
    /// With `prune`: how many of the images a container ran before are kept, newest first (1:
    /// the previous one, so a rollback needs no pull). 0 removes the old image at once.
    pub keep: usize,
}

impl Default for RollbackConfig {
    fn default() -> Self {
        RollbackConfig { keep: 1 }
    }
}

impl Default for DockerTriggerConfig {
    fn default() -> Self {
        DockerTriggerConfig {
            threshold: Threshold::default(),
            include: None,
            exclude: None,
            prune: false,
            removevolumes: false,
            stoptimeout: 10,
            healthtimeout: 60,
            settle: 5,
            auto: true,
            lifecyclehooks: false,
            revivestopped: false,
            nopull: false,
            norestart: false,
            monitoronly: false,
            labelprecedence: false,
            rollback: RollbackConfig::default(),
        }
    }
}

/// One message per update found, or one per check cycle listing them all.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Mode {
    #[default]
    Simple,
    Batch,
}

/// When a notifier speaks about the updates a check found: as soon as the check found them, or
/// after the docker triggers acted on them (Watchtower's session report), so that what it says
/// was updated was updated.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum When {
    /// When the check finds them (batch: when the watcher's check is done).
    #[default]
    Found,
    /// After the docker triggers acted: what was updated, failed or skipped. What no docker
    /// trigger acts on (monitor-only, `auto=false`, no docker trigger) is told when found.
    Updated,
}

/// What every notifier accepts besides its own keys, as the shared runner reads it.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct CommonConfig {
    pub threshold: Threshold,
    pub mode: Mode,
    pub when: When,
    pub once: Option<bool>,
    pub simpletitle: Option<String>,
    pub simplebody: Option<String>,
    pub batchtitle: Option<String>,
    pub batchbody: Option<String>,
    pub templates: Option<PathBuf>,
    pub include: Option<String>,
    pub exclude: Option<String>,
    pub ratelimit: Option<u32>,
    pub timeout: Option<u64>,
    pub retries: Option<u32>,
}

impl CommonConfig {
    /// How long one delivery may take, `timeout` seconds (10 unless set, at least 1).
    pub fn send_timeout(&self) -> std::time::Duration {
        std::time::Duration::from_secs(self.timeout.unwrap_or(10).max(1))
    }
}

/// Declares a notifier's configuration struct: its own fields, then the common ones.
macro_rules! notifier_config {
    ($(#[$meta:meta])* $name:ident { $($(#[$fmeta:meta])* $field:ident : $ty:ty,)* }) => {
        $(#[$meta])*
        #[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize, Serialize)]
        #[serde(deny_unknown_fields, default)]
        pub struct $name {
            $($(#[$fmeta])* pub $field: $ty,)*
            /// Which update kinds are sent (WUD's values: all, major, major-only, minor, …).
            pub threshold: Threshold,
            pub mode: Mode,
            /// `found`: as soon as a check finds updates; `updated`: after the docker
            /// triggers acted on them, saying what was updated, failed or skipped.
            pub when: When,
            /// Send a given new version of a container once, remembered across restarts
            /// (default true).
            pub once: Option<bool>,
            pub simpletitle: Option<String>,
            pub simplebody: Option<String>,
            pub batchtitle: Option<String>,
            pub batchbody: Option<String>,
            /// A folder with `simple-title.hbs`, `simple-body.hbs`, `batch-title.hbs`,
            /// `batch-body.hbs` (any subset) replacing the shipped templates.
            pub templates: Option<PathBuf>,
            /// Comma-separated: a container-name regex, or `key=value` for a label.
            pub include: Option<String>,
            pub exclude: Option<String>,
            /// At most this many messages a minute; 0 or unset for no limit.
            pub ratelimit: Option<u32>,
            /// Seconds for one delivery attempt (default 10).
            pub timeout: Option<u64>,
            /// Further attempts after a transient failure (default 3).
            pub retries: Option<u32>,
        }

        impl $name {
            pub fn common(&self) -> CommonConfig {
                CommonConfig {
                    threshold: self.threshold,
                    mode: self.mode,
                    when: self.when,
                    once: self.once,
                    simpletitle: self.simpletitle.clone(),
                    simplebody: self.simplebody.clone(),
                    batchtitle: self.batchtitle.clone(),
                    batchbody: self.batchbody.clone(),
                    templates: self.templates.clone(),
                    include: self.include.clone(),
                    exclude: self.exclude.clone(),
                    ratelimit: self.ratelimit,
                    timeout: self.timeout,
                    retries: self.retries,
                }
            }
        }
    };
}

notifier_config! {
    /// Email through an SMTP server (lettre).
    SmtpConfig {
        host: Option<String>,
        /// Default 465 with `tls.enabled`, else 25.
        port: Option<u16>,
        user: Option<String>,
        pass: Option<Secret>,
        from: Option<String>,
        /// Comma-separated recipients.
        to: Option<String>,
        tls: SmtpTlsConfig,
    }
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize, Serialize)]
#[serde(deny_unknown_fields, default)]
pub struct SmtpTlsConfig {
    /// Implicit TLS from the first byte (port 465), as WUD's `TLS_ENABLED`.
    pub enabled: bool,
    /// Verify the server's certificate (default true).
    pub verify: Option<bool>,
    /// Upgrade a plain connection with STARTTLS when the server offers it (default true).
    pub starttls: Option<bool>,
    /// Extra CA bundle for a server with a private certificate authority.
    pub cafile: Option<PathBuf>,
}

notifier_config! {
    /// Slack: an incoming webhook, or a bot token posting to a channel.
    SlackConfig {
        /// Incoming webhook URL (it is a credential: masked everywhere).
        url: Option<Secret>,
        /// Bot token (`xoxb-…`) for chat.postMessage, with `channel`.
        token: Option<Secret>,
        channel: Option<String>,
        /// Slack's API base, for tests and Slack-compatible servers (default https://slack.com/api).
        api: Option<String>,
    }
}

/// Which card a Teams webhook receives.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum TeamsCard {
    /// For Teams Workflows (Power Automate) webhooks.
    #[default]
    Adaptive,
    /// The legacy Office 365 connector format.
    Messagecard,
}

notifier_config! {
    /// Microsoft Teams through a Workflows webhook.
    TeamsConfig {
        url: Option<Secret>,
        card: TeamsCard,
    }
}

notifier_config! {
    /// A generic webhook.
    HttpConfig {
        url: Option<Secret>,
        /// POST (default), PUT or PATCH.
        method: Option<String>,
        auth: HttpAuthConfig,
        /// Extra headers, `Name: value` entries separated by `;` or new lines.
        headers: Option<Secret>,
        /// Sign the body with HMAC-SHA256 under this key, in `X-Tidewatch-Signature`.
        secret: Option<Secret>,
        /// A handlebars template for the body; the JSON document when unset. Shown masked:
        /// a body may carry what a service takes as a credential (Apprise's URLs, a key).
        body: Option<Secret>,
        /// Content-Type sent: default `application/json`, or `text/plain; charset=utf-8` for a
        /// `body` template.
        contenttype: Option<String>,
        /// Whose JSON the body is: tidewatch's document (the default), WUD's container or
        /// Diun's webhook message, so a receiver written for WUD or Diun reads it unchanged.
        /// A trigger set up through `WUD_TRIGGER_HTTP_*` defaults to `wud`, Diun's webhook to
        /// `diun`.
        format: HttpFormat,
        /// An HTTP proxy the request goes through (WUD's `PROXY`); it may carry credentials,
        /// so it is masked everywhere.
        proxy: Option<Secret>,
    }
}

/// The JSON an `http` trigger sends when it has no `body` template.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum HttpFormat {
    /// tidewatch's document: every template value, with `title` and `body`.
    #[default]
    Tidewatch,
    /// WUD's container JSON (an array of them for a batch), as WUD's http trigger posts it.
    Wud,
    /// Diun's webhook JSON, one image per message.
    Diun,
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize, Serialize)]
#[serde(deny_unknown_fields, default)]
pub struct HttpAuthConfig {
    /// `basic` or `bearer`, as WUD's `AUTH_TYPE`.
    #[serde(rename = "type")]
    pub kind: Option<String>,
    pub user: Option<String>,
    pub password: Option<Secret>,
    pub bearer: Option<Secret>,
}

notifier_config! {
    /// Discord through a channel webhook.
    DiscordConfig {
        /// The webhook URL (a credential: masked everywhere).
        url: Option<Secret>,
        /// The name the message is posted under (default the webhook's own).
        botusername: Option<String>,
        /// The embed's colour, `#rrggbb` or a decimal number.
        cardcolor: Option<String>,
    }
}

notifier_config! {
    /// Telegram through a bot (sendMessage).
    TelegramConfig {
        bottoken: Option<Secret>,
        chatid: Option<String>,
        /// A forum topic to post in.
        messagethreadid: Option<i64>,
        /// The Bot API's base, for tests and local Bot API servers (default
        /// https://api.telegram.org).
        api: Option<String>,
    }
}

notifier_config! {
    /// ntfy (ntfy.sh or self-hosted).
    NtfyConfig {
        /// The server (default https://ntfy.sh).
        url: Option<String>,
        topic: Option<String>,
        /// 1 (min) to 5 (max); default 3.
        priority: Option<u8>,
        auth: NtfyAuthConfig,
    }
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize, Serialize)]
#[serde(deny_unknown_fields, default)]
pub struct NtfyAuthConfig {
    pub user: Option<String>,
    pub password: Option<Secret>,
    /// An access token (`tk_…`), sent as a bearer token.
    pub token: Option<Secret>,
}

notifier_config! {
    /// Gotify.
    GotifyConfig {
        /// The server.
        url: Option<String>,
        /// An application token.
        token: Option<Secret>,
        /// Default 5.
        priority: Option<u8>,
    }
}

notifier_config! {
    /// Pushover.
    PushoverConfig {
        /// The application's API token.
        token: Option<Secret>,
        /// The user or group key.
        user: Option<Secret>,
        /// Comma-separated device names; all of the user's devices when unset.
        device: Option<String>,
        /// -2 (lowest) to 1 (high); default 0.
        priority: Option<i8>,
        /// Pushover's API base, for tests (default https://api.pushover.net).
        api: Option<String>,
    }
}

notifier_config! {
    /// Matrix rooms, through a homeserver's client API.
    MatrixConfig {
        /// The homeserver, `https://matrix.example.org`.
        url: Option<String>,
        /// With `password`: logged in once for an access token.
        user: Option<String>,
        password: Option<Secret>,
        /// An access token, instead of `user` and `password`.
        token: Option<Secret>,
        /// Comma-separated room IDs (`!…`) or aliases (`#…`); every joined room when unset.
        rooms: Option<String>,
    }
}

notifier_config! {
    /// An MQTT broker: WUD's container JSON, retained, one topic per container (WUD's `mqtt`
    /// trigger, which Home Assistant users read).
    MqttConfig {
        /// The broker, `mqtt://host:1883` (`tcp://` is the same).
        url: Option<String>,
        /// The base topic (default `wud/container`); a container's is
        /// `<topic>/<watcher>/<name>`.
        topic: Option<String>,
        user: Option<String>,
        password: Option<Secret>,
        /// The MQTT client ID (default `tidewatch_` and 8 random hex digits).
        clientid: Option<String>,
        /// For an `mqtts://` url (WUD's keys).
        tls: MqttTlsConfig,
        /// WUD's Home Assistant keys: each container's `update` entity by discovery.
        hass: MqttHassConfig,
    }
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize, Serialize)]
#[serde(deny_unknown_fields, default)]
pub struct MqttTlsConfig {
    /// PEM private key for mutual TLS, with `clientcert`.
    pub clientkey: Option<PathBuf>,
    /// PEM certificate chain for mutual TLS, with `clientkey`.
    pub clientcert: Option<PathBuf>,
    /// PEM CA certificates trusted instead of the system's.
    pub cachain: Option<PathBuf>,
    /// `false`: any server certificate is accepted (default true).
    pub rejectunauthorized: Option<bool>,
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize, Serialize)]
#[serde(deny_unknown_fields, default)]
pub struct MqttHassConfig {
    /// Publish Home Assistant's entities too.
    pub enabled: bool,
    /// Home Assistant's discovery prefix (WUD's default `homeassistant`).
    pub prefix: Option<String>,
    /// Publish the discovery configs (default true with `enabled`).
    pub discovery: Option<bool>,
}

/// Every notifier instance with its shared options, for code that treats them alike.
impl TriggersConfig {
    pub fn commons(&self) -> Vec<(&'static str, &String, CommonConfig)> {
        let mut all = Vec::new();
        all.extend(self.smtp.iter().map(|(n, c)| ("smtp", n, c.common())));
        all.extend(self.slack.iter().map(|(n, c)| ("slack", n, c.common())));
        all.extend(self.teams.iter().map(|(n, c)| ("teams", n, c.common())));
        all.extend(self.http.iter().map(|(n, c)| ("http", n, c.common())));
        all.extend(self.discord.iter().map(|(n, c)| ("discord", n, c.common())));
        all.extend(
            self.telegram
                .iter()
                .map(|(n, c)| ("telegram", n, c.common())),
        );
        all.extend(self.ntfy.iter().map(|(n, c)| ("ntfy", n, c.common())));
        all.extend(self.gotify.iter().map(|(n, c)| ("gotify", n, c.common())));
        all.extend(
            self.pushover
                .iter()
                .map(|(n, c)| ("pushover", n, c.common())),
        );
        all.extend(self.matrix.iter().map(|(n, c)| ("matrix", n, c.common())));
        all.extend(self.mqtt.iter().map(|(n, c)| ("mqtt", n, c.common())));
        all
    }
}
