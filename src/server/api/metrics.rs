//! `GET /metrics` (and Watchtower's `GET /v1/metrics`): Prometheus text, rendered by
//! `metrics-exporter-prometheus` from what the daemon counts through the `metrics` facade.
//!
//! Every metric name and label lives in this file. Labels are bounded: watcher, status, kind,
//! trigger, outcome and registry host, never a container name or a tag. Counts of events come
//! from the bus ([`record`]); the state (containers by status, updates by kind) and the registry
//! client's request counters are read when `/metrics` is asked, so they are never stale.

use crate::bus::{Event, Subscriber};
use crate::server::AppState;
use crate::server::auth::{MetricsReader, WatchtowerActor};
use axum::Router;
use axum::extract::State;
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use metrics::{counter, gauge, histogram};
use std::collections::BTreeMap;

const CONTAINERS: &str = "tidewatch_containers";
const UPDATES_AVAILABLE: &str = "tidewatch_updates_available";
const CHECKS: &str = "tidewatch_checks_total";
const CHECK_DURATION: &str = "tidewatch_check_duration_seconds";
const REGISTRY_REQUESTS: &str = "tidewatch_registry_requests_total";
const REGISTRY_RATE_LIMITED: &str = "tidewatch_registry_rate_limited_total";
const NOTIFICATIONS: &str = "tidewatch_notifications_total";
const UPDATES: &str = "tidewatch_updates_total";
const BUS_LAGGED: &str = "tidewatch_bus_lagged_events_total";
const WEBHOOKS: &str = "tidewatch_webhooks_total";
// Watchtower's names, for its dashboards.
const WT_SCANNED: &str = "watchtower_containers_scanned";
const WT_UPDATED: &str = "watchtower_containers_updated";
const WT_FAILED: &str = "watchtower_containers_failed";
const WT_SCANS: &str = "watchtower_scans_total";
const WT_SKIPPED: &str = "watchtower_scans_skipped";

const STATUSES: [&str; 4] = ["update-available", "up-to-date", "skipped", "failed"];
const KINDS: [&str; 5] = ["digest", "prerelease", "patch", "minor", "major"];

/// Installs the process-wide recorder; `None` when one is already installed.
pub fn install() -> Option<metrics_exporter_prometheus::PrometheusHandle> {
    let buckets = [0.1, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0, 120.0, 300.0];
    let handle = metrics_exporter_prometheus::PrometheusBuilder::new()
        .set_buckets_for_metric(
            metrics_exporter_prometheus::Matcher::Full(CHECK_DURATION.into()),
            &buckets,
        )
        .ok()?
        .install_recorder()
        .ok()?;
    describe();
    Some(handle)
}

fn describe() {
    use metrics::{describe_counter, describe_gauge, describe_histogram};
    describe_gauge!(
        CONTAINERS,
        "Containers by watcher and the status of their last check."
    );
    describe_gauge!(
        UPDATES_AVAILABLE,
        "Containers with an update available, by kind."
    );
    describe_counter!(CHECKS, "Checks of a watcher completed.");
    describe_histogram!(
        CHECK_DURATION,
        metrics::Unit::Seconds,
        "How long a check cycle took."
    );
    describe_counter!(
        REGISTRY_REQUESTS,
        "Registry requests by host, kind and HTTP status (0: no answer)."
    );
    describe_counter!(
        REGISTRY_RATE_LIMITED,
        "Registry answers 429 (rate limited), by host."
    );
    describe_counter!(
        NOTIFICATIONS,
        "Notifications by trigger and outcome (sent, failed)."
    );
    describe_counter!(
        UPDATES,
        "Container updates by trigger and outcome (applied, failed, rolled_back, skipped)."
    );
    describe_counter!(BUS_LAGGED, "Events a slow subscriber lost.");
    describe_counter!(WEBHOOKS, "Registry push webhooks by source and outcome.");
    describe_gauge!(
        WT_SCANNED,
        "Containers scanned in the last check (Watchtower's name)."
    );
    describe_gauge!(
        WT_UPDATED,
        "Containers updated in the last round (Watchtower's name)."
    );
    describe_gauge!(
        WT_FAILED,
        "Containers whose check or update failed last (Watchtower's name)."
    );
    describe_counter!(WT_SCANS, "Checks completed (Watchtower's name).");
    describe_counter!(
        WT_SKIPPED,
        "Checks skipped (Watchtower's name; always 0 here)."
    );
}

/// How long one check cycle took; called by the daemon around each cycle.
pub fn cycle_finished(elapsed: std::time::Duration) {
    histogram!(CHECK_DURATION).record(elapsed.as_secs_f64());
}

/// A registry push webhook, by source (`distribution`, `dockerhub`, …) and outcome.
pub fn webhook(source: &'static str, outcome: &'static str) {
    counter!(WEBHOOKS, "source" => source, "outcome" => outcome).increment(1);
}

/// Counts what happens on the bus until it closes.
pub async fn record(mut events: Subscriber) {
    counter!(WT_SKIPPED).absolute(0);
    while let Some(event) = events.recv().await {
        match event.as_ref() {
            Event::CheckCompleted(report) => {
                counter!(CHECKS, "watcher" => report.watcher.clone()).increment(1);
                counter!(WT_SCANS).increment(1);
                gauge!(WT_SCANNED).set(report.scanned as f64);
                gauge!(WT_FAILED).set(report.failed as f64);
            }
            Event::UpdatesCompleted(report) => {
                let trigger = report.trigger.clone();
                for (outcome, n) in [
                    ("applied", report.updated),
                    ("failed", report.failed),
                    ("rolled_back", report.rolled_back),
                    ("skipped", report.skipped),
                ] {
                    counter!(UPDATES, "trigger" => trigger.clone(), "outcome" => outcome)
                        .increment(n as u64);
                }
                gauge!(WT_UPDATED).set(report.updated as f64);
            }
            Event::Notified {
                trigger, failure, ..
            } => {
                let outcome = if failure.is_some() { "failed" } else { "sent" };
                counter!(NOTIFICATIONS, "trigger" => trigger.clone(), "outcome" => outcome)
                    .increment(1);
            }
            _ => {}
        }
    }
}

pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/metrics", get(metrics))
        .route("/v1/metrics", get(watchtower_metrics))
}

async fn metrics(_: MetricsReader, State(state): State<AppState>) -> Response {
    render(&state).await
}

/// Watchtower's `/v1/metrics`: behind its token, as in Watchtower.
async fn watchtower_metrics(_: WatchtowerActor, State(state): State<AppState>) -> Response {
    render(&state).await
}

async fn render(state: &AppState) -> Response {
    let Some(handle) = &state.metrics else {
        return super::error(StatusCode::SERVICE_UNAVAILABLE, "metrics are not recorded");
    };
    refresh(state).await;
    (
        [(
            header::CONTENT_TYPE,
            "text/plain; version=0.0.4; charset=utf-8",
        )],
        handle.render(),
    )
        .into_response()
}

/// Sets the metrics that are state, not events, from the store and the registry client.
async fn refresh(state: &AppState) {
    if let Ok(views) = state.view.containers().await {
        let mut by_status: BTreeMap<(String, &str), u64> = BTreeMap::new();
        let mut by_kind: BTreeMap<&str, u64> = KINDS.iter().map(|k| (*k, 0)).collect();
        for watcher in state.config.watcher.keys() {
            for status in STATUSES {
                by_status.insert((watcher.clone(), status), 0);
            }
        }
        for view in views.iter() {
            let status = STATUSES
                .iter()
                .find(|s| **s == view.stored.status)
                .copied()
                .unwrap_or("failed");
            *by_status
                .entry((view.stored.watcher.clone(), status))
                .or_default() += 1;
            if status == "update-available"
                && let Some(kind) = view.stored.update_kind.as_deref()
                && let Some(count) = KINDS
                    .iter()
                    .find(|k| **k == kind)
                    .and_then(|k| by_kind.get_mut(k))
            {
                *count += 1;
            }
        }
        for ((watcher, status), n) in by_status {
            gauge!(CONTAINERS, "watcher" => watcher, "status" => status).set(n as f64);
        }
        for (kind, n) in by_kind {
            gauge!(UPDATES_AVAILABLE, "kind" => kind).set(n as f64);
        }
    }
    if let Some(registry) = &state.registry {
        let mut limited: BTreeMap<String, u64> = BTreeMap::new();
        for ((host, kind, status), n) in registry.counts() {
            let kind = serde_json::to_value(kind)
                .ok()
                .and_then(|v| v.as_str().map(str::to_string))
                .unwrap_or_default();
            counter!(REGISTRY_REQUESTS, "host" => host.clone(), "kind" => kind, "status" => status.to_string())
                .absolute(n);
            if status == 429 {
                *limited.entry(host).or_default() += n;
            }
        }
        for (host, n) in limited {
            counter!(REGISTRY_RATE_LIMITED, "host" => host).absolute(n);
        }
    }
    if let Some(lagged) = &state.lagged {
        counter!(BUS_LAGGED).absolute(lagged());
    }
}
