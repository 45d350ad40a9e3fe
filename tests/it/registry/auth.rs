//! Authentication as registries ask for it: htpasswd Basic, bearer tokens from a token service
//! (distribution's `silly` mode, where only the challenge is real, and its `token` mode, which
//! verifies signed JWTs), tokens that expire, and credentials from Docker's `config.json`.
//!
//! Tokens are counted twice: by the client's counters, and by the token service's log, which
//! also shows the scope, the service and the credentials each request carried.

use super::{
    anonymous_client, assert_counts, assert_digests_as_pushed, client, client_with, configured,
    image, settings,
};
use crate::support::rogue::{Reply, Rogue};
use crate::support::token_server::{SERVICE, TokenPolicy, TokenRequest, TokenServer};
use crate::support::{RegistryOptions, TestRun};
use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use std::time::{Duration, SystemTime, UNIX_EPOCH};
use tidewatch::config::{RegistriesConfig, Secret};
use tidewatch::model::reference::ImageRef;
use tidewatch::registry::credentials::Credential;
use tidewatch::registry::{ClientSettings, RegistryClient, RegistryError, RequestKind::*};

const USER: &str = "tw-user";
const PASSWORD: &str = "s3cret-Pa55w0rd";

/// The digest of `reference` in a new session.
async fn digest(client: &RegistryClient, reference: &ImageRef) -> Result<String, RegistryError> {
    client
        .session()
        .manifest_digest(reference, None)
        .await
        .map(|remote| remote.digest)
}

/// An error must name the problem and never carry the password, in any form it is printed.
#[track_caller]
fn assert_unauthorized(result: Result<String, RegistryError>, host: &str) {
    let err = result.expect_err("should be refused");
    assert!(
        matches!(&err, RegistryError::Unauthorized { host: h, .. } if h == host),
        "{err:?}"
    );
    for printed in [err.to_string(), format!("{err:?}")] {
        assert!(!printed.contains(PASSWORD), "password in {printed:?}");
        assert!(!printed.contains("s3cret"), "password in {printed:?}");
    }
}

/// The scopes of token requests, one per request.
fn scopes(requests: &[TokenRequest]) -> Vec<String> {
    let mut scopes: Vec<String> = requests
        .iter()
        .map(|r| r.param("scope").join(" "))
        .collect();
    scopes.sort();
    scopes
}

/// Waits until the registry refuses the last token the service issued.
async fn outlive_last_token(tokens: &TokenServer) {
    let refused_after = tokens
        .requests()
        .iter()
        .rev()
        .find_map(|r| r.refused_after)
        .expect("a JWT was issued");
    let refused = UNIX_EPOCH + Duration::from_secs(refused_after) + Duration::from_millis(100);
    let wait = refused
        .duration_since(SystemTime::now())
        .unwrap_or_default();
    assert!(wait < Duration::from_secs(10), "{wait:?}");
    tokio::time::sleep(wait).await;
}

#[tokio::test]
async fn basic_auth_works_with_the_right_password_only() {
    let run = TestRun::new();
    let registry = run.registry_with(RegistryOptions::default().basic_auth(USER, PASSWORD));
    let pushed = run.push(&registry, "app", "1.0.0");
    let host = registry.addr();
    let app = image(&pushed.reference);

    let right = client(host, Some((USER, PASSWORD)));
    assert_eq!(digest(&right, &app).await, Ok(pushed.digest));
    assert_counts(&right, &[(host, Ping, 401, 1), (host, Head, 200, 1)]);

    // Nothing configured: refused before a doomed request is sent.
    let none = anonymous_client();
    assert_unauthorized(digest(&none, &app).await, host);
    assert_counts(&none, &[(host, Ping, 401, 1)]);

    let wrong = client(host, Some((USER, "s3cret-wrong")));
    assert_unauthorized(digest(&wrong, &app).await, host);
    assert_eq!(wrong.counts().get(&(host.to_string(), Head, 200)), None);
}

/// A wrong password stays wrong: asking again with the same one only adds a failed login to
/// the registry's lockout counter.
#[tokio::test]
async fn a_rejected_password_is_not_sent_twice() {
    let run = TestRun::new();
    let registry = run.registry_with(RegistryOptions::default().basic_auth(USER, PASSWORD));
    let pushed = run.push(&registry, "app", "1.0.0");
    let host = registry.addr();

    let wrong = client(host, Some((USER, "s3cret-wrong")));
    assert_unauthorized(digest(&wrong, &image(&pushed.reference)).await, host);
    assert_counts(&wrong, &[(host, Ping, 401, 1), (host, Head, 401, 1)]);
}

#[tokio::test]
async fn docker_config_json_credentials_come_after_configured_ones() {
    let run = TestRun::new();
    let registry = run.registry_with(RegistryOptions::default().basic_auth(USER, PASSWORD));
    let pushed = run.push(&registry, "app", "1.0.0");
    let host = registry.addr();
    let app = image(&pushed.reference);
    let dir = tempfile::tempdir().expect("temp dir");
    let write_config = |user: &str, password: &str| {
        let auth = STANDARD.encode(format!("{user}:{password}"));
        let json = serde_json::json!({"auths": {host: {"auth": auth}}});
        std::fs::write(dir.path().join("config.json"), json.to_string()).expect("write config");
    };
    let with = |config: &RegistriesConfig, docker: bool, fallback: Option<&str>| {
        let settings = ClientSettings {
            docker_config_dir: docker.then(|| dir.path().to_path_buf()),
            fallback: fallback.map(|password| Credential::Basic {
                username: USER.into(),
                password: Secret::new(password),
            }),
            ..settings()
        };
        client_with(config, settings)
    };
    let nothing = RegistriesConfig::default();

    // config.json alone, as `docker login` left it.
    write_config(USER, PASSWORD);
    let docker_only = with(&nothing, true, None);
    assert_eq!(digest(&docker_only, &app).await, Ok(pushed.digest.clone()));
    assert_counts(&docker_only, &[(host, Ping, 401, 1), (host, Head, 200, 1)]);

    // REPO_USER/REPO_PASS alone.
    let fallback_only = with(&nothing, false, Some(PASSWORD));
    assert_eq!(
        digest(&fallback_only, &app).await,
        Ok(pushed.digest.clone())
    );

    // Order: configured, then config.json, then the fallback.
    write_config(USER, "s3cret-stale");
    let configured_first = with(&configured(host, Some((USER, PASSWORD))), true, None);
    assert_eq!(
        digest(&configured_first, &app).await,
        Ok(pushed.digest.clone())
    );
    let docker_before_fallback = with(&nothing, true, Some(PASSWORD));
    assert_unauthorized(digest(&docker_before_fallback, &app).await, host);
}

#[tokio::test]
async fn silly_token_auth_fetches_one_token_per_repository() {
    let run = TestRun::new();
    let tokens = TokenServer::opaque(TokenPolicy::default());
    let registry = run.registry_with(tokens.registry_options());
    let pushed = [
        run.push(&registry, "app", "1.0.0"),
        run.push(&registry, "app", "2.0.0"),
        run.push(&registry, "tools/other", "1.0.0"),
    ];
    let client = anonymous_client();
    let host = registry.addr();
    let token_host = tokens.addr();
    let check_all = || assert_digests_as_pushed(&client, &pushed);

    check_all().await;

    let requests = tokens.tidewatch_requests();
    assert_eq!(
        scopes(&requests),
        ["repository:app:pull", "repository:tools/other:pull"]
    );
    for request in &requests {
        assert_eq!(request.param("service"), [SERVICE], "{request:?}");
        assert_eq!(request.authorization, None, "anonymous: no credentials");
        assert_eq!(request.status, 200);
    }
    assert_counts(
        &client,
        &[
            (host, Ping, 401, 1),
            (&token_host, Token, 200, 2),
            (host, Head, 200, 3),
        ],
    );

    // Within the tokens' lifetime a new check needs no new token, nor a new ping.
    check_all().await;
    assert_eq!(tokens.tidewatch_requests().len(), 2);
    assert_counts(
        &client,
        &[
            (host, Ping, 401, 1),
            (&token_host, Token, 200, 2),
            (host, Head, 200, 6),
        ],
    );
}

/// Answers a HEAD of the manifest at `path` on `rogue` with 200 and a fixed digest, which it
/// returns.
fn serve_manifest_digest(rogue: &Rogue, path: &str) -> String {
    let digest_value = format!("sha256:{}", "ab".repeat(32));
    rogue.route(
        "HEAD",
        path,
        vec![
            Reply::status(200)
                .header("Docker-Content-Digest", &digest_value)
                .header(
                    "Content-Type",
                    "application/vnd.docker.distribution.manifest.v2+json",
                ),
        ],
    );
    digest_value
}

/// The registry in silly mode lets any header through, so what the client shows it is read
/// here from a scripted registry that records it.
#[tokio::test]
async fn the_bearer_token_is_sent_as_issued() {
    let tokens = TokenServer::opaque(TokenPolicy::default());
    let rogue = Rogue::start();
    let challenge = format!("Bearer realm=\"{}\",service=\"rogue\"", tokens.realm());
    rogue.route(
        "GET",
        "/v2/",
        vec![Reply::status(401).header("WWW-Authenticate", &challenge)],
    );
    let digest_value = serve_manifest_digest(&rogue, "/v2/app/manifests/1.0.0");
    let client = anonymous_client();

    let got = digest(&client, &image(&format!("{}/app:1.0.0", rogue.addr()))).await;

    assert_eq!(got, Ok(digest_value));
    let requests = tokens.tidewatch_requests();
    assert_eq!(requests.len(), 1, "{requests:?}");
    assert_eq!(requests[0].param("scope"), ["repository:app:pull"]);
    assert_eq!(requests[0].param("service"), ["rogue"]);
    let token = requests[0].token.clone().expect("issued");
    let heads: Vec<Option<String>> = rogue
        .hits()
        .iter()
        .filter(|h| h.method == "HEAD")
        .map(|h| h.header("authorization").map(str::to_string))
        .collect();
    assert_eq!(heads, [Some(format!("Bearer {token}"))]);
    let ping = &rogue.hits()[0];
    assert_eq!(
        (ping.target.as_str(), ping.header("authorization")),
        ("/v2/", None)
    );
}

/// A registry in `token` mode behind a token service that wants a login.
struct TokenScene {
    run: TestRun,
    tokens: TokenServer,
    registry: crate::support::Registry,
    policy: TokenPolicy,
}

/// The scene is set (`docker push` …) with long-lived tokens; `policy` applies once
/// [`TokenScene::apply`] says so, so that short ones cannot fail a slow push.
fn token_scene(policy: TokenPolicy) -> TokenScene {
    let run = TestRun::new();
    let tokens = TokenServer::jwt(login(TokenPolicy::default()));
    let registry = run.registry_with(tokens.registry_options());
    TokenScene {
        run,
        tokens,
        registry,
        policy: login(policy),
    }
}

fn login(policy: TokenPolicy) -> TokenPolicy {
    TokenPolicy {
        login: Some((USER.into(), PASSWORD.into())),
        ..policy
    }
}

impl TokenScene {
    fn apply(&self) {
        self.tokens.set_policy(self.policy.clone());
    }
}

#[tokio::test]
async fn jwt_token_auth_works_end_to_end_with_credentials_only() {
    let scene = token_scene(TokenPolicy::default());
    // `docker login` and `docker push` through the same token service.
    let pushed = scene.run.push(&scene.registry, "app", "1.0.0");
    let host = scene.registry.addr();
    let token_host = scene.tokens.addr();
    let app = image(&pushed.reference);

    let right = client(host, Some((USER, PASSWORD)));
    assert_eq!(digest(&right, &app).await, Ok(pushed.digest.clone()));
    assert_counts(
        &right,
        &[
            (host, Ping, 401, 1),
            (&token_host, Token, 200, 1),
            (host, Head, 200, 1),
        ],
    );
    let requests = scene.tokens.tidewatch_requests();
    assert_eq!(scopes(&requests), ["repository:app:pull"]);
    let basic = format!("Basic {}", STANDARD.encode(format!("{USER}:{PASSWORD}")));
    assert_eq!(requests[0].authorization.as_deref(), Some(basic.as_str()));

    // The token service refuses: anonymous, then a wrong password.
    assert_unauthorized(digest(&anonymous_client(), &app).await, &token_host);
    let wrong = client(host, Some((USER, "s3cret-wrong")));
    assert_unauthorized(digest(&wrong, &app).await, &token_host);
    assert_eq!(
        wrong.counts().get(&(host.to_string(), Head, 200)),
        None,
        "nothing reaches the registry without a token"
    );
}

#[tokio::test]
async fn a_token_the_registry_stops_accepting_is_renewed_once() {
    // `expires_in` says five minutes; the registry honours the JWT for three seconds at most.
    let scene = token_scene(TokenPolicy {
        expires_in: Some(300),
        valid_for: Duration::from_secs(3),
        ..TokenPolicy::default()
    });
    let pushed = scene.run.push(&scene.registry, "app", "1.0.0");
    let host = scene.registry.addr();
    let token_host = scene.tokens.addr();
    let app = image(&pushed.reference);
    let client = client(host, Some((USER, PASSWORD)));
    scene.apply();
    assert_eq!(digest(&client, &app).await, Ok(pushed.digest.clone()));

    outlive_last_token(&scene.tokens).await;
    assert_eq!(digest(&client, &app).await, Ok(pushed.digest));

    assert_counts(
        &client,
        &[
            (host, Ping, 401, 1),
            (&token_host, Token, 200, 2),
            (host, Head, 200, 2),
            (host, Head, 401, 1),
        ],
    );
}

/// Two checks of one repository meet the expired token together: one renewal serves both.
#[tokio::test]
async fn concurrent_rejections_renew_the_token_once() {
    let scene = token_scene(TokenPolicy {
        expires_in: Some(300),
        valid_for: Duration::from_secs(3),
        ..TokenPolicy::default()
    });
    let pushed = [
        scene.run.push(&scene.registry, "app", "1.0.0"),
        scene.run.push(&scene.registry, "app", "2.0.0"),
    ];
    let host = scene.registry.addr();
    let token_host = scene.tokens.addr();
    let client = client(host, Some((USER, PASSWORD)));
    scene.apply();
    let check_both = || assert_digests_as_pushed(&client, &pushed);
    check_both().await;
    assert_eq!(scene.tokens.tidewatch_requests().len(), 1);

    outlive_last_token(&scene.tokens).await;
    check_both().await;

    assert_counts(
        &client,
        &[
            (host, Ping, 401, 1),
            (&token_host, Token, 200, 2),
            (host, Head, 200, 4),
            (host, Head, 401, 2),
        ],
    );
}

#[tokio::test]
async fn a_short_expires_in_is_honoured_without_a_rejection() {
    let scene = token_scene(TokenPolicy {
        expires_in: Some(1),
        valid_for: Duration::from_secs(300),
        ..TokenPolicy::default()
    });
    let pushed = scene.run.push(&scene.registry, "app", "1.0.0");
    let host = scene.registry.addr();
    let token_host = scene.tokens.addr();
    let app = image(&pushed.reference);
    let client = client(host, Some((USER, PASSWORD)));
    scene.apply();
    assert_eq!(digest(&client, &app).await, Ok(pushed.digest.clone()));

    tokio::time::sleep(Duration::from_millis(1100)).await;
    assert_eq!(digest(&client, &app).await, Ok(pushed.digest));

    assert_counts(
        &client,
        &[
            (host, Ping, 401, 1),
            (&token_host, Token, 200, 2),
            (host, Head, 200, 2),
        ],
    );
}

/// WUD's keys for Azure (`clientid`/`clientsecret`) and for Quay robot accounts
/// (`namespace`+`account` with `token`) log in to a real registry, pointed at it by `url`.
#[tokio::test]
async fn wud_acr_and_quay_keys_log_in() {
    let run = TestRun::new();
    let robot = "acme+ci";
    let registry = run.registry_with(RegistryOptions::default().basic_auth(robot, PASSWORD));
    let pushed = run.push(&registry, "app", "1.0.0");
    let host = registry.addr();
    let app = image(&pushed.reference);
    let entry = |pairs: &[(&str, &str)]| -> tidewatch::config::RegistryConfig {
        let mut json = serde_json::json!({ "url": format!("http://{host}") });
        for (key, value) in pairs {
            json[*key] = serde_json::Value::String(value.to_string());
        }
        serde_json::from_value(json).expect("a valid entry")
    };
    let acr = RegistriesConfig {
        acr: [(
            "corp".to_string(),
            entry(&[("clientid", robot), ("clientsecret", PASSWORD)]),
        )]
        .into(),
        ..RegistriesConfig::default()
    };
    let quay = RegistriesConfig {
        quay: [(
            "robot".to_string(),
            entry(&[
                ("namespace", "acme"),
                ("account", "ci"),
                ("token", PASSWORD),
            ]),
        )]
        .into(),
        ..RegistriesConfig::default()
    };
    for config in [acr, quay] {
        let client = client_with(&config, settings());
        assert_eq!(digest(&client, &app).await, Ok(pushed.digest.clone()));
        assert_counts(&client, &[(host, Ping, 401, 1), (host, Head, 200, 1)]);
    }
}

/// A loopback registry configured without a scheme is reached over plain HTTP, as Docker
/// reaches it, with its configured login.
#[tokio::test]
async fn a_loopback_url_without_a_scheme_is_plain_http() {
    let run = TestRun::new();
    let registry = run.registry_with(RegistryOptions::default().basic_auth(USER, PASSWORD));
    let pushed = run.push(&registry, "app", "1.0.0");
    let host = registry.addr();
    let mut config = configured(host, Some((USER, PASSWORD)));
    config.custom.get_mut("test").expect("entry").url = Some(host.to_string());
    let client = client_with(&config, settings());

    assert_eq!(
        digest(&client, &image(&pushed.reference)).await,
        Ok(pushed.digest)
    );
    assert_counts(&client, &[(host, Ping, 401, 1), (host, Head, 200, 1)]);
}

/// Docker's `credsStore` names a helper that is not installed: a registry that asks for no
/// login is checked all the same, and one that does ask is refused with the helper named.
#[tokio::test]
async fn a_broken_creds_store_only_matters_where_a_login_is_needed() {
    let run = TestRun::new();
    let open = run.registry();
    let locked = run.registry_with(RegistryOptions::default().basic_auth(USER, PASSWORD));
    let public = run.push(&open, "app", "1.0.0");
    let private = run.push(&locked, "app", "1.0.0");
    let dir = tempfile::tempdir().expect("temp dir");
    std::fs::write(
        dir.path().join("config.json"),
        r#"{"credsStore": "tidewatchnosuchhelper"}"#,
    )
    .expect("write config.json");
    let client = client_with(
        &RegistriesConfig::default(),
        ClientSettings {
            docker_config_dir: Some(dir.path().to_path_buf()),
            ..settings()
        },
    );

    assert_eq!(
        digest(&client, &image(&public.reference)).await,
        Ok(public.digest)
    );
    let err = digest(&client, &image(&private.reference))
        .await
        .expect_err("no usable login for the locked registry");
    assert!(
        err.to_string()
            .contains("docker-credential-tidewatchnosuchhelper"),
        "{err}"
    );
}

/// WUD's gitlab `authurl`: tokens come from `<authurl>/jwt/auth`, with the configured token as
/// the password, whatever realm the registry's challenge names.
#[tokio::test]
async fn gitlab_authurl_is_where_tokens_come_from() {
    let registry = Rogue::start();
    let gitlab = Rogue::start();
    let challenge = format!(
        "Bearer realm=\"http://{}/elsewhere\",service=\"container_registry\"",
        registry.addr()
    );
    registry.route(
        "GET",
        "/v2/",
        vec![Reply::status(401).header("WWW-Authenticate", &challenge)],
    );
    let digest_value = serve_manifest_digest(&registry, "/v2/group/app/manifests/1");
    gitlab.route(
        "GET",
        "/jwt/auth",
        vec![Reply::json(
            200,
            serde_json::json!({"token": "t0ken", "expires_in": 300}),
        )],
    );
    let entry: tidewatch::config::RegistryConfig = serde_json::from_value(serde_json::json!({
        "url": format!("http://{}", registry.addr()),
        "authurl": format!("http://{}/", gitlab.addr()),
        "token": PASSWORD,
    }))
    .expect("a valid entry");
    let config = RegistriesConfig {
        gitlab: [("mine".to_string(), entry)].into(),
        ..RegistriesConfig::default()
    };
    let client = client_with(&config, settings());
    let app = image(&format!("{}/group/app:1", registry.addr()));

    assert_eq!(digest(&client, &app).await, Ok(digest_value));
    let asked = gitlab.hits();
    assert_eq!(asked.len(), 1, "{asked:?}");
    assert!(asked[0].target.starts_with("/jwt/auth?"), "{asked:?}");
    assert!(
        asked[0].target.contains("service=container_registry"),
        "{asked:?}"
    );
    let login = asked[0]
        .header("authorization")
        .and_then(|h| h.strip_prefix("Basic "))
        .and_then(|b| STANDARD.decode(b).ok())
        .map(|b| String::from_utf8_lossy(&b).to_string());
    assert_eq!(login, Some(format!("tidewatch:{PASSWORD}")));
    assert_eq!(registry.count("GET", "/elsewhere"), 0);
    let head = registry
        .hits()
        .into_iter()
        .find(|h| h.method == "HEAD")
        .expect("a HEAD");
    assert_eq!(head.header("authorization"), Some("Bearer t0ken"));
}
