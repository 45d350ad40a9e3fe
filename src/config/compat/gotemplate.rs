//! Watchtower's `WATCHTOWER_NOTIFICATION_TEMPLATE` is a Go template; tidewatch's are handlebars.
//! The forms Watchtower's documentation shows are translated: a range over the log entries
//! (`{{range .}}`, `.Entries`) or over the report's lists (`.Scanned`, `.Updated`, `.Failed`,
//! `.Skipped`, `.Stale`, `.Fresh`), their `.Name`, `.ImageName`, `.State`, `.Error`,
//! `.Message`, `.Level`, `.Time`, the image IDs' `.ShortID`, the report's counts (`len
//! .Scanned`), `if .Report`/`with .Report`, `if` over a list or `or` of two, `println` and
//! `"\n"`, with `{{-`/`-}}` trimming. Anything else is refused at start-up: a template half
//! understood would send a broken text.
//!
//! The notifiers made from Watchtower's settings tell a cycle after the updates
//! (`when=updated`), so the lists hold what became of each update: an entry of `.Entries` is
//! one update (its `.Message` a line like Watchtower's log), `.Updated` what was applied,
//! `.Failed` what failed or was rolled back (the reason in `.Error`), `.Fresh` what was up to
//! date.

/// A report list of Watchtower's, as the field of the batch values that holds it.
fn list(word: &str) -> Option<&'static str> {
    Some(match word.trim_start_matches(".Report") {
        ".Scanned" => "scanned",
        ".Updated" => "updated",
        ".Failed" => "failed",
        ".Skipped" => "skipped",
        ".Stale" => "stale",
        ".Fresh" => "fresh",
        _ => return None,
    })
}

/// What an open block becomes when it ends.
#[derive(Debug, Clone, Copy, PartialEq)]
enum Frame {
    /// `{{/each}}`
    Each,
    /// `{{/if}}`
    If,
    /// Nothing: `with .Report`, or `if .Report` (always true here).
    Transparent,
    /// Skipped content: `else` of `if .Report` (always true here).
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
            ["range", "."] | ["range", ".Entries"] => {
                emit(&mut out, &frames, "{{#each updates}}");
                frames.push(Frame::Each);
            }
            ["range", word] if list(word).is_some() => {
                let field = list(word).unwrap_or_default();
                emit(&mut out, &frames, &format!("{{{{#each {field}}}}}"));
                frames.push(Frame::Each);
            }
            ["with", ".Report"] | ["if", ".Report"] => frames.push(Frame::Transparent),
            ["if", word] if list(word).is_some() => {
                let field = list(word).unwrap_or_default();
                emit(&mut out, &frames, &format!("{{{{#if {field}}}}}"));
                frames.push(Frame::If);
            }
            ["if", "(", "or", a, b, ")"] | ["if", "(or", a, b] | ["if", "or", a, b]
                if list(a).is_some() && list(b.trim_end_matches(')')).is_some() =>
            {
                let (a, b) = (
                    list(a).unwrap_or_default(),
                    list(b.trim_end_matches(')')).unwrap_or_default(),
                );
                emit(&mut out, &frames, &format!("{{{{#if (or {a} {b})}}}}"));
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
            ["len", word] => {
                let field = match (list(word), *word) {
                    (Some(field), _) => format!("counts.{field}"),
                    (None, "." | ".Entries") => "count".to_string(),
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
                    (".State", []) => "{{state}}",
                    (".Error", []) => "{{error}}",
                    (".Message", []) => "{{message}}",
                    (".Level", []) => "{{level}}",
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
            "{{#each updates}}{{../time}} ({{level}}): {{message}}\n{{/each}}"
        );
    }

    #[test]
    fn the_documented_report_form_reads_every_list_of_the_report() {
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
            "{{#if (or updated failed)}}{{counts.scanned}} Scanned, {{counts.updated}} Updated, {{counts.failed}} Failed\
             {{#each updated}}\n- {{name}} ({{image}}): {{from}} updated to {{to}}{{/each}}\
             {{#each fresh}}\n- {{name}} ({{image}}): {{state}}{{/each}}\
             {{#each failed}}\n- {{name}} ({{image}}): {{state}}: {{error}}{{/each}}{{/if}}"
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
