//! Registries that misbehave, scripted with [`Rogue`]: the client must follow pagination without
//! looping, respect a 429 without asking again, retry 5xx a bounded number of times, refuse
//! huge bodies without reading them, give up on answers that never end, reject garbage
//! challenges with a clear error, and never let one slow registry hold up the others.

use super::{anonymous_client, assert_counts, client, client_with, image, limits, settings};
use crate::support::TestRun;
use crate::support::rogue::{Reply, Rogue};
use futures_util::future::join_all;
use std::time::{Duration, Instant};
use tidewatch::config::RegistriesConfig;
use tidewatch::registry::{
    ClientSettings, DigestCheck, Limits, RegistryClient, RegistryError, RequestKind::*,
};

const MANIFEST_V2: &str = "application/vnd.docker.distribution.manifest.v2+json";
const TAGS: &str = "/v2/app/tags/list";
/// Far more than any bound of the client; streamed, never allocated.
const HUGE: u64 = 100 * 1024 * 1024;
/// What a client that stopped reading early can have let through: its 4 MiB body bound plus
/// the kernel's socket buffers on both ends.
const READ_AT_MOST: u64 = 16 * 1024 * 1024;

fn client_for(limits: Limits, max_tags: usize) -> RegistryClient {
    client_with(
        &RegistriesConfig::default(),
        ClientSettings {
            limits,
            max_tags,
            ..settings()
        },
    )
}

async fn tags(client: &RegistryClient, rogue: &Rogue) -> Result<Vec<String>, RegistryError> {
    let app = image(&format!("{}/app:1", rogue.addr()));
    client
        .session()
        .tags(&app, None)
        .await
        .map(|tags| tags.as_ref().clone())
}

async fn digest(
    client: &RegistryClient,
    rogue: &Rogue,
    tag: &str,
) -> Result<String, RegistryError> {
    let app = image(&format!("{}/app:{tag}", rogue.addr()));
    client
        .session()
        .manifest_digest(&app, None)
        .await
        .map(|remote| remote.digest)
}

fn page(tags: &[&str], next: Option<&str>) -> Reply {
    let reply = Reply::json(200, serde_json::json!({"name": "app", "tags": tags}));
    match next {
        Some(next) => reply.header("Link", &format!("<{next}>; rel=\"next\"")),
        None => reply,
    }
}

/// Tags `a` to `e` over three pages linked by `Link: rel="next"`.
fn three_pages(rogue: &Rogue) {
    rogue.route(
        "GET",
        TAGS,
        vec![page(&["a", "b"], Some("/v2/app/tags/list?last=b&n=2"))],
    );
    rogue.route(
        "GET",
        "/v2/app/tags/list?last=b&n=2",
        vec![page(&["c", "d"], Some("/v2/app/tags/list?last=d&n=2"))],
    );
    rogue.route(
        "GET",
        "/v2/app/tags/list?last=d&n=2",
        vec![page(&["e"], None)],
    );
}

fn some_digest() -> String {
    format!("sha256:{}", "cd".repeat(32))
}

fn manifest_found() -> Reply {
    Reply::status(200)
        .header("Docker-Content-Digest", &some_digest())
        .header("Content-Type", MANIFEST_V2)
}

/// The variant and detail of a protocol error, or a panic naming what came instead.
#[track_caller]
fn protocol_detail(result: Result<impl std::fmt::Debug, RegistryError>) -> String {
    match result {
        Err(RegistryError::Protocol { detail, .. }) => detail,
        other => panic!("wanted a protocol error, got {other:?}"),
    }
}

#[tokio::test]
async fn tag_pages_are_followed_in_order() {
    let rogue = Rogue::start();
    three_pages(&rogue);
    let client = anonymous_client();
    let host = rogue.addr();

    assert_eq!(
        tags(&client, &rogue).await,
        Ok(["a", "b", "c", "d", "e"].map(String::from).to_vec())
    );
    assert_counts(&client, &[(&host, Ping, 200, 1), (&host, Tags, 200, 3)]);
}

#[tokio::test]
async fn tag_list_stops_at_max_tags() {
    let rogue = Rogue::start();
    three_pages(&rogue);
    let client = client_for(limits(), 3);

    assert_eq!(
        tags(&client, &rogue).await,
        Ok(["a", "b", "c"].map(String::from).to_vec())
    );
    assert_eq!(rogue.count("GET", "/v2/app/tags/list?last=d&n=2"), 0);
}

#[tokio::test]
async fn a_page_linking_to_itself_ends_the_list() {
    let rogue = Rogue::start();
    rogue.route("GET", TAGS, vec![page(&["a", "b"], Some(TAGS))]);
    let client = anonymous_client();

    assert_eq!(
        tags(&client, &rogue).await,
        Ok(["a", "b"].map(String::from).to_vec())
    );
    assert_eq!(rogue.count("GET", TAGS), 1);
}

/// A loop longer than one page is a loop too: each page is read once.
#[tokio::test]
async fn pages_linking_in_a_circle_end_the_list() {
    let rogue = Rogue::start();
    rogue.route(
        "GET",
        TAGS,
        vec![page(&["a", "b"], Some("/v2/app/tags/list?last=b"))],
    );
    rogue.route(
        "GET",
        "/v2/app/tags/list?last=b",
        vec![page(&["c", "d"], Some(TAGS))],
    );
    let client = client_for(limits(), 100);

    let listed = tags(&client, &rogue).await;

    let requests = rogue.count("GET", TAGS) + rogue.count("GET", "/v2/app/tags/list?last=b");
    let listed_len = listed.as_ref().map(Vec::len);
    assert_eq!(
        requests, 2,
        "tag pages requested (tags listed: {listed_len:?})"
    );
    assert_eq!(listed, Ok(["a", "b", "c", "d"].map(String::from).to_vec()));
}

/// A `Link` is the registry's to write, and may name any host: the login for this registry
/// must not travel there.
#[tokio::test]
async fn a_next_page_on_another_host_gets_no_credentials() {
    let rogue = Rogue::start();
    let elsewhere = Rogue::start();
    rogue.route(
        "GET",
        "/v2/",
        vec![Reply::status(401).header("WWW-Authenticate", "Basic realm=\"rogue\"")],
    );
    let next = format!("http://{}/v2/app/tags/list?last=b", elsewhere.addr());
    rogue.route("GET", TAGS, vec![page(&["a", "b"], Some(&next))]);
    elsewhere.route("GET", TAGS, vec![page(&["c"], None)]);
    let client = client(&rogue.addr(), Some(("tw-user", "s3cret-for-rogue-only")));

    let listed = tags(&client, &rogue).await;

    let leaked: Vec<String> = elsewhere
        .hits()
        .into_iter()
        .filter(|h| h.header("authorization").is_some())
        .map(|h| h.target)
        .collect();
    assert!(
        leaked.is_empty(),
        "credentials sent to {}: {leaked:?} (listed {listed:?})",
        elsewhere.addr()
    );
    let first = rogue.hits().into_iter().find(|h| h.target == TAGS);
    assert!(
        first.is_some_and(|h| h.header("authorization").is_some()),
        "the registry itself gets them"
    );
}

#[tokio::test]
async fn a_rate_limit_is_waited_out_without_asking_again() {
    let rogue = Rogue::start();
    let head = "/v2/app/manifests/1";
    rogue.route(
        "HEAD",
        head,
        vec![Reply::status(429).header("Retry-After", "30")],
    );
    let client = anonymous_client();
    let host = rogue.addr();

    let first = digest(&client, &rogue, "1").await;
    assert_eq!(
        first,
        Err(RegistryError::RateLimited {
            host: host.clone(),
            retry_after: Some(Duration::from_secs(30))
        })
    );
    // The next check, and another question to the same host, are refused by the client.
    let again = digest(&client, &rogue, "1").await;
    let listed = tags(&client, &rogue).await;
    for refused in [again.map(|_| ()), listed.map(|_| ())] {
        match refused {
            Err(RegistryError::RateLimited {
                host: h,
                retry_after: Some(wait),
            }) => {
                assert_eq!(h, host);
                assert!(wait <= Duration::from_secs(30) && wait > Duration::from_secs(20));
            }
            other => panic!("wanted a rate limit, got {other:?}"),
        }
    }

    assert_eq!(rogue.count("HEAD", head), 1);
    assert_eq!(rogue.hits().len(), 2, "{:?}", rogue.hits());
    assert_counts(&client, &[(&host, Ping, 200, 1), (&host, Head, 429, 1)]);
}

#[tokio::test]
async fn server_errors_are_retried_until_one_succeeds() {
    let rogue = Rogue::start();
    let head = "/v2/app/manifests/1";
    rogue.route(
        "HEAD",
        head,
        vec![Reply::status(500), Reply::status(500), manifest_found()],
    );
    let client = anonymous_client();
    let host = rogue.addr();

    assert_eq!(digest(&client, &rogue, "1").await, Ok(some_digest()));
    assert_eq!(rogue.count("HEAD", head), 3);
    assert_counts(
        &client,
        &[
            (&host, Ping, 200, 1),
            (&host, Head, 500, 2),
            (&host, Head, 200, 1),
        ],
    );
}

#[tokio::test]
async fn persistent_server_errors_give_up_after_the_retries() {
    let rogue = Rogue::start();
    let head = "/v2/app/manifests/1";
    rogue.route("HEAD", head, vec![Reply::status(500)]);
    let client = anonymous_client();
    let host = rogue.addr();
    let attempts = u64::from(limits().retries) + 1;

    let result = digest(&client, &rogue, "1").await;

    match &result {
        Err(RegistryError::Transport { host: h, detail }) => {
            assert_eq!(h, &host);
            assert!(detail.contains("500"), "{detail}");
        }
        other => panic!("wanted a transport error, got {other:?}"),
    }
    assert_eq!(rogue.count("HEAD", head) as u64, attempts);
    assert_counts(
        &client,
        &[(&host, Ping, 200, 1), (&host, Head, 500, attempts)],
    );
}

/// A ping that failed says nothing about the next check: the registry may be back, or its
/// rate limit over. Only a ping that got an answer is worth remembering.
#[tokio::test]
async fn a_failed_ping_is_tried_again_at_the_next_check() {
    let head = "/v2/app/manifests/1";
    // (case, failing answer, how many the first check gets, pause before the next check)
    let cases = [
        (
            "server errors",
            Reply::status(500),
            1 + limits().retries as usize,
            Duration::ZERO,
        ),
        (
            "rate limited",
            Reply::status(429).header("Retry-After", "1"),
            1,
            Duration::from_millis(1100),
        ),
    ];
    let mut wrong = Vec::new();
    for (name, failure, attempts, pause) in cases {
        let rogue = Rogue::start();
        let mut pings = vec![failure; attempts];
        pings.push(Reply::json(200, serde_json::json!({})));
        rogue.route("GET", "/v2/", pings);
        rogue.route("HEAD", head, vec![manifest_found()]);
        let client = anonymous_client();

        let first = digest(&client, &rogue, "1").await;
        assert!(first.is_err(), "{name}: {first:?}");
        tokio::time::sleep(pause).await;
        let second = digest(&client, &rogue, "1").await;

        let pings = rogue.count("GET", "/v2/");
        if second != Ok(some_digest()) || pings != attempts + 1 {
            wrong.push(format!(
                "{name}: next check got {second:?} after {pings} pings in all"
            ));
        }
    }
    assert!(wrong.is_empty(), "{wrong:#?}");
}

/// `expires_in` is the token service's to write; a number past what the clock can hold must
/// neither panic the check nor make a token immortal by accident.
#[tokio::test]
async fn a_token_lifetime_beyond_the_clock_is_survived() {
    let rogue = Rogue::start();
    let challenge = format!("Bearer realm=\"http://{}/token\"", rogue.addr());
    rogue.route(
        "GET",
        "/v2/",
        vec![Reply::status(401).header("WWW-Authenticate", &challenge)],
    );
    rogue.route(
        "GET",
        "/token",
        vec![Reply::json(
            200,
            serde_json::json!({"token": "t0ken", "expires_in": u64::MAX}),
        )],
    );
    rogue.route("HEAD", "/v2/app/manifests/1", vec![manifest_found()]);
    let client = anonymous_client();

    // Spawned, so that a panic comes back as an error here rather than as the test's own.
    let outcome = tokio::spawn(async move { digest(&client, &rogue, "1").await }).await;

    match outcome {
        Ok(result) => assert_eq!(result, Ok(some_digest())),
        Err(panic) => panic!("the check panicked: {panic}"),
    }
}

/// What a 100 MB answer is refused for; the case names what the body was sent as.
enum Huge {
    /// A manifest GET (the HEAD leaves the digest out, so the client must read the body).
    Manifest(Reply),
    TagList,
    /// The token service of a bearer challenge.
    Token,
}

#[tokio::test]
async fn huge_bodies_are_refused_without_reading_them() {
    let stream = |len| Reply::Stream {
        headers: vec![("Content-Type".into(), MANIFEST_V2.into())],
        len,
        fill: b' ',
    };
    let sized = Reply::Sized {
        headers: vec![("Content-Type".into(), MANIFEST_V2.into())],
        len: HUGE,
        fill: b' ',
    };
    let cases = [
        ("manifest streamed", Huge::Manifest(stream(HUGE))),
        ("manifest with Content-Length", Huge::Manifest(sized)),
        ("tag list streamed", Huge::TagList),
        ("token streamed", Huge::Token),
    ];
    for (name, case) in cases {
        let rogue = Rogue::start();
        let client = anonymous_client();
        let (result, target) = match case {
            Huge::Manifest(reply) => {
                let target = "/v2/app/manifests/1";
                rogue.route(
                    "HEAD",
                    target,
                    vec![Reply::status(200).header("Content-Type", MANIFEST_V2)],
                );
                rogue.route("GET", target, vec![reply]);
                (digest(&client, &rogue, "1").await, target.to_string())
            }
            Huge::TagList => {
                rogue.route("GET", TAGS, vec![stream(HUGE)]);
                let result = tags(&client, &rogue).await.map(|_| String::new());
                (result, TAGS.to_string())
            }
            Huge::Token => {
                let challenge = format!("Bearer realm=\"http://{}/token\"", rogue.addr());
                rogue.route(
                    "GET",
                    "/v2/",
                    vec![Reply::status(401).header("WWW-Authenticate", &challenge)],
                );
                rogue.route("GET", "/token", vec![stream(HUGE)]);
                let result = digest(&client, &rogue, "1").await;
                let target = rogue
                    .hits()
                    .into_iter()
                    .find(|h| h.target.starts_with("/token"))
                    .map(|h| h.target)
                    .unwrap_or_else(|| panic!("{name}: no token request: {result:?}"));
                (result, target)
            }
        };
        let detail = protocol_detail(result);
        assert!(detail.contains("larger than"), "{name}: {detail}");
        let sent = rogue.sent(&target);
        assert!(
            sent < READ_AT_MOST,
            "{name}: the server got {sent} bytes out"
        );
    }
    // Had any body been buffered whole, this process would have peaked above its size.
    let peak = peak_rss();
    assert!(peak < HUGE, "peak resident memory {peak} bytes");
}

/// The most memory this process has had resident (`VmHWM`), in bytes.
fn peak_rss() -> u64 {
    let status = std::fs::read_to_string("/proc/self/status").expect("read /proc/self/status");
    let kib: u64 = status
        .lines()
        .find_map(|line| line.strip_prefix("VmHWM:"))
        .and_then(|value| value.trim().trim_end_matches("kB").trim().parse().ok())
        .expect("VmHWM in /proc/self/status");
    kib * 1024
}

#[tokio::test]
async fn an_answer_that_never_ends_times_out() {
    let rogue = Rogue::start();
    rogue.route(
        "GET",
        TAGS,
        vec![Reply::DripBody {
            headers: Vec::new(),
        }],
    );
    let timeout = Duration::from_secs(2);
    let client = client_for(
        Limits {
            timeout,
            retries: 0,
            ..limits()
        },
        1000,
    );
    let started = Instant::now();

    let result = tags(&client, &rogue).await;

    let elapsed = started.elapsed();
    match &result {
        Err(RegistryError::Transport { detail, .. }) => assert!(detail.contains("timed out")),
        other => panic!("wanted a timeout, got {other:?}"),
    }
    assert!(elapsed >= timeout, "gave up after {elapsed:?}");
    assert_eq!(rogue.count("GET", TAGS), 1);
}

#[tokio::test]
async fn garbage_challenges_are_clear_protocol_errors() {
    // (header, what the message must say, what it must not)
    let cases = [
        (
            "Bearer realm=\"unterminated",
            "unterminated quoted string",
            None,
        ),
        // Bytes that are not ASCII text: the header is there, just unreadable.
        (
            "\u{ff}\u{fe}\u{80}junk\u{9b}",
            "www-authenticate",
            Some("without a www-authenticate"),
        ),
        ("Bearer realm=\"file:///etc/passwd\"", "not an http", None),
        ("Negotiate YIIabc==", "neither a bearer nor a basic", None),
        (
            "Bearer realm=\"http://a/t\",realm=\"http://b/t\"",
            "parameter repeated",
            None,
        ),
    ];
    for (header, fragment, wrong) in cases {
        let rogue = Rogue::start();
        rogue.route(
            "GET",
            "/v2/",
            vec![Reply::status(401).header("WWW-Authenticate", header)],
        );
        let client = anonymous_client();

        let result = digest(&client, &rogue, "1").await;

        let message = match &result {
            Err(err @ RegistryError::Protocol { .. }) => err.to_string(),
            other => panic!("{header:?}: wanted a protocol error, got {other:?}"),
        };
        let lower = message.to_lowercase();
        assert!(lower.contains(fragment), "{header:?}: {message}");
        assert!(
            wrong.is_none_or(|wrong| !lower.contains(wrong)),
            "{header:?}: {message}"
        );
        assert!(
            !message.contains('\n') && message.len() < 300,
            "{message:?}"
        );
        // Nothing went further than the ping.
        assert_eq!(rogue.hits().len(), 1, "{header:?}: {:?}", rogue.hits());
    }
}

#[tokio::test]
async fn a_registry_that_hangs_holds_up_no_other() {
    let run = TestRun::new();
    let registry = run.registry();
    let pushed = [
        run.push(&registry, "app", "1.0.0"),
        run.push(&registry, "tools/other", "1.0.0"),
    ];
    let mut infos = Vec::new();
    for (n, p) in pushed.iter().enumerate() {
        let container = run.run(&format!("c{n}"), &p.reference, &[]);
        infos.push(super::container_info(&container.id).await);
    }
    let rogue = Rogue::start();
    rogue.route("HEAD", "/v2/app/manifests/1", vec![Reply::DripHead]);
    let hanging = image(&format!("{}/app:1", rogue.addr()));
    let client = client_for(
        Limits {
            timeout: Duration::from_secs(2),
            retries: 0,
            ..limits()
        },
        1000,
    );
    let session = client.session();
    let started = Instant::now();

    let fast = infos.iter().map(|info| {
        let session = &session;
        async move {
            let reference = info.reference().expect("reference");
            let result = session.check_digest(&reference, None, info).await;
            (result.map(Some), started.elapsed())
        }
    });
    let slow = {
        let session = &session;
        let hanging = &hanging;
        async move {
            let result = session.manifest_digest(hanging, None).await;
            (result.map(|_| None::<DigestCheck>), started.elapsed())
        }
    };
    let (fast, (slow, slow_done)) = futures_util::future::join(join_all(fast), slow).await;

    match slow {
        Err(RegistryError::Transport { detail, .. }) => assert!(detail.contains("timed out")),
        other => panic!("the hanging registry: wanted a timeout, got {other:?}"),
    }
    for ((result, done), pushed) in fast.into_iter().zip(&pushed) {
        assert_eq!(
            result,
            Ok(Some(DigestCheck::UpToDate {
                remote: pushed.digest.clone()
            }))
        );
        assert!(
            done < slow_done,
            "{} finished at {done:?}, after the hanging one at {slow_done:?}",
            pushed.reference
        );
    }
}

#[tokio::test]
async fn a_registry_that_refuses_head_is_asked_with_get() {
    let rogue = Rogue::start();
    let body = br#"{"schemaVersion":2,"mediaType":"application/vnd.docker.distribution.manifest.v2+json","config":{"digest":"sha256:00","size":1},"layers":[]}"#;
    let manifest = |digest: Option<&str>| {
        let reply = Reply::Fixed {
            status: 200,
            headers: vec![("Content-Type".into(), MANIFEST_V2.into())],
            body: body.to_vec(),
        };
        match digest {
            Some(digest) => reply.header("Docker-Content-Digest", digest),
            None => reply,
        }
    };
    // HEAD refused outright: one GET, the digest from its header.
    rogue.route("HEAD", "/v2/app/manifests/1", vec![Reply::status(405)]);
    rogue.route(
        "GET",
        "/v2/app/manifests/1",
        vec![manifest(Some(&some_digest()))],
    );
    // HEAD answered without the digest header: one GET, the digest computed from the body.
    rogue.route("HEAD", "/v2/app/manifests/2", vec![Reply::status(200)]);
    rogue.route("GET", "/v2/app/manifests/2", vec![manifest(None)]);
    let client = anonymous_client();
    let host = rogue.addr();

    assert_eq!(digest(&client, &rogue, "1").await, Ok(some_digest()));
    let computed = format!("sha256:{}", sha256_hex(body));
    assert_eq!(digest(&client, &rogue, "2").await, Ok(computed));
    assert_counts(
        &client,
        &[
            (&host, Ping, 200, 1),
            (&host, Head, 405, 1),
            (&host, Head, 200, 1),
            (&host, Get, 200, 2),
        ],
    );
}

/// SHA-256 by the `sha256sum` tool, so the expectation does not come from the code under test.
fn sha256_hex(data: &[u8]) -> String {
    use std::io::Write;
    let mut child = std::process::Command::new("sha256sum")
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .spawn()
        .expect("sha256sum runs");
    child
        .stdin
        .take()
        .expect("stdin")
        .write_all(data)
        .expect("write to sha256sum");
    let out = child.wait_with_output().expect("sha256sum finishes");
    String::from_utf8_lossy(&out.stdout)
        .split_whitespace()
        .next()
        .expect("a hash")
        .to_string()
}

/// A registry that answers every request after a pause and counts how many it holds at once:
/// the client's per-registry concurrency limit is what that peak shows. `GET /v2/` and manifest
/// HEADs get 200 with a digest; everything else 404.
struct CountingPeer {
    addr: String,
    peak: std::sync::Arc<std::sync::atomic::AtomicUsize>,
    served: std::sync::Arc<std::sync::atomic::AtomicUsize>,
}

impl CountingPeer {
    /// Serves `expected` requests, then stops accepting: bounded, whatever the client does.
    fn start(expected: usize, pause: Duration) -> CountingPeer {
        use std::io::{Read, Write};
        use std::sync::Arc;
        use std::sync::atomic::{AtomicUsize, Ordering::SeqCst};
        let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind loopback");
        let addr = listener.local_addr().expect("address").to_string();
        let in_flight = Arc::new(AtomicUsize::new(0));
        let peak = Arc::new(AtomicUsize::new(0));
        let served = Arc::new(AtomicUsize::new(0));
        let (counting, max, done) = (in_flight.clone(), peak.clone(), served.clone());
        std::thread::spawn(move || {
            for stream in listener.incoming().take(expected) {
                let Ok(mut stream) = stream else { continue };
                let (counting, max, done) = (counting.clone(), max.clone(), done.clone());
                std::thread::spawn(move || {
                    let _ = stream.set_read_timeout(Some(Duration::from_secs(10)));
                    let mut head = Vec::new();
                    let mut byte = [0u8; 1];
                    while !head.ends_with(b"\r\n\r\n") && head.len() < 16 * 1024 {
                        match stream.read(&mut byte) {
                            Ok(1) => head.push(byte[0]),
                            _ => return,
                        }
                    }
                    let now = counting.fetch_add(1, SeqCst) + 1;
                    max.fetch_max(now, SeqCst);
                    std::thread::sleep(pause);
                    let line = String::from_utf8_lossy(&head);
                    let found = line.starts_with("GET /v2/ ") || line.starts_with("HEAD /v2/");
                    let reply = if found {
                        format!(
                            "HTTP/1.1 200 OK\r\nDocker-Content-Digest: {}\r\nContent-Type: {MANIFEST_V2}\r\nContent-Length: 0\r\nConnection: close\r\n\r\n",
                            some_digest()
                        )
                    } else {
                        "HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\nConnection: close\r\n\r\n"
                            .to_string()
                    };
                    // Counted before the answer leaves, so the client never sees it first.
                    counting.fetch_sub(1, SeqCst);
                    done.fetch_add(1, SeqCst);
                    let _ = stream.write_all(reply.as_bytes());
                });
            }
        });
        CountingPeer { addr, peak, served }
    }
}

#[tokio::test]
async fn the_per_registry_concurrency_limit_caps_requests_in_flight() {
    use std::sync::atomic::Ordering::SeqCst;
    const REFERENCES: usize = 8;
    // (configured concurrency, peak expected): the default is 4.
    for (configured, peak) in [(Some(2), 2), (Some(1), 1), (None, 4)] {
        let peer = CountingPeer::start(REFERENCES + 1, Duration::from_millis(300));
        let mut config = super::configured(&peer.addr, None);
        if let Some(limit) = configured {
            config.custom.get_mut("test").expect("entry").concurrency = limit;
        }
        let client = client_with(&config, settings());
        let session = client.session();
        let references: Vec<_> = (0..REFERENCES)
            .map(|n| image(&format!("{}/app{n}:1", peer.addr)))
            .collect();

        let results = join_all(references.iter().map(|r| session.manifest_digest(r, None))).await;

        for result in results {
            assert_eq!(result.map(|r| r.digest), Ok(some_digest()));
        }
        assert_eq!(peer.served.load(SeqCst), REFERENCES + 1, "ping and HEADs");
        assert_eq!(
            peer.peak.load(SeqCst),
            peak,
            "requests held at once with concurrency {configured:?}"
        );
    }
}

#[tokio::test]
async fn a_request_that_timed_out_is_retried_and_then_answered() {
    let rogue = Rogue::start();
    let head = "/v2/app/manifests/1";
    // The first HEAD never gets its answer; the second is answered at once.
    rogue.route("HEAD", head, vec![Reply::DripHead, manifest_found()]);
    let client = client_for(
        Limits {
            timeout: Duration::from_secs(1),
            retries: 2,
            ..limits()
        },
        1000,
    );
    let host = rogue.addr();

    assert_eq!(digest(&client, &rogue, "1").await, Ok(some_digest()));
    assert_eq!(rogue.count("HEAD", head), 2);
    assert_counts(
        &client,
        &[
            (&host, Ping, 200, 1),
            (&host, Head, 0, 1),
            (&host, Head, 200, 1),
        ],
    );
}

#[tokio::test]
async fn a_rate_limit_until_an_http_date_is_honoured() {
    let rogue = Rogue::start();
    let head = "/v2/app/manifests/1";
    let in_two_minutes =
        httpdate::fmt_http_date(std::time::SystemTime::now() + Duration::from_secs(120));
    rogue.route(
        "HEAD",
        head,
        vec![Reply::status(429).header("Retry-After", &in_two_minutes)],
    );
    let client = anonymous_client();

    let first = digest(&client, &rogue, "1").await;
    let again = digest(&client, &rogue, "1").await;

    for result in [first, again] {
        match result {
            Err(RegistryError::RateLimited {
                retry_after: Some(wait),
                ..
            }) => assert!(
                wait > Duration::from_secs(60) && wait <= Duration::from_secs(120),
                "{wait:?}: the date, not the 60 s default"
            ),
            other => panic!("wanted a rate limit, got {other:?}"),
        }
    }
    assert_eq!(rogue.count("HEAD", head), 1);
}

/// One check over many references, where some registries misbehave: each misbehaviour fails
/// its own images with a clear error, and every other image in the same session is checked as
/// if nothing happened.
#[tokio::test]
async fn each_misbehaviour_fails_only_its_own_images_in_one_check() {
    let fine = Rogue::start();
    for repo in ["one", "two"] {
        fine.route(
            "HEAD",
            &format!("/v2/{repo}/manifests/1"),
            vec![manifest_found()],
        );
    }
    // A rate limit holds back its whole host.
    let limited = Rogue::start();
    limited.route(
        "HEAD",
        "/v2/app/manifests/1",
        vec![Reply::status(429).header("Retry-After", "30")],
    );
    // Server errors and a huge body fail one repository; the same host's others are fine.
    let broken = Rogue::start();
    broken.route("HEAD", "/v2/bad/manifests/1", vec![Reply::status(500)]);
    broken.route("HEAD", "/v2/huge/manifests/1", vec![Reply::status(200)]);
    broken.route(
        "GET",
        "/v2/huge/manifests/1",
        vec![Reply::Stream {
            headers: vec![("Content-Type".into(), MANIFEST_V2.into())],
            len: HUGE,
            fill: b' ',
        }],
    );
    broken.route("HEAD", "/v2/good/manifests/1", vec![manifest_found()]);
    // A challenge nobody can parse: the host is unusable.
    let garbage = Rogue::start();
    garbage.route(
        "GET",
        "/v2/",
        vec![Reply::status(401).header("WWW-Authenticate", "Bearer realm=\"unterminated")],
    );
    let client = anonymous_client();
    let session = client.session();
    let references = [
        format!("{}/one:1", fine.addr()),
        format!("{}/app:1", limited.addr()),
        format!("{}/bad:1", broken.addr()),
        format!("{}/huge:1", broken.addr()),
        format!("{}/good:1", broken.addr()),
        format!("{}/app:1", garbage.addr()),
        format!("{}/two:1", fine.addr()),
    ];
    let images: Vec<_> = references.iter().map(|r| image(r)).collect();

    let results = join_all(images.iter().map(|i| session.manifest_digest(i, None))).await;

    let outcome: Vec<String> = results
        .iter()
        .map(|result| match result {
            Ok(remote) if remote.digest == some_digest() => "ok".into(),
            Ok(remote) => format!("unexpected digest {}", remote.digest),
            Err(RegistryError::RateLimited { .. }) => "rate limited".into(),
            Err(RegistryError::Transport { detail, .. }) if detail.contains("500") => {
                "server error".into()
            }
            Err(RegistryError::Protocol { detail, .. }) if detail.contains("larger than") => {
                "too large".into()
            }
            Err(RegistryError::Protocol { detail, .. }) if detail.contains("WWW-Authenticate") => {
                "bad challenge".into()
            }
            Err(other) => format!("unexpected error {other}"),
        })
        .collect();
    assert_eq!(
        outcome,
        [
            "ok",
            "rate limited",
            "server error",
            "too large",
            "ok",
            "bad challenge",
            "ok"
        ],
        "{references:?}"
    );
}
