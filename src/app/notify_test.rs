//! `tidewatch notify-test`: a sample update through one trigger.

use crate::app::Triggers;

/// `tidewatch notify-test TRIGGER`: a sample update through one trigger, filters aside.
pub async fn notify_test(triggers: Triggers, wanted: &str) -> anyhow::Result<String> {
    let known = triggers.ids();
    let wanted = wanted.to_ascii_lowercase();
    let Some(trigger) = triggers
        .notifiers
        .into_iter()
        .find(|t| t.id().to_string() == wanted)
    else {
        anyhow::bail!(
            "no trigger {wanted}; configured: {}",
            if known.is_empty() {
                "none".to_string()
            } else {
                known.join(", ")
            }
        );
    };
    let message = trigger
        .send_test()
        .await
        .map_err(|err| anyhow::anyhow!("{}: {err}", trigger.id()))?;
    Ok(format!("{}: sent \"{}\"", trigger.id(), message.title))
}
