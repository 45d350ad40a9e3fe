//! The smtp notifier against a real SMTP server (aiosmtpd, see `support::smtp`): plain text,
//! STARTTLS, implicit TLS, authentication, failures and how they are classified.

use crate::support::TestRun;
use crate::support::smtp::{Received, SinkOptions, SinkTls, SmtpSink};
use crate::support::tidewatch;
use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use std::time::Duration;
use tidewatch::config::{Secret, SmtpConfig};
use tidewatch::notify::smtp::{Smtp, TEMPLATES};
use tidewatch::notify::template::{self, Notice};
use tidewatch::notify::{Message, Notifier, Templates, TriggerError};

const USER: &str = "tidewatch";
const PASSWORD: &str = "c0rrect-h0rse";

/// A configuration that reaches `sink`, with nothing else set.
fn config(sink: &SmtpSink) -> SmtpConfig {
    SmtpConfig {
        host: Some("127.0.0.1".into()),
        port: Some(sink.port()),
        from: Some("Tidewatch <tidewatch@example.com>".into()),
        to: Some("ops@example.com".into()),
        ..SmtpConfig::default()
    }
}

/// The sample update through the shipped templates, as the runner renders it.
fn sample_message(config: &SmtpConfig) -> Message {
    Templates::new(TEMPLATES, &config.common())
        .expect("shipped templates")
        .simple(template::simple_data(Notice::Available(
            &template::sample_candidate(),
        )))
        .expect("render the sample")
}

/// The one place that calls the notifier: builds it from `config` and sends `message`.
async fn send(config: &SmtpConfig, message: &Message) -> Result<(), TriggerError> {
    let smtp = Smtp::new(config).unwrap_or_else(|problems| panic!("{problems:?}"));
    smtp.send(message).await
}

/// Sends the sample message, expects it delivered, and returns it with what the sink got.
async fn delivered(sink: &SmtpSink, config: &SmtpConfig) -> (Message, Received) {
    let message = sample_message(config);
    let before = sink.messages().len();
    if let Err(err) = send(config, &message).await {
        panic!("not delivered: {err:?}\n--- sink log ---\n{}", sink.log());
    }
    let mut received = sink.messages();
    assert_eq!(received.len(), before + 1, "{received:#?}");
    (message, received.pop().expect("one message"))
}

/// What every delivered sample must look like.
#[track_caller]
fn assert_sample(message: &Message, received: &Received) {
    assert_eq!(received.subject, message.title);
    assert!(message.title.contains('→'), "a non-ASCII subject survives");
    assert_eq!(received.mail_from, "tidewatch@example.com");
    assert_eq!(received.from, "Tidewatch <tidewatch@example.com>");
    assert_eq!(received.content_type, "multipart/alternative");
    assert_eq!(received.text().trim_end(), message.body);
    let html = received.html();
    assert!(html.contains("<!DOCTYPE html>"), "{html}");
    assert!(html.contains("nginx:1.25.3"), "{html}");
}

#[tokio::test]
async fn plain_delivery_carries_subject_recipient_text_and_html() {
    let sink = SmtpSink::plain();
    let config = config(&sink);
    let (message, received) = delivered(&sink, &config).await;
    assert_sample(&message, &received);
    assert_eq!(received.rcpt_tos, ["ops@example.com"]);
    assert_eq!(received.to, "ops@example.com");
    assert!(!received.tls);
    assert_eq!(received.auth_login, None);
}

#[tokio::test]
async fn several_recipients_all_receive() {
    let sink = SmtpSink::plain();
    let config = SmtpConfig {
        to: Some(r#"ops@example.com, "Dev, on call" <dev@example.com>,audit@example.com"#.into()),
        ..config(&sink)
    };
    let (message, received) = delivered(&sink, &config).await;
    assert_sample(&message, &received);
    assert_eq!(
        received.rcpt_tos,
        ["ops@example.com", "dev@example.com", "audit@example.com"]
    );
    for address in ["ops@example.com", "dev@example.com", "audit@example.com"] {
        assert!(received.to.contains(address), "{}", received.to);
    }
}

#[tokio::test]
async fn one_notifier_sends_message_after_message() {
    let sink = SmtpSink::start(&SinkOptions {
        tls: SinkTls::StartTls,
        auth: Some((USER.into(), PASSWORD.into())),
        ..SinkOptions::default()
    });
    let mut config = config(&sink);
    config.user = Some(USER.into());
    config.pass = Some(Secret::new(PASSWORD));
    config.tls.cafile = Some(sink.ca().to_path_buf());
    let smtp = Smtp::new(&config).unwrap_or_else(|problems| panic!("{problems:?}"));
    let message = sample_message(&config);
    for n in 1..=3 {
        if let Err(err) = smtp.send(&message).await {
            panic!("send {n}: {err:?}\n--- sink log ---\n{}", sink.log());
        }
    }
    let received = sink.messages();
    assert_eq!(received.len(), 3);
    assert!(
        received
            .iter()
            .all(|r| r.tls && r.auth_login.as_deref() == Some(USER))
    );
}

#[tokio::test]
async fn authenticates_over_starttls_trusting_the_cafile() {
    let sink = SmtpSink::start(&SinkOptions {
        tls: SinkTls::StartTls,
        auth: Some((USER.into(), PASSWORD.into())),
        ..SinkOptions::default()
    });
    let mut config = config(&sink);
    config.user = Some(USER.into());
    config.pass = Some(Secret::new(PASSWORD));
    config.tls.cafile = Some(sink.ca().to_path_buf());
    let (message, received) = delivered(&sink, &config).await;
    assert_sample(&message, &received);
    assert!(received.tls, "upgraded with STARTTLS");
    assert_eq!(received.auth_login.as_deref(), Some(USER));
}

#[tokio::test]
async fn starttls_with_verify_off_accepts_an_unknown_certificate() {
    let sink = SmtpSink::start(&SinkOptions {
        tls: SinkTls::StartTls,
        ..SinkOptions::default()
    });
    let mut config = config(&sink);
    config.tls.verify = Some(false);
    let (_, received) = delivered(&sink, &config).await;
    assert!(received.tls);
}

#[tokio::test]
async fn an_unknown_certificate_is_a_permanent_error() {
    let sink = SmtpSink::start(&SinkOptions {
        tls: SinkTls::StartTls,
        ..SinkOptions::default()
    });
    let config = config(&sink);
    let err = send(&config, &sample_message(&config)).await.unwrap_err();
    let TriggerError::Permanent(text) = &err else {
        panic!("a certificate nobody trusts will not be trusted on retry: {err:?}");
    };
    assert!(text.contains("UnknownIssuer"), "{text}");
    assert!(text.contains("tls.cafile"), "{text}");
    assert!(sink.messages().is_empty());
}

#[tokio::test]
async fn implicit_tls_against_a_plain_server_is_a_permanent_error() {
    let sink = SmtpSink::plain();
    let mut config = config(&sink);
    config.tls.enabled = true;
    let err = send(&config, &sample_message(&config)).await.unwrap_err();
    let TriggerError::Permanent(text) = &err else {
        panic!("the wrong port stays wrong: {err:?}");
    };
    assert!(text.contains("tls.enabled"), "{text}");
}

#[tokio::test]
async fn starttls_off_stays_in_plain_text_even_when_offered() {
    let sink = SmtpSink::start(&SinkOptions {
        tls: SinkTls::StartTls,
        ..SinkOptions::default()
    });
    let mut config = config(&sink);
    config.tls.starttls = Some(false);
    let (_, received) = delivered(&sink, &config).await;
    assert!(!received.tls);
}

#[tokio::test]
async fn implicit_tls_trusts_the_cafile_or_skips_verification() {
    let sink = SmtpSink::start(&SinkOptions {
        tls: SinkTls::Implicit,
        auth: Some((USER.into(), PASSWORD.into())),
        ..SinkOptions::default()
    });
    let mut config = config(&sink);
    config.tls.enabled = true;
    config.user = Some(USER.into());
    config.pass = Some(Secret::new(PASSWORD));
    config.tls.cafile = Some(sink.ca().to_path_buf());
    let (message, received) = delivered(&sink, &config).await;
    assert_sample(&message, &received);
    assert!(received.tls);
    assert_eq!(received.auth_login.as_deref(), Some(USER));

    config.tls.cafile = None;
    config.tls.verify = Some(false);
    let (_, received) = delivered(&sink, &config).await;
    assert!(received.tls);
}

#[tokio::test]
async fn a_wrong_password_is_permanent_and_its_text_never_holds_the_password() {
    // The sink quotes the password it was sent in its reply, as a careless server might.
    let sink = SmtpSink::start(&SinkOptions {
        tls: SinkTls::StartTls,
        auth: Some((USER.into(), PASSWORD.into())),
        echo_auth: true,
    });
    let wrong = "Wr0ng-pa55word";
    let mut config = config(&sink);
    config.user = Some(USER.into());
    config.pass = Some(Secret::new(wrong));
    config.tls.verify = Some(false);
    let err = send(&config, &sample_message(&config)).await.unwrap_err();
    let TriggerError::Permanent(text) = &err else {
        panic!("rejected credentials are not retried: {err:?}");
    };
    assert!(text.contains("535"), "the server's reply is kept: {text}");
    assert!(
        text.contains("password ***"),
        "the echoed password is masked: {text}"
    );
    let plain = STANDARD.encode(format!("\0{USER}\0{wrong}"));
    for form in [wrong.to_string(), STANDARD.encode(wrong), plain] {
        assert!(!text.contains(&form), "{text}");
        assert!(!format!("{err:?}").contains(&form), "{err:?}");
    }
    assert!(sink.messages().is_empty());
}

#[tokio::test]
async fn a_closed_port_is_transient() {
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|listener| listener.local_addr())
        .expect("free port")
        .port();
    let config = SmtpConfig {
        host: Some("127.0.0.1".into()),
        port: Some(port),
        from: Some("tidewatch@example.com".into()),
        to: Some("ops@example.com".into()),
        ..SmtpConfig::default()
    };
    let err = send(&config, &sample_message(&config)).await.unwrap_err();
    let TriggerError::Transient(text) = &err else {
        panic!("a server that is down may come back: {err:?}");
    };
    assert!(text.contains(&format!("127.0.0.1:{port}")), "{text}");
    assert!(text.contains("refused"), "{text}");
}

#[tokio::test]
async fn a_server_that_never_answers_is_transient() {
    // Connections complete into the backlog, and nothing ever says 220.
    let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
    let port = listener.local_addr().expect("address").port();
    let config = SmtpConfig {
        host: Some("127.0.0.1".into()),
        port: Some(port),
        from: Some("tidewatch@example.com".into()),
        to: Some("ops@example.com".into()),
        timeout: Some(1),
        ..SmtpConfig::default()
    };
    let started = std::time::Instant::now();
    let err = send(&config, &sample_message(&config)).await.unwrap_err();
    assert!(
        matches!(err, TriggerError::Transient(_)),
        "a slow server may answer next time: {err:?}"
    );
    assert!(
        started.elapsed() < Duration::from_secs(5),
        "{:?}",
        started.elapsed()
    );
    assert!(err.to_string().contains("no answer within 1 s"), "{err}");
}

#[tokio::test]
async fn a_batch_email_shows_the_updates_as_a_table() {
    let sink = SmtpSink::plain();
    let config = config(&sink);
    let mut db = template::sample_candidate();
    db.container.name = "db".into();
    db.display_name = "Database & <cache>".into();
    let updates = [template::sample_candidate(), db];
    let message = Templates::new(TEMPLATES, &config.common())
        .expect("shipped templates")
        .batch(template::batch_data("local", &updates, None))
        .expect("render the batch");
    send(&config, &message).await.expect("delivered");
    let received = sink.messages().pop().expect("one message");
    assert_eq!(received.subject, "2 updates available on local");
    assert_eq!(received.text().trim_end(), message.body);
    let html = received.html();
    assert!(html.contains("<table"), "{html}");
    assert_eq!(html.matches("<tr><td").count(), 2, "{html}");
    assert!(html.contains("Database &amp; &lt;cache&gt;"), "{html}");
}

/// End to end: the binary, configured through `TIDEWATCH_TRIGGER_SMTP_<NAME>_*` variables,
/// finds an update in `run --once` and the email arrives before it exits.
#[test]
fn run_once_emails_the_update_it_finds() {
    let run = TestRun::new();
    let registry = run.registry();
    let v1 = run.push(&registry, "mailed", "1.0.0");
    let container = run.run("mailed", &v1.reference, &[]);
    run.push(&registry, "mailed", "1.1.0");
    let sink = SmtpSink::plain();
    let port = sink.port().to_string();
    // Other tests' containers share the engine: only this run's, by its label.
    let include = run.label();
    let env = [
        ("TIDEWATCH_TRIGGER_SMTP_OPS_HOST", "127.0.0.1"),
        ("TIDEWATCH_TRIGGER_SMTP_OPS_PORT", port.as_str()),
        ("TIDEWATCH_TRIGGER_SMTP_OPS_FROM", "tidewatch@example.com"),
        (
            "TIDEWATCH_TRIGGER_SMTP_OPS_TO",
            "ops@example.com, dev@example.com",
        ),
        ("TIDEWATCH_TRIGGER_SMTP_OPS_INCLUDE", include.as_str()),
    ];

    let out = tidewatch(&["run", "--once"], &env);
    let received = sink.wait_for(1, Duration::from_secs(10));
    assert_eq!(received.len(), 1, "{received:#?}\n{out}");
    let email = &received[0];
    assert_eq!(
        email.subject,
        format!("Update available: {} 1.0.0 → 1.1.0", container.name),
        "{out}"
    );
    assert_eq!(email.rcpt_tos, ["ops@example.com", "dev@example.com"]);
    assert!(email.text().contains(&container.name), "{}", email.text());
    assert!(email.html().contains(&container.name), "{}", email.html());
    assert!(out.stderr.contains("Notification sent."), "{out}");
}

#[tokio::test]
async fn credentials_are_never_sent_to_a_server_without_starttls() {
    let sink = SmtpSink::plain();
    let mut config = config(&sink);
    config.user = Some(USER.into());
    config.pass = Some(Secret::new(PASSWORD));
    let err = send(&config, &sample_message(&config)).await.unwrap_err();
    assert!(!err.to_string().contains(PASSWORD), "{err}");
    assert!(sink.messages().is_empty(), "nothing delivered in clear");
}

/// Through the real runner: a cycle of three updates in batch mode is one email listing them.
#[tokio::test]
async fn a_batch_cycle_through_the_runner_is_one_email() {
    let sink = SmtpSink::plain();
    super::common::batch(config(&sink)).await;
    let received = sink.messages();
    assert_eq!(received.len(), 1, "one email for the cycle: {received:#?}");
    assert_eq!(received[0].subject, "3 updates available on local");
    assert_eq!(received[0].rcpt_tos, ["ops@example.com"]);
    let html = received[0].html();
    assert_eq!(html.matches("<tr><td").count(), 3, "{html}");
    for name in ["web", "api", "db"] {
        assert!(received[0].text().contains(name), "{name} missing");
    }
}
