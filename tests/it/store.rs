//! The store across runs of the binary: what `run --once` found is remembered, the audit log
//! only grows when a finding changes, a removed container is forgotten, and `tidewatch history`
//! prints it.

use crate::support::update::history;
use crate::support::{TestRun, fresh_store_dir, tidewatch};

fn events(entries: &[serde_json::Value]) -> Vec<String> {
    entries
        .iter()
        .map(|e| e["event"].as_str().unwrap_or_default().to_string())
        .collect()
}

#[test]
fn findings_are_remembered_across_runs_and_history_shows_changes_only() {
    let run = TestRun::new();
    let registry = run.registry();
    let v1 = run.push(&registry, "remembered", "1.0.0");
    let container = run.run("remembered", &v1.reference, &[]);
    run.push(&registry, "remembered", "1.1.0");
    let dir = fresh_store_dir();
    let store = dir.to_str().unwrap();
    let env = [("TIDEWATCH_STORE_PATH", store)];

    tidewatch(&["run", "--once"], &env);
    let first = history(store, &container.name);
    assert_eq!(events(&first), ["update-available"], "{first:#?}");
    let detail = first[0]["detail"].as_str().unwrap();
    assert!(detail.contains("→ 1.1.0 (minor)"), "{detail}");
    assert!(dir.join("tidewatch.db").is_file());

    // The same finding again: remembered, not repeated.
    tidewatch(&["run", "--once"], &env);
    assert_eq!(history(store, &container.name), first);

    // Gone from the engine: forgotten at the next full listing, and logged.
    run.docker(&["rm", "-f", &container.id]);
    tidewatch(&["run", "--once"], &env);
    let after = history(store, &container.name);
    assert_eq!(
        events(&after),
        ["update-available", "removed"],
        "{after:#?}"
    );

    let table = tidewatch(&["history", &container.name], &env);
    assert!(table.stdout.contains("update-available"), "{table}");
    assert!(table.stdout.contains(&container.name), "{table}");

    // A name the store has nothing on, among entries for others: said as such.
    let nosuch = run.name("nosuch");
    let none = tidewatch(&["history", &nosuch], &env);
    assert!(none.status.success(), "{none}");
    assert!(
        none.stdout.contains(&format!("No history for {nosuch}")),
        "{none}"
    );
}

#[test]
fn history_without_a_store_says_so_and_creates_nothing() {
    let dir = fresh_store_dir();
    let out = tidewatch(
        &["history"],
        &[("TIDEWATCH_STORE_PATH", dir.to_str().unwrap())],
    );
    assert!(out.status.success(), "{out}");
    assert!(out.stdout.contains("No history yet"), "{out}");
    assert!(!dir.exists(), "history must not create the store");
}
