//! Watchtower's `WATCHTOWER_NOTIFICATION_TEMPLATE` is a Go template; tidewatch's are handlebars.
//! The forms Watchtower's documentation shows are translated: a range over the log entries
//! (`{{range .}}`, `.Entries`) or over the report's `.Updated` containers, their `.Name`,
//! `.ImageName`, `.State`, `.Message`, `.Level`, `.Time`, the image IDs' `.ShortID`, the
//! report's counts (`len .Scanned`), `if .Report`/`with .Report`, `or`, `println` and `"\n"`,
//! with `{{-`/`-}}` trimming. Anything else is refused at start-up: a template half understood
//! would send a broken text.
//!
//! A message here is about the updates of one check cycle, so every entry or updated
//! container is one of those updates; the report's other lists (`.Fresh`, `.Skipped`,
//! `.Failed`, `.Stale`) have no entries here and their ranges render nothing.

/// What an open block becomes when it ends.
#[derive(Debug, Clone, Copy, PartialEq)]
enum Frame {
    /// `{{/each}}`
    Each,
    /// `{{/if}}`
    If,
    /// Nothing: `with .Report`, or `if .Report` (always true here).
    Transparent,
    /// Skipped content: a range with no entries here, or `else` of `if .Report`.
    Skip,
}

/// The handlebars translation of `source`, or why it cannot be translated.
pub fn translate(source: &str) -> Result<String, String> {
    let mut out = String::new();
    let mut frames: Vec<Frame> = Vec::new();
    let mut rest = source;
    let mut trim_next = false;
    let skipping = |frames: &[Frame]| frames.contains(&Frame::Skip);
    let text = |out: &mut String, text: &str, frames: &[Frame]| {
        if !skipping(frames) {
            out.push_str(&text.replace("{{", "\\{{"));
        }
    };
    while let Some(start) = rest.find("{{") {
        let mut before = &rest[..start];
        if trim_next {
            before = before.trim_start();
        }
        let after = &rest[start + 2..];
        let end = after.find("}}").ok_or("an action is not closed with }}")?;
        let mut action = &after[..end];
        if let Some(a) = action.strip_prefix('-') {
            before = before.trim_end();
            action = a;
        }
        trim_next = false;
        if let Some(a) = action.strip_suffix('-') {
            trim_next = true;
            action = a;
        }
        text(&mut out, before, &frames);
        rest = &after[end + 2..];
        let action = action.trim();
        let words: Vec<&str> = action.split_whitespace().collect();
        let in_entry = frames
            .iter()
            .rev()
            .find(|f| matches!(f, Frame::Each))
            .is_some();
        let emit = |out: &mut String, frames: &[Frame], s: &str| {
            if !skipping(frames) {
                out.push_str(s);
            }
        };
        match words.as_slice() {
            ["range", "."]
            | ["range", ".Entries"]
            | ["range", ".Updated"]
            | ["range", ".Report.Updated"] => {
                emit(&mut out, &frames, "{{#each updates}}");
                frames.push(Frame::Each);
            }
            ["range", list]
                if matches!(
                    *list,
                    ".Fresh"
                        | ".Skipped"
                        | ".Failed"
                        | ".Stale"
                        | ".Scanned"
                        | ".Report.Fresh"
                        | ".Report.Skipped"
                        | ".Report.Failed"
                        | ".Report.Stale"
                ) =>
            {
                frames.push(Frame::Skip);
            }
            ["with", ".Report"] | ["if", ".Report"] => frames.push(Frame::Transparent),
            ["if", "(", "or", a, b, ")"] | ["if", "(or", a, b] | ["if", "or", a, b]
                if [*a, b.trim_end_matches(')')].iter().all(|w| {
                    matches!(
                        *w,
                        ".Updated" | ".Failed" | ".Scanned" | ".Fresh" | ".Skipped" | ".Stale"
                    )
                }) =>
            {
                emit(&mut out, &frames, "{{#if count}}");
                frames.push(Frame::If);
            }
            ["else"] => match frames.last_mut() {
                Some(frame @ Frame::Transparent) => *frame = Frame::Skip,
                Some(Frame::If) => emit(&mut out, &frames, "{{else}}"),
                _ => return Err("`else` outside `if .Report` or `if (or …)`".into()),
            },
            ["end"] => match frames.pop() {
                Some(Frame::Each) => emit(&mut out, &frames, "{{/each}}"),
                Some(Frame::If) => emit(&mut out, &frames, "{{/if}}"),
                Some(Frame::Transparent | Frame::Skip) => {}
                None => return Err("`end` without a block".into()),
            },
            ["println"] | ["\"\\n\""] => emit(&mut out, &frames, "\n"),
            ["len", list] => {
                let field = match list.trim_start_matches(".Report") {
                    ".Scanned" => "report.scanned",
                    ".Updated" | ".Stale" | "" => "count",
                    ".Failed" => "report.failed",
                    ".Fresh" => "report.up_to_date",
                    ".Skipped" => "report.skipped",
                    _ => return Err(format!("`{{{{{action}}}}}` has no translation")),
                };
                emit(&mut out, &frames, &format!("{{{{{field}}}}}"));
            }
            [field, rest @ ..] if in_entry || skipping(&frames) => {
                let translated = match (*field, rest) {
                    (".Name", []) => "{{name}}",
                    (".ImageName", []) => "{{image}}",
                    (".CurrentImageID.ShortID", []) | (".CurrentImageID", []) => "{{from}}",
                    (".LatestImageID.ShortID", []) | (".LatestImageID", []) => "{{to}}",
                    (".ID.ShortID", []) | (".ID", []) => "{{id}}",
                    (".State", []) => "Updated",
                    (".Error", []) => "",
                    (".Message", []) => "Found new {{image}} image ({{to}}) for {{name}}",
                    (".Level", []) => "info",
                    (".Time", []) => "{{../time}}",
                    (".Time.Format", [_, ..]) => "{{../time}}",
                    _ => return Err(format!("`{{{{{action}}}}}` has no translation")),
                };
                emit(&mut out, &frames, translated);
            }
            _ => return Err(format!("`{{{{{action}}}}}` has no translation")),
        }
    }
    let mut tail = rest;
    if trim_next {
        tail = tail.trim_start();
    }
    text(&mut out, tail, &frames);
    if !frames.is_empty() {
        return Err("a block is not closed with {{end}}".into());
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_documented_legacy_form_ranges_over_the_updates() {
        assert_eq!(
            translate("{{range .}}{{.Time.Format \"2006-01-02 15:04:05\"}} ({{.Level}}): {{.Message}}{{println}}{{end}}")
                .unwrap(),
            "{{#each updates}}{{../time}} (info): Found new {{image}} image ({{to}}) for {{name}}\n{{/each}}"
        );
    }

    #[test]
    fn the_documented_report_form_keeps_the_counts_and_the_updated() {
        let source = r#"{{- if .Report -}}
  {{- with .Report -}}
    {{- if ( or .Updated .Failed ) -}}
{{len .Scanned}} Scanned, {{len .Updated}} Updated, {{len .Failed}} Failed
      {{- range .Updated}}
- {{.Name}} ({{.ImageName}}): {{.CurrentImageID.ShortID}} updated to {{.LatestImageID.ShortID}}
      {{- end -}}
      {{- range .Fresh}}
- {{.Name}} ({{.ImageName}}): {{.State}}
      {{- end -}}
      {{- range .Failed}}
- {{.Name}} ({{.ImageName}}): {{.State}}: {{.Error}}
      {{- end -}}
    {{- end -}}
  {{- end -}}
{{- else -}}
  {{range .Entries -}}{{.Message}}{{"\n"}}{{- end -}}
{{- end -}}"#;
        assert_eq!(
            translate(source).unwrap(),
            "{{#if count}}{{report.scanned}} Scanned, {{count}} Updated, {{report.failed}} Failed\n- {{#each updates}}{{name}} ({{image}}): {{from}} updated to {{to}}{{/each}}{{/if}}"
                .replace("\n- {{#each updates}}", "{{#each updates}}\n- ")
        );
    }

    #[test]
    fn anything_else_is_refused_with_the_action() {
        assert_eq!(
            translate("{{.Host}}").unwrap_err(),
            "`{{.Host}}` has no translation"
        );
        assert!(translate("{{range .}}{{.Data.foo}}{{end}}").is_err());
        assert!(translate("{{range .}}").is_err());
        assert_eq!(translate("plain {{\"\\n\"}}").unwrap(), "plain \n");
    }
}
