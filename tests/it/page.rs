//! The web page, in a real browser (headless Chromium over WebDriver), against the real daemon
//! (`tidewatch run` with its server), the real engine and a real registry: what a person sees
//! and clicks. Screenshots land in `target/screenshots/` for a person to look at.

use crate::support::browser::Browser;
use crate::support::update::docker_trigger_env;
use crate::support::{Container, TestRun, fresh_store_dir, tidewatch_command};
use serde_json::{Value, json};
use std::io::Read;
use std::path::PathBuf;
use std::process::{Child, Stdio};
use std::time::{Duration, Instant};

const TOKEN: &str = "page-test-token-3f9a";

/// Three containers of one run on one registry: `web` on 1.0.0 with 1.1.0 pushed (minor), `db`
/// on 2.0.0 with 3.0.0 pushed (major, shown as "Database"), `cache` on 1.0.0 and up to date.
/// The watcher includes only the run's containers, so other tests' stay off the page.
struct Scene {
    run: TestRun,
    registry: crate::support::Registry,
    web: Container,
    db: Container,
    cache: Container,
    web_old: String,
    web_new: String,
    daemon: Daemon,
}

impl Scene {
    fn start() -> Scene {
        let run = TestRun::new();
        let registry = run.registry();
        // A label tidewatch reads, for the container page to explain.
        let watched = ["--label", "tidewatch.watch=true"];
        let web_old = run.push(&registry, "web", "1.0.0");
        let db_old = run.push(&registry, "db", "2.0.0");
        let cache_old = run.push(&registry, "cache", "1.0.0");
        let web = run.run_with("web", &watched, &web_old.reference, &[]);
        let db = run.run_with(
            "db",
            &[
                "--label",
                "tidewatch.watch=true",
                "--label",
                "tidewatch.display.name=Database",
            ],
            &db_old.reference,
            &[],
        );
        let cache = run.run_with("cache", &watched, &cache_old.reference, &[]);
        let web_new = run.push(&registry, "web", "1.1.0").reference;
        run.push(&registry, "db", "3.0.0");
        let daemon = Daemon::start(&run);
        daemon.wait_for_checks(&[&web.name, &db.name, &cache.name]);
        Scene {
            run,
            registry,
            web,
            db,
            cache,
            web_old: web_old.reference,
            web_new,
            daemon,
        }
    }

    fn url(&self, path: &str) -> String {
        format!("http://{}{path}", self.daemon.addr)
    }
}

/// `tidewatch run` with its server on a free loopback port, an API token, the docker trigger
/// limited to the run's containers and off until asked (`auto=false`: only the page's click
/// updates), and a schedule that does not come round during the test.
struct Daemon {
    child: Child,
    addr: String,
    log: PathBuf,
}

impl Daemon {
    fn start(run: &TestRun) -> Daemon {
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .and_then(|l| l.local_addr())
            .expect("a free port")
            .port()
            .to_string();
        let store = fresh_store_dir();
        let include = run.own_names();
        let mut env = docker_trigger_env(&include, store.to_str().expect("UTF-8"));
        env.extend([
            ("TIDEWATCH_TRIGGER_DOCKER_LOCAL_AUTO", "false"),
            // Only this run's containers: other tests' come and go on the same engine.
            ("TIDEWATCH_WATCHER_LOCAL_INCLUDE", &include),
            ("TIDEWATCH_WATCHER_LOCAL_CRON", "0 0 0 1 1 *"),
            ("TIDEWATCH_WATCHER_LOCAL_JITTER", "0"),
            ("TIDEWATCH_SERVER_ADDRESS", "127.0.0.1"),
            ("TIDEWATCH_SERVER_PORT", &port),
            ("TIDEWATCH_SERVER_TOKEN", TOKEN),
        ]);
        std::fs::create_dir_all(&store).expect("store folder");
        let log = store.join("daemon.log");
        let file = std::fs::File::create(&log).expect("daemon log");
        let child = tidewatch_command(&["run"], &env)
            .stdout(Stdio::null())
            .stderr(file)
            .spawn()
            .expect("start tidewatch run");
        Daemon {
            child,
            addr: format!("127.0.0.1:{port}"),
            log,
        }
    }

    fn log(&self) -> String {
        let mut text = String::new();
        if let Ok(mut f) = std::fs::File::open(&self.log) {
            let _ = f.read_to_string(&mut text);
        }
        text
    }

    fn get(&self, path: &str) -> Option<Value> {
        let response = crate::support::http_request("GET", &self.addr, path, &[], b"").ok()?;
        (response.status == 200)
            .then(|| serde_json::from_slice(&response.body).ok())
            .flatten()
    }

    /// Until the daemon's first check has found each of `names`.
    fn wait_for_checks(&self, names: &[&str]) {
        let deadline = Instant::now() + Duration::from_secs(90);
        loop {
            let overview = self.get("/api/overview");
            let checked = overview.as_ref().is_some_and(|o| {
                names.iter().all(|name| {
                    o["containers"].as_array().into_iter().flatten().any(|c| {
                        c["name"] == *name
                            && c["checkedAt"].is_string()
                            && c["status"] != "unchecked"
                    })
                })
            });
            if checked {
                return;
            }
            assert!(
                Instant::now() < deadline,
                "the daemon did not check {names:?} within 90 s; /api/overview: {overview:?}\n{}",
                self.log()
            );
            std::thread::sleep(Duration::from_millis(200));
        }
    }
}

impl Drop for Daemon {
    fn drop(&mut self) {
        // SAFETY: kill only sends a signal to the child we started.
        unsafe { libc::kill(self.child.id() as libc::pid_t, libc::SIGTERM) };
        let deadline = Instant::now() + Duration::from_secs(20);
        while Instant::now() < deadline {
            if let Ok(Some(_)) = self.child.try_wait() {
                return;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn screenshots() -> PathBuf {
    // CARGO_TARGET_TMPDIR is target/tmp; the screenshots go beside it, in target/screenshots.
    PathBuf::from(env!("CARGO_TARGET_TMPDIR"))
        .parent()
        .expect("target/tmp has a parent")
        .join("screenshots")
}

/// The rows of the list: `[name, version text, kind, status]`.
const ROWS: &str = "return [...document.querySelectorAll('#containers tbody tr')].map(r => [
    r.dataset.container, r.querySelector('.version').innerText.replace(/\\s+/g, ' ').trim(),
    r.dataset.kind, r.dataset.status]);";

fn rows(browser: &Browser) -> Vec<Vec<String>> {
    serde_json::from_value(browser.run(ROWS, json!([]))).expect("rows as strings")
}

/// Waits until the list shows exactly `names`, in any order.
#[track_caller]
fn wait_for_names(browser: &Browser, names: &[&str]) {
    let mut wanted: Vec<&str> = names.to_vec();
    wanted.sort();
    browser.wait_for(
        &format!("the list to show {wanted:?}"),
        &format!(
            "const names = [...document.querySelectorAll('#containers tbody tr')]
                .map(r => r.dataset.container).sort();
             return JSON.stringify(names) === JSON.stringify({});",
            json!(wanted)
        ),
    );
}

/// Console errors, less the ones a test caused on purpose (`expected`: a part of the message)
/// and the machine's: Chromium drops requests under way with `ERR_NETWORK_CHANGED` whenever a
/// network interface comes or goes, which parallel tests' containers make happen all the time
/// (the page asks again; the tests then see it succeed).
#[track_caller]
fn assert_no_console_errors(browser: &Browser, expected: &[&str]) {
    let errors: Vec<String> = browser
        .console_errors()
        .into_iter()
        .filter(|e| !e.contains("net::ERR_NETWORK_CHANGED"))
        .filter(|e| !expected.iter().any(|x| e.contains(x)))
        .collect();
    assert!(errors.is_empty(), "console errors: {errors:#?}");
}

#[test]
fn the_list_shows_versions_and_kinds_and_its_filters_survive_a_reload() {
    let scene = Scene::start();
    let browser = Browser::start(1280, 800);
    browser.goto(&scene.url("/"));
    let (web, db, cache) = (&scene.web.name, &scene.db.name, &scene.cache.name);
    wait_for_names(&browser, &[web, db, cache]);

    let mut shown = rows(&browser);
    shown.sort();
    let mut expected = vec![
        vec![
            cache.clone(),
            "1.0.0".into(),
            String::new(),
            "up-to-date".into(),
        ],
        vec![
            db.clone(),
            "2.0.0→3.0.0 major".into(),
            "major".into(),
            "update-available".into(),
        ],
        vec![
            web.clone(),
            "1.0.0→1.1.0 minor".into(),
            "minor".into(),
            "update-available".into(),
        ],
    ];
    expected.sort();
    assert_eq!(shown, expected);
    assert!(
        browser.text("#containers").contains("Database"),
        "the display name is shown"
    );
    assert_eq!(
        browser.text("[data-count=update-available] b"),
        "2",
        "the counts"
    );
    browser.screenshot(&screenshots().join("page-list.png"));

    // A click on a count filters, the URL says so, and a reload keeps it.
    browser.click("[data-count=up-to-date]");
    wait_for_names(&browser, &[cache]);
    assert!(
        browser.url().ends_with("/?status=up-to-date"),
        "{}",
        browser.url()
    );
    browser.refresh();
    wait_for_names(&browser, &[cache]);
    assert_eq!(
        browser.run("return document.getElementById('status').value", json!([])),
        "up-to-date"
    );
    // The kind and the free text, from a bookmarked URL.
    browser.goto(&scene.url("/?kind=major"));
    wait_for_names(&browser, &[db]);
    browser.goto(&scene.url("/"));
    wait_for_names(&browser, &[web, db, cache]);
    browser.type_into("#q", "Datab");
    wait_for_names(&browser, &[db]);
    assert!(browser.url().ends_with("/?q=Datab"), "{}", browser.url());

    // A container's page: its labels, its history, its triggers; then the configuration.
    browser.goto(&scene.url("/"));
    wait_for_names(&browser, &[web, db, cache]);
    browser.click(&format!("tr[data-container='{web}'] .name a"));
    browser.wait_for(
        "the container's history",
        "return document.querySelector('#history td.event-update-available')",
    );
    assert!(browser.text("#labels").contains("tidewatch.watch"));
    assert!(browser.text("#triggers").contains("docker.local"));
    browser.resize(1280, 1150);
    browser.screenshot(&screenshots().join("page-container.png"));
    browser.goto(&scene.url("/config"));
    browser.wait_for(
        "the configuration",
        "return document.querySelector('tr[data-key=\"server.token\"]')",
    );
    let token_row = browser.text("tr[data-key='server.token']");
    assert!(
        token_row.contains("***"),
        "the token is masked: {token_row}"
    );
    assert!(
        !token_row.contains(TOKEN),
        "the token is masked: {token_row}"
    );
    assert!(token_row.contains("TIDEWATCH_SERVER_TOKEN"), "{token_row}");

    // Live: a check that finds something shows on the open list without a reload.
    browser.goto(&scene.url("/"));
    wait_for_names(&browser, &[web, db, cache]);
    browser.run("window.sameDocument = true", json!([]));
    scene.run.push(&scene.registry, "cache", "1.0.1");
    let bearer = format!("Bearer {TOKEN}");
    let checked = crate::support::http_request(
        "POST",
        &scene.daemon.addr,
        "/api/containers/watch",
        &[("Authorization", bearer.as_str())],
        b"",
    )
    .expect("POST /api/containers/watch");
    assert_eq!(checked.status, 200, "{}", checked.text());
    browser.wait_for(
        "the new patch of cache on the list",
        &format!(
            "const r = document.querySelector(\"tr[data-container='{cache}']\");
             return r && r.dataset.status === 'update-available' && r.dataset.kind === 'patch';"
        ),
    );
    assert_eq!(
        browser.run("return window.sameDocument === true", json!([])),
        true,
        "no reload"
    );

    // A phone: one card per container, no table header.
    browser.resize(390, 844);
    browser.wait_for(
        "the cards of a narrow screen",
        "return getComputedStyle(document.querySelector('#containers thead')).display === 'none'",
    );
    browser.screenshot(&screenshots().join("page-phone.png"));
    assert_no_console_errors(&browser, &[]);
}

#[test]
fn update_is_refused_without_the_token_and_applied_live_with_it() {
    let scene = Scene::start();
    let browser = Browser::start(1280, 900);
    let web = &scene.web;
    browser.goto(&scene.url(&format!("/containers/local/{}", web.name)));
    browser.wait_for(
        "the update button",
        "return document.querySelector('#trigger-docker-local')",
    );
    // Set on this document: still there at the end means the page never reloaded.
    browser.run("window.sameDocument = true", json!([]));

    // No token: the plan shows (reading is open), the update is refused, nothing changes.
    browser.click("#trigger-docker-local");
    browser.wait_for("the plan", "return document.querySelector('#plan li')");
    let plan = browser.text("#plan");
    assert!(plan.contains("1.0.0") && plan.contains("1.1.0"), "{plan}");
    assert!(plan.contains("docker.local"), "{plan}");
    browser.click("#apply");
    browser.wait_for(
        "the refusal",
        "return document.querySelector('#progress.refused') && document.getElementById('login').open",
    );
    assert_eq!(
        scene.run.inspect(&web.name, "{{.Id}} {{.State.Running}}"),
        format!("{} true", web.id),
        "refused: the same container still runs"
    );

    // With the token: the plan, then the update, followed to its end without a reload.
    browser.type_into("#login-token", TOKEN);
    browser.click("#login-ok");
    browser.wait_for(
        "signed in",
        "return document.getElementById('auth').dataset.signedIn === 'yes'",
    );
    browser.click("#trigger-docker-local");
    browser.wait_for("the plan", "return document.querySelector('#apply')");
    browser.click("#apply");
    let progress = browser.wait_for(
        "the update to be applied",
        "const p = document.querySelector('#progress');
         return p && !p.classList.contains('running') && p.className + ': ' + p.innerText;",
    );
    assert!(
        progress.as_str().unwrap_or_default().contains("applied"),
        "{progress}\n{}",
        scene.daemon.log()
    );
    browser.screenshot(&screenshots().join("page-update.png"));
    browser.wait_for(
        "the new version on the page",
        "return document.querySelector('#version .current').innerText === '1.1.0'
             && !document.querySelector('#version .new')",
    );
    assert_eq!(
        browser.run("return window.sameDocument === true", json!([])),
        true,
        "no reload"
    );
    assert_eq!(
        scene
            .run
            .inspect(&web.name, "{{.Config.Image}} {{.State.Running}}"),
        format!("{} true", scene.web_new),
        "the container runs the new image"
    );
    browser.wait_for(
        "the update in the history",
        "return document.querySelector('#history td.event-update-applied')",
    );

    // Rolled back with one click: the old image runs again, and the page says so.
    let updated_id = scene.run.inspect(&web.name, "{{.Id}}");
    browser.wait_for(
        "the rollback button",
        "return document.querySelector('#rollback')",
    );
    browser.click("#rollback");
    let progress = browser.wait_for(
        "the rollback to end",
        "const p = document.querySelector('#progress');
         return p && !p.classList.contains('running') && p.className + ': ' + p.innerText;",
    );
    assert!(
        progress
            .as_str()
            .unwrap_or_default()
            .contains("rolled back from 1.1.0 to 1.0.0"),
        "{progress}\n{}",
        scene.daemon.log()
    );
    assert_ne!(scene.run.inspect(&web.name, "{{.Id}}"), updated_id);
    assert_eq!(
        scene
            .run
            .inspect(&web.name, "{{.Config.Image}} {{.State.Running}}"),
        format!("{} true", scene.web_old),
        "the container runs its first image again"
    );
    // The one refused request is the test's own doing.
    assert_no_console_errors(&browser, &["401"]);
}
