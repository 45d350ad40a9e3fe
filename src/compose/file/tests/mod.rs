//! Tests of the compose rewriter. Each file is one area with its own `check` helper, the only
//! place there that calls the API; this file holds what they share: the line diff every
//! rewrite is judged by.

mod env;
mod errors;
mod files;
mod fuzz;
mod quoting;
mod variables;

/// The lines a rewrite removed and added, each with its line end, by a longest-common-
/// subsequence diff (the fixtures are small). Judging by diff is the point: a rewrite that
/// also touched a comment, a quote or a line end elsewhere shows up here.
pub(super) fn line_diff<'a>(before: &'a str, after: &'a str) -> (Vec<&'a str>, Vec<&'a str>) {
    let a: Vec<&str> = before.split_inclusive('\n').collect();
    let b: Vec<&str> = after.split_inclusive('\n').collect();
    // lcs[i][j]: length of the longest common subsequence of a[i..] and b[j..].
    let mut lcs = vec![vec![0usize; b.len() + 1]; a.len() + 1];
    for i in (0..a.len()).rev() {
        for j in (0..b.len()).rev() {
            lcs[i][j] = if a[i] == b[j] {
                lcs[i + 1][j + 1] + 1
            } else {
                lcs[i + 1][j].max(lcs[i][j + 1])
            };
        }
    }
    let (mut removed, mut added) = (Vec::new(), Vec::new());
    let (mut i, mut j) = (0, 0);
    while i < a.len() || j < b.len() {
        if i < a.len() && j < b.len() && a[i] == b[j] {
            i += 1;
            j += 1;
        } else if j < b.len() && (i == a.len() || lcs[i][j + 1] >= lcs[i + 1][j]) {
            added.push(b[j]);
            j += 1;
        } else {
            removed.push(a[i]);
            i += 1;
        }
    }
    (removed, added)
}

/// A line without its line end, for comparing with the expected text.
pub(super) fn bare(line: &str) -> &str {
    line.trim_end_matches('\n').trim_end_matches('\r')
}

/// The line end a line carries: `"\r\n"`, `"\n"` or none (the file's last line).
pub(super) fn ending(line: &str) -> &str {
    if line.ends_with("\r\n") {
        "\r\n"
    } else if line.ends_with('\n') {
        "\n"
    } else {
        ""
    }
}

#[test]
fn compose_line_diff_sees_changed_line_ends() {
    let (removed, added) = line_diff("a\nb\r\nc\n", "a\nb\nc\n");
    assert_eq!(removed, ["b\r\n"]);
    assert_eq!(added, ["b\n"]);
    assert_eq!(line_diff("a\nb\n", "a\nb\n"), (vec![], vec![]));
}
