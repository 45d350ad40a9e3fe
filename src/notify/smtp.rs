//! Email through an SMTP server, with lettre.
//!
//! One message per [`Message`]: the subject is its title, the body a `multipart/alternative` of
//! the rendered text and an HTML version derived here (see `html`). TLS as WUD configures it:
//! `tls.enabled` is implicit TLS from the first byte (port 465); otherwise a plain connection
//! that upgrades with STARTTLS when the server offers it (and must offer it when tidewatch logs
//! in), unless `tls.starttls=false`.
//!
//! Every failure is classified for the runner (4xx replies, refused connections and time-outs
//! are worth retrying; 5xx replies, rejected credentials and certificate errors are not), and
//! its text never holds the password: lettre keeps the server's reply, and a server may quote
//! what it was sent, so the password and the encodings AUTH sends it in are masked.

use super::template::{Defaults, shipped};
use super::{Message, Notifier, TriggerError};
use crate::config::SmtpConfig;
use crate::trigger::BuildProblem;
use async_trait::async_trait;
use base64::Engine as _;
use base64::engine::general_purpose::{STANDARD, STANDARD_NO_PAD};
use lettre::message::header::{HeaderName, HeaderValue};
use lettre::message::{Mailbox, MultiPart};
use lettre::transport::smtp::authentication::Credentials;
use lettre::transport::smtp::client::{Certificate, Tls, TlsParameters};
use lettre::transport::smtp::{AsyncSmtpTransportBuilder, PoolConfig};
use lettre::{AsyncSmtpTransport, AsyncTransport, Tokio1Executor};
use serde_json::Value;
use std::fmt::Write as _;
use std::path::Path;
use std::sync::OnceLock;
use std::time::Duration;

pub const TEMPLATES: Defaults = shipped!("smtp");

/// Seconds for one send when `timeout` is unset, as the runner's default for an attempt.
const DEFAULT_TIMEOUT: u64 = 10;

/// What a masked password looks like: the mask `Secret` prints.
const MASK: &str = "***";

pub struct Smtp {
    /// `host:port`, to say where a failure happened.
    server: String,
    from: Mailbox,
    to: Vec<Mailbox>,
    /// Everything fallible about the transport (addresses, TLS parameters, the CA bundle) is
    /// checked and prepared in [`Smtp::new`]; only the final `build` waits for the first send.
    /// lettre's connection pool spawns a Tokio task when it is built and another when it is
    /// dropped, so building it in `new` would tie constructing (and dropping) a trigger to a
    /// running runtime — `tidewatch config` and unit tests have none.
    builder: AsyncSmtpTransportBuilder,
    /// Built once, on the first send, then shared by every send.
    transport: OnceLock<AsyncSmtpTransport<Tokio1Executor>>,
    /// For a whole send. lettre's own timeout bounds only the TCP connect: a server that
    /// accepts and then says nothing would hold a send forever.
    timeout: Duration,
    /// The password and its encodings on the wire, longest first, masked in every error text.
    secrets: Vec<String>,
}

impl std::fmt::Debug for Smtp {
    // By hand: lettre's builder holds the credentials.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Smtp")
            .field("server", &self.server)
            .field("from", &self.from.to_string())
            .field("to", &self.to.len())
            .finish_non_exhaustive()
    }
}

impl Smtp {
    /// Checks the whole configuration and reports every problem at once; keys are relative to
    /// the instance (`host`, `tls.cafile`). Messages name the key, never its value.
    pub fn new(config: &SmtpConfig) -> Result<Smtp, Vec<BuildProblem>> {
        let mut problems = Vec::new();
        let host = match config.host.as_deref().map(str::trim) {
            Some(host) if !host.is_empty() => Some(host.to_string()),
            _ => {
                problems.push(BuildProblem::new(
                    "host",
                    "required: the SMTP server's name or address",
                ));
                None
            }
        };
        let port = match config.port {
            Some(0) => {
                problems.push(BuildProblem::new("port", "must be between 1 and 65535"));
                0
            }
            Some(port) => port,
            None if config.tls.enabled => 465,
            None => 25,
        };
        let from = match config.from.as_deref().map(str::trim) {
            Some(from) if !from.is_empty() => match from.parse::<Mailbox>() {
                Ok(from) => Some(from),
                Err(_) => {
                    problems.push(BuildProblem::new(
                        "from",
                        "not a valid address (expected name@example.com or Name <name@example.com>)",
                    ));
                    None
                }
            },
            _ => {
                problems.push(BuildProblem::new("from", "required: the sender's address"));
                None
            }
        };
        let to = recipients(config.to.as_deref()).map_err(|p| problems.push(p));
        let user = config.user.as_deref().filter(|u| !u.is_empty());
        let credentials = match (user, &config.pass) {
            (Some(user), Some(pass)) => Some((
                Credentials::new(user.to_string(), pass.expose().to_string()),
                wire_forms(user, pass.expose()),
            )),
            (Some(_), None) => {
                problems.push(BuildProblem::new("pass", "required when user is set"));
                None
            }
            (None, Some(_)) => {
                problems.push(BuildProblem::new(
                    "user",
                    "required when pass is set: the password is sent only with a user name",
                ));
                None
            }
            (None, None) => None,
        };
        let tls = host.as_deref().map(|host| {
            tls(host, &config.tls, config.user.is_some()).map_err(|p| problems.push(p))
        });

        let (Some(host), Some(from), Ok(to), Some(Ok(tls))) = (host, from, to, tls) else {
            return Err(problems);
        };
        if !problems.is_empty() {
            return Err(problems);
        }
        let timeout = Duration::from_secs(config.timeout.unwrap_or(DEFAULT_TIMEOUT).max(1));
        // `builder_dangerous` only means "no TLS chosen yet": it is set on the next line.
        let mut builder = AsyncSmtpTransport::<Tokio1Executor>::builder_dangerous(host.clone())
            .port(port)
            .tls(tls)
            .timeout(Some(timeout))
            // No connection is kept for the next send: messages come minutes apart, beyond any
            // server's idle limit, and one abandoned mid-command by a timeout must not be
            // reused. lettre closes each after its send, with QUIT.
            .pool_config(PoolConfig::new().max_size(0));
        let mut secrets = Vec::new();
        if let Some((credentials, wire)) = credentials {
            builder = builder.credentials(credentials);
            secrets = wire;
        }
        Ok(Smtp {
            server: format!("{host}:{port}"),
            from,
            to,
            builder,
            transport: OnceLock::new(),
            timeout,
            secrets,
        })
    }

    /// The error for a failed send: classified, located, and with the password masked.
    fn failure(&self, err: &lettre::transport::smtp::Error) -> TriggerError {
        let mut text = format!("smtp {}: {}", self.server, lettre_text(err));
        if tls_rejected(err) {
            text.push_str(
                " (TLS handshake failed: check that the port speaks TLS as tls.enabled says, \
                 and tls.cafile for a private certificate authority)",
            );
        }
        let text = redact(&text, &self.secrets);
        if is_transient(err) {
            TriggerError::Transient(text)
        } else {
            TriggerError::Permanent(text)
        }
    }
}

#[async_trait]
impl Notifier for Smtp {
    async fn send(&self, message: &Message) -> Result<(), TriggerError> {
        let email = email(&self.from, &self.to, message)
            .map_err(|err| TriggerError::Permanent(format!("cannot build the email: {err}")))?;
        let transport = self.transport.get_or_init(|| self.builder.clone().build());
        match tokio::time::timeout(self.timeout, transport.send(email)).await {
            Ok(Ok(_)) => Ok(()),
            Ok(Err(err)) => Err(self.failure(&err)),
            Err(_) => Err(TriggerError::Transient(format!(
                "smtp {}: no answer within {} s",
                self.server,
                self.timeout.as_secs()
            ))),
        }
    }
}

/// lettre's text, less the repeats its nesting makes (`Connection error: Connection error: …`).
fn lettre_text(err: &lettre::transport::smtp::Error) -> String {
    let text = err.to_string();
    let mut segments: Vec<&str> = Vec::new();
    for segment in text.split(": ") {
        if segments.last() != Some(&segment) {
            segments.push(segment);
        }
    }
    segments.join(": ")
}

/// `to`: one or more addresses separated by commas (a comma inside a quoted display name does
/// not separate). One problem for the key, counting which entries are wrong without quoting them.
fn recipients(to: Option<&str>) -> Result<Vec<Mailbox>, BuildProblem> {
    let entries: Vec<&str> = split_addresses(to.unwrap_or_default())
        .into_iter()
        .map(str::trim)
        .filter(|entry| !entry.is_empty())
        .collect();
    if entries.is_empty() {
        return Err(BuildProblem::new(
            "to",
            "required: one or more recipient addresses, separated by commas",
        ));
    }
    let mut mailboxes = Vec::new();
    let mut bad = Vec::new();
    for (n, entry) in entries.iter().enumerate() {
        match entry.parse::<Mailbox>() {
            Ok(mailbox) => mailboxes.push(mailbox),
            Err(_) => bad.push((n + 1).to_string()),
        }
    }
    if bad.is_empty() {
        Ok(mailboxes)
    } else {
        Err(BuildProblem::new(
            "to",
            format!(
                "recipient {} of {} is not a valid address (expected name@example.com or Name <name@example.com>)",
                bad.join(", "),
                entries.len()
            ),
        ))
    }
}

/// Splits on commas outside double quotes (`"Ops, night" <ops@example.com>` is one address).
fn split_addresses(text: &str) -> Vec<&str> {
    let mut parts = Vec::new();
    let (mut start, mut quoted, mut escaped) = (0, false, false);
    for (i, c) in text.char_indices() {
        match c {
            _ if escaped => escaped = false,
            '\\' if quoted => escaped = true,
            '"' => quoted = !quoted,
            ',' if !quoted => {
                parts.push(&text[start..i]);
                start = i + 1;
            }
            _ => {}
        }
    }
    parts.push(&text[start..]);
    parts
}

/// How the connection is secured: implicit TLS, STARTTLS, or plain text. STARTTLS is taken
/// when offered; with credentials it is required, since a server (or someone in between) that
/// does not offer it would otherwise receive the password in clear. `tls.starttls=false` is
/// the explicit way to send in plain text.
fn tls(
    host: &str,
    config: &crate::config::SmtpTlsConfig,
    credentials: bool,
) -> Result<Tls, BuildProblem> {
    let verify = config.verify.unwrap_or(true);
    let starttls = config.starttls.unwrap_or(true);
    let mut params =
        TlsParameters::builder(host.to_string()).dangerous_accept_invalid_certs(!verify);
    if let Some(cafile) = &config.cafile {
        params = params.add_root_certificate(ca_certificate(cafile)?);
    }
    if !config.enabled && !starttls {
        return Ok(Tls::None);
    }
    // Without a cafile this fails only on a system with no CA certificates at all.
    let params = params.build().map_err(|err| {
        BuildProblem::new(
            "tls.cafile",
            format!("cannot set up TLS: {err} (give the server's CA as tls.cafile)"),
        )
    })?;
    Ok(if config.enabled {
        Tls::Wrapper(params)
    } else if credentials {
        Tls::Required(params)
    } else {
        Tls::Opportunistic(params)
    })
}

/// The extra CA bundle: readable, and holding at least one PEM certificate.
fn ca_certificate(path: &Path) -> Result<Certificate, BuildProblem> {
    let problem = |message: String| BuildProblem::new("tls.cafile", message);
    let pem = crate::config::file::read(path, crate::config::file::FILE_LIMIT)
        .map_err(|err| problem(err.to_string()))?;
    // lettre's rustls backend reads a file without certificates as an empty bundle.
    if !String::from_utf8_lossy(&pem).contains("-----BEGIN CERTIFICATE-----") {
        return Err(problem(format!(
            "{} holds no PEM certificate (-----BEGIN CERTIFICATE-----)",
            path.display()
        )));
    }
    Certificate::from_pem(&pem).map_err(|err| {
        problem(format!(
            "{} is not a valid PEM bundle: {err}",
            path.display()
        ))
    })
}

/// The password as it may come back in a reply: itself, base64 as AUTH LOGIN sends it, and the
/// AUTH PLAIN blob (`\0user\0pass`). Longest first, so a longer form is masked whole.
fn wire_forms(user: &str, pass: &str) -> Vec<String> {
    if pass.is_empty() {
        return Vec::new();
    }
    let plain = format!("\0{user}\0{pass}");
    let mut forms = vec![
        pass.to_string(),
        STANDARD.encode(pass),
        STANDARD_NO_PAD.encode(pass),
        STANDARD.encode(&plain),
        STANDARD_NO_PAD.encode(&plain),
    ];
    forms.sort_by(|a, b| b.len().cmp(&a.len()).then_with(|| a.cmp(b)));
    forms.dedup();
    forms
}

fn redact(text: &str, secrets: &[String]) -> String {
    secrets
        .iter()
        .filter(|secret| !secret.is_empty())
        .fold(text.to_string(), |text, secret| text.replace(secret, MASK))
}

/// Whether retrying can help. SMTP says so itself for replies (4xx transient, 5xx permanent);
/// otherwise a connection that could not be made, broke, or timed out is transient, while a
/// failed TLS handshake or a mechanism neither side speaks stays wrong until the configuration
/// changes.
fn is_transient(err: &lettre::transport::smtp::Error) -> bool {
    if err.is_transient() || err.is_timeout() {
        return true;
    }
    if err.is_permanent() || err.is_client() {
        return false;
    }
    // Connection, network and TLS errors: refused, reset, unresolvable are worth another try.
    !tls_rejected(err)
}

/// rustls reports a certificate it does not trust, and a peer that does not speak TLS, as
/// invalid data; lettre wraps it as a connection error.
fn tls_rejected(err: &lettre::transport::smtp::Error) -> bool {
    io_kind(err) == Some(std::io::ErrorKind::InvalidData)
}

/// The kind of the first I/O error in the chain of causes.
fn io_kind(err: &(dyn std::error::Error + 'static)) -> Option<std::io::ErrorKind> {
    let mut source = err.source();
    while let Some(err) = source {
        if let Some(io) = err.downcast_ref::<std::io::Error>() {
            return Some(io.kind());
        }
        source = err.source();
    }
    None
}

/// The email for one message: `From`, every recipient in `To`, the title as subject, the text
/// and its HTML version as alternatives. `Auto-Submitted` keeps vacation responders quiet.
fn email(
    from: &Mailbox,
    to: &[Mailbox],
    message: &Message,
) -> Result<lettre::Message, lettre::error::Error> {
    let mut builder = lettre::Message::builder()
        .from(from.clone())
        .subject(message.title.clone())
        .raw_header(HeaderValue::new(
            HeaderName::new_from_ascii_str("Auto-Submitted"),
            "auto-generated".to_string(),
        ));
    for recipient in to {
        builder = builder.to(recipient.clone());
    }
    builder.multipart(MultiPart::alternative_plain_html(
        message.body.clone(),
        html(message),
    ))
}

/// The HTML alternative of a message, built from its title, body and data (the values the
/// templates were rendered from, see `template::update_data` and `template::batch_data`).
///
/// Fields read from `message.data`, all optional:
/// - `event`: `"batch"` selects the batch layout; any other value the simple one.
/// - `host`: the machine tidewatch runs on, in the footer.
/// - Batch layout: `updates`, each with `display_name`, `from`, `to`, `kind` and `link` (only an
///   `http`/`https` link becomes an anchor), as a table; `watcher` and `report.scanned`,
///   `report.updates`, `report.up_to_date`, `report.skipped`, `report.failed` for the summary
///   line under it (left out when `report.scanned` is 0: no cycle's report closed the batch).
///
/// The simple layout shows the rendered body as preformatted text (the shipped template aligns
/// its lines). The batch layout is built from the data instead of the body, which is kept in the
/// text part: a custom `batchbody` template shows there.
///
/// Everything taken from a message is HTML-escaped: titles, names and tags come from containers
/// and registries.
fn html(message: &Message) -> String {
    let data = &message.data;
    let title = escape(&message.title);
    let mut out = String::new();
    out.push_str("<!DOCTYPE html>\n<html>\n<head>\n<meta charset=\"utf-8\">\n");
    out.push_str("<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n");
    let _ = writeln!(out, "<title>{title}</title>\n</head>");
    out.push_str(
        "<body style=\"margin:0;padding:16px;color:#1f2328;font-size:14px;line-height:1.5;\
         font-family:-apple-system,'Segoe UI',Helvetica,Arial,sans-serif\">\n",
    );
    let _ = writeln!(
        out,
        "<h2 style=\"margin:0 0 12px;font-size:18px\">{title}</h2>"
    );
    match (
        data.get("event").and_then(Value::as_str),
        data.get("updates"),
    ) {
        (Some("batch"), Some(Value::Array(updates))) => batch_html(&mut out, data, updates),
        _ => {
            let _ = writeln!(
                out,
                "<pre style=\"margin:0;white-space:pre-wrap;font-size:13px;\
                 font-family:ui-monospace,Menlo,Consolas,monospace\">{}</pre>",
                escape(&message.body)
            );
        }
    }
    if let Some(host) = data.get("host").and_then(Value::as_str) {
        let _ = writeln!(
            out,
            "<p style=\"margin:16px 0 0;color:#656d76;font-size:12px\">Sent by tidewatch on {}.</p>",
            escape(host)
        );
    }
    out.push_str("</body>\n</html>\n");
    out
}

fn batch_html(out: &mut String, data: &Value, updates: &[Value]) {
    const CELL: &str = "padding:6px 10px;border-bottom:1px solid #d0d7de;text-align:left";
    out.push_str("<table cellspacing=\"0\" style=\"border-collapse:collapse\">\n<thead><tr>");
    for heading in ["Container", "From", "To", "Kind", "Details"] {
        let _ = write!(out, "<th style=\"{CELL}\">{heading}</th>");
    }
    out.push_str("</tr></thead>\n<tbody>\n");
    for update in updates {
        let field = |name: &str| escape(&text(update.get(name)));
        let link = match update.get("link").and_then(Value::as_str) {
            Some(link) if link.starts_with("https://") || link.starts_with("http://") => {
                format!("<a href=\"{}\">details</a>", escape(link))
            }
            Some(link) => escape(link),
            None => String::new(),
        };
        let _ = writeln!(
            out,
            "<tr><td style=\"{CELL}\">{}</td><td style=\"{CELL}\"><code>{}</code></td>\
             <td style=\"{CELL}\"><code>{}</code></td><td style=\"{CELL}\">{}</td>\
             <td style=\"{CELL}\">{link}</td></tr>",
            field("display_name"),
            field("from"),
            field("to"),
            field("kind"),
        );
    }
    out.push_str("</tbody>\n</table>\n");
    // A batch closed without a cycle's report (updates found through Docker events) has zero
    // counts, which would read as "checked 0 containers".
    let report = data
        .get("report")
        .filter(|r| r.get("scanned").and_then(Value::as_u64).unwrap_or(0) > 0);
    if let Some(report) = report {
        let count = |name: &str| escape(&text(report.get(name)));
        let _ = writeln!(
            out,
            "<p style=\"margin:12px 0 0\">Checked {} containers on {}: {} with updates, {} up to date, \
             {} skipped, {} failed.</p>",
            count("scanned"),
            escape(&text(data.get("watcher"))),
            count("updates"),
            count("up_to_date"),
            count("skipped"),
            count("failed"),
        );
    }
}

/// A data value as text: strings as they are, null or missing as nothing.
fn text(value: Option<&Value>) -> String {
    match value {
        None | Some(Value::Null) => String::new(),
        Some(Value::String(s)) => s.clone(),
        Some(other) => other.to_string(),
    }
}

/// Escapes text for HTML element content and double- or single-quoted attributes.
fn escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::{Secret, SmtpTlsConfig};
    use crate::notify::Templates;
    use crate::notify::template::{self, Notice};
    use serde_json::json;

    fn config() -> SmtpConfig {
        SmtpConfig {
            host: Some("mail.example.com".into()),
            from: Some("tidewatch@example.com".into()),
            to: Some("ops@example.com".into()),
            ..SmtpConfig::default()
        }
    }

    /// The problems of a configuration, as `key: message` lines.
    fn problems(config: &SmtpConfig) -> Vec<String> {
        match Smtp::new(config) {
            Ok(_) => Vec::new(),
            Err(problems) => problems
                .into_iter()
                .map(|p| format!("{}: {}", p.key, p.message))
                .collect(),
        }
    }

    fn keys(config: &SmtpConfig) -> Vec<String> {
        problems(config)
            .into_iter()
            .map(|line| line.split(':').next().unwrap_or_default().to_string())
            .collect()
    }

    #[test]
    fn a_minimal_configuration_builds_without_a_runtime() {
        let smtp = Smtp::new(&config()).unwrap();
        assert_eq!(smtp.server, "mail.example.com:25");
        assert_eq!(smtp.to.len(), 1);
        assert!(smtp.secrets.is_empty());
    }

    #[test]
    fn the_port_defaults_to_465_with_implicit_tls() {
        let mut c = config();
        c.tls.enabled = true;
        assert_eq!(Smtp::new(&c).unwrap().server, "mail.example.com:465");
        c.port = Some(2525);
        assert_eq!(Smtp::new(&c).unwrap().server, "mail.example.com:2525");
    }

    #[test]
    fn every_problem_is_reported_at_once() {
        let c = SmtpConfig {
            user: Some("tidewatch".into()),
            port: Some(0),
            ..SmtpConfig::default()
        };
        assert_eq!(keys(&c), ["host", "port", "from", "to", "pass"]);
    }

    #[test]
    fn blank_values_count_as_missing() {
        let c = SmtpConfig {
            host: Some("  ".into()),
            from: Some(String::new()),
            to: Some(" , ".into()),
            ..config()
        };
        assert_eq!(keys(&c), ["host", "from", "to"]);
    }

    #[test]
    fn invalid_addresses_are_counted_not_quoted() {
        let c = SmtpConfig {
            from: Some("tidewatch at example".into()),
            to: Some("ops@example.com, not-an-address, Dev <dev@example.com>, @x".into()),
            ..config()
        };
        let found = problems(&c);
        assert_eq!(found.len(), 2, "{found:?}");
        assert!(
            found[0].starts_with("from: not a valid address"),
            "{found:?}"
        );
        assert!(
            found[1].starts_with("to: recipient 2, 4 of 4 "),
            "{found:?}"
        );
        assert!(
            found
                .iter()
                .all(|p| !p.contains("not-an-address") && !p.contains("tidewatch at")),
            "{found:?}"
        );
    }

    #[test]
    fn recipients_are_split_on_commas_outside_quotes() {
        let c = SmtpConfig {
            to: Some(r#""Ops, night \"shift\"" <ops@example.com>,dev@example.com"#.into()),
            ..config()
        };
        let smtp = Smtp::new(&c).unwrap();
        let to: Vec<String> = smtp.to.iter().map(|m| m.email.to_string()).collect();
        assert_eq!(to, ["ops@example.com", "dev@example.com"]);
        assert_eq!(smtp.to[0].name.as_deref(), Some("Ops, night \"shift\""));
    }

    #[test]
    fn credentials_need_both_user_and_pass() {
        let user_only = SmtpConfig {
            user: Some("tidewatch".into()),
            ..config()
        };
        assert_eq!(keys(&user_only), ["pass"]);
        let pass_only = SmtpConfig {
            pass: Some(Secret::new("hunter2")),
            ..config()
        };
        assert_eq!(keys(&pass_only), ["user"]);
        assert!(problems(&pass_only).iter().all(|p| !p.contains("hunter2")));
        let both = SmtpConfig {
            user: Some("tidewatch".into()),
            pass: Some(Secret::new("hunter2")),
            ..config()
        };
        let smtp = Smtp::new(&both).unwrap();
        assert!(smtp.secrets.contains(&"hunter2".to_string()));
        assert!(!format!("{smtp:?}").contains("hunter2"));
    }

    #[test]
    fn an_unreadable_or_empty_cafile_is_a_problem_on_tls_cafile() {
        let dir = tempfile::tempdir().unwrap();
        let not_pem = dir.path().join("ca.pem");
        std::fs::write(&not_pem, "not a certificate\n").unwrap();
        let garbled = dir.path().join("garbled.pem");
        std::fs::write(
            &garbled,
            "-----BEGIN CERTIFICATE-----\n!!!!\n-----END CERTIFICATE-----\n",
        )
        .unwrap();
        for cafile in [dir.path().join("missing.pem"), not_pem, garbled] {
            let c = SmtpConfig {
                tls: SmtpTlsConfig {
                    cafile: Some(cafile.clone()),
                    ..SmtpTlsConfig::default()
                },
                ..config()
            };
            assert_eq!(keys(&c), ["tls.cafile"], "{cafile:?}: {:?}", problems(&c));
        }
    }

    #[test]
    fn the_password_is_masked_in_every_form_it_travels_in() {
        let secrets = wire_forms("tw", "s3cret-pass");
        let plain = STANDARD.encode("\0tw\0s3cret-pass");
        let reply = format!(
            "535 rejected s3cret-pass ({}) [{plain}]",
            STANDARD.encode("s3cret-pass")
        );
        let masked = redact(&reply, &secrets);
        assert_eq!(masked, "535 rejected *** (***) [***]");
        assert_eq!(redact("no secret here", &secrets), "no secret here");
    }

    fn sample_message() -> Message {
        let templates = Templates::new(TEMPLATES, &config().common()).unwrap();
        templates
            .simple(template::simple_data(Notice::Available(
                &template::sample_candidate(),
            )))
            .unwrap()
    }

    #[test]
    fn escape_covers_markup_and_quotes() {
        assert_eq!(
            escape(r#"<a href="x">Tom & 'Jerry'</a>"#),
            "&lt;a href=&quot;x&quot;&gt;Tom &amp; &#39;Jerry&#39;&lt;/a&gt;"
        );
    }

    #[test]
    fn a_simple_message_shows_its_body_escaped() {
        let mut message = sample_message();
        message.title = "Update <b>available</b>".into();
        message.body.push_str("\n<script>alert(1)</script> & more");
        let html = html(&message);
        assert!(html.starts_with("<!DOCTYPE html>"), "{html}");
        assert!(
            html.contains("<h2 style=\"margin:0 0 12px;font-size:18px\">Update &lt;b&gt;available&lt;/b&gt;</h2>"),
            "{html}"
        );
        assert!(
            html.contains("&lt;script&gt;alert(1)&lt;/script&gt; &amp; more"),
            "{html}"
        );
        assert!(!html.contains("<script>"), "{html}");
        assert!(html.contains("Current: 1.25.3"), "{html}");
        assert!(!html.contains("<table"), "{html}");
    }

    #[test]
    fn a_batch_message_is_a_table_of_its_updates() {
        let mut web = template::sample_candidate();
        web.display_name = "web <front>".into();
        let mut db = template::sample_candidate();
        db.container.name = "db".into();
        db.display_name = "db".into();
        db.link = Some("javascript:alert(1)".into());
        let mut cache = template::sample_candidate();
        cache.display_name = "cache".into();
        cache.link = None;
        let data = template::batch_data("local", &[web, db, cache], None);
        let templates = Templates::new(TEMPLATES, &config().common()).unwrap();
        let message = templates.batch(data).unwrap();
        let html = html(&message);
        assert_eq!(html.matches("<tr><td").count(), 3, "{html}");
        assert!(html.contains(">web &lt;front&gt;</td>"), "{html}");
        assert!(html.contains("<code>1.25.3</code>"), "{html}");
        assert!(html.contains("<code>1.25.4</code>"), "{html}");
        assert!(html.contains(">patch</td>"), "{html}");
        assert!(
            html.contains("<a href=\"https://example.com/releases/1.25.4\">details</a>"),
            "{html}"
        );
        // Only web links become anchors.
        assert!(!html.contains("href=\"javascript"), "{html}");
        assert!(html.contains(">javascript:alert(1)</td>"), "{html}");
        // No cycle report: no summary claiming 0 containers were checked.
        assert!(!html.contains("Checked"), "{html}");
    }

    #[test]
    fn a_batch_closed_by_a_cycle_report_ends_with_its_counts() {
        let report = crate::model::Report {
            watcher: "local".into(),
            scanned: 7,
            updates: 1,
            up_to_date: 5,
            skipped: 1,
            failed: 0,
            held: 0,
            listed: None,
        };
        let data = template::batch_data("local", &[template::sample_candidate()], Some(&report));
        let message = Message {
            title: "1 update".into(),
            body: String::new(),
            data: data.values,
            updates: data.updates,
        };
        let html = html(&message);
        assert!(
            html.contains(
                "Checked 7 containers on local: 1 with updates, 5 up to date, 1 skipped, 0 failed."
            ),
            "{html}"
        );
    }

    #[test]
    fn missing_data_fields_leave_cells_empty() {
        let message = Message {
            title: "t".into(),
            body: "b".into(),
            data: json!({"event": "batch", "updates": [{"display_name": "x", "kind": null}]}),
            updates: Vec::new(),
        };
        let html = html(&message);
        assert!(html.contains(">x</td>"), "{html}");
        assert!(!html.contains("Checked"), "{html}");
        assert!(!html.contains("Sent by"), "{html}");
    }

    #[test]
    fn the_email_has_every_recipient_the_subject_and_both_parts() {
        let smtp = Smtp::new(&SmtpConfig {
            to: Some("a@example.com, B <b@example.com>".into()),
            ..config()
        })
        .unwrap();
        let message = sample_message();
        let email = email(&smtp.from, &smtp.to, &message).unwrap();
        let recipients: Vec<String> = email
            .envelope()
            .to()
            .iter()
            .map(ToString::to_string)
            .collect();
        assert_eq!(recipients, ["a@example.com", "b@example.com"]);
        let raw = String::from_utf8(email.formatted()).unwrap();
        assert!(raw.contains("Subject: "), "{raw}");
        assert!(raw.contains("multipart/alternative"), "{raw}");
        assert!(raw.contains("text/plain"), "{raw}");
        assert!(raw.contains("text/html"), "{raw}");
        assert!(raw.contains("Auto-Submitted: auto-generated"), "{raw}");
    }
}
