//! `.env` rewrites: only the value changes, in its own quoting, judged by line diff.

use super::{bare, ending, line_diff};
use crate::compose::file::{ComposeError, rewrite_env};

/// The only call of `rewrite_env` here.
fn check(text: &str, vars: &[(&str, &str)]) -> Result<String, ComposeError> {
    let vars: Vec<(String, String)> = vars
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
    rewrite_env(text, &vars)
}

/// Variables to set, or lines before → after.
type Vars = &'static [(&'static str, &'static str)];

/// (what, file, variables, changed lines before → after)
type Row = (&'static str, &'static str, Vars, Vars);

const TABLE: &[Row] = &[
    (
        "plain value among comments",
        "# Versions\nAPP_TAG=1.0.0\n\n# Database\nPG_TAG=16\n",
        &[("APP_TAG", "1.5.0")],
        &[("APP_TAG=1.0.0", "APP_TAG=1.5.0")],
    ),
    (
        "trailing comment and blanks kept",
        "APP_TAG=1.0.0   # bumped by tidewatch\nOTHER=x\n",
        &[("APP_TAG", "1.5.0")],
        &[(
            "APP_TAG=1.0.0   # bumped by tidewatch",
            "APP_TAG=1.5.0   # bumped by tidewatch",
        )],
    ),
    (
        "export prefix",
        "export APP_TAG=1.0\nexport OTHER=2\n",
        &[("APP_TAG", "1.1")],
        &[("export APP_TAG=1.0", "export APP_TAG=1.1")],
    ),
    (
        "single quotes",
        "APP_TAG='1.0'\n",
        &[("APP_TAG", "1.1")],
        &[("APP_TAG='1.0'", "APP_TAG='1.1'")],
    ),
    (
        "double quotes with a comment",
        "APP_TAG=\"1.0\" # pinned\n",
        &[("APP_TAG", "1.1")],
        &[("APP_TAG=\"1.0\" # pinned", "APP_TAG=\"1.1\" # pinned")],
    ),
    (
        "spaces around the equals sign",
        "APP_TAG = 1.0\n",
        &[("APP_TAG", "1.1")],
        &[("APP_TAG = 1.0", "APP_TAG = 1.1")],
    ),
    (
        "yaml-style colon",
        "APP_TAG: 1.0\n",
        &[("APP_TAG", "1.1")],
        &[("APP_TAG: 1.0", "APP_TAG: 1.1")],
    ),
    (
        "CRLF line ends",
        "REG=ghcr.io/acme\r\nAPP_TAG=1.0\r\nOTHER=1\r\n",
        &[("APP_TAG", "1.1"), ("REG", "docker.io/acme")],
        &[
            ("REG=ghcr.io/acme", "REG=docker.io/acme"),
            ("APP_TAG=1.0", "APP_TAG=1.1"),
        ],
    ),
    (
        "every assignment of the variable",
        "APP_TAG=0.9\n# later wins in compose\nAPP_TAG=1.0\n",
        &[("APP_TAG", "1.1")],
        &[
            ("APP_TAG=0.9", "APP_TAG=1.1"),
            ("APP_TAG=1.0", "APP_TAG=1.1"),
        ],
    ),
    (
        "a multi-line value that mentions the variable is not an assignment",
        "NOTE=\"first line\nAPP_TAG=not-this\nend\"\nAPP_TAG=1.0\n",
        &[("APP_TAG", "1.1")],
        &[("APP_TAG=1.0", "APP_TAG=1.1")],
    ),
    (
        "empty value",
        "APP_TAG=\nOTHER=1\n",
        &[("APP_TAG", "1.1")],
        &[("APP_TAG=", "APP_TAG=1.1")],
    ),
    (
        "empty value before a comment",
        "APP_TAG= # set me\n",
        &[("APP_TAG", "1.1")],
        &[("APP_TAG= # set me", "APP_TAG= 1.1 # set me")],
    ),
    (
        "digest value, no final line end",
        "APP_DIGEST=sha256:1111",
        &[("APP_DIGEST", "sha256:2222")],
        &[("APP_DIGEST=sha256:1111", "APP_DIGEST=sha256:2222")],
    ),
    (
        "unquoted value that needs quotes gets single quotes",
        "GREETING=hello\n",
        &[("GREETING", "hello world")],
        &[("GREETING=hello", "GREETING='hello world'")],
    ),
];

#[test]
fn compose_env_rewrites_change_only_the_value() {
    let mut failures = Vec::new();
    for (what, text, vars, changes) in TABLE {
        let out = match check(text, vars) {
            Ok(out) => out,
            Err(err) => {
                failures.push(format!("{what}: {err}"));
                continue;
            }
        };
        let (removed, added) = line_diff(text, &out);
        let got: Vec<(&str, &str)> = removed
            .iter()
            .zip(&added)
            .map(|(a, b)| (bare(a), bare(b)))
            .collect();
        if removed.len() != added.len() || got != *changes {
            failures.push(format!(
                "{what}: expected {changes:?}, got -{removed:?} +{added:?}"
            ));
        }
        if removed
            .iter()
            .zip(&added)
            .any(|(a, b)| ending(a) != ending(b))
        {
            failures.push(format!("{what}: a line end changed"));
        }
        // Setting the same values again changes nothing.
        if check(&out, vars).as_deref() != Ok(out.as_str()) {
            failures.push(format!("{what}: not idempotent"));
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

#[test]
fn compose_env_refusals() {
    let table: &[(&str, &str, Vars, &str)] = &[
        (
            "missing variable",
            "OTHER=1\n",
            &[("APP_TAG", "1.1")],
            "variable APP_TAG is not set in .env (it may come from the shell that ran compose); add `APP_TAG=…` to the project's .env",
        ),
        (
            "commented out is missing",
            "# APP_TAG=1.0\n",
            &[("APP_TAG", "1.1")],
            "not set in .env",
        ),
        (
            "taken from the environment",
            "OTHER=1\nAPP_TAG\n",
            &[("APP_TAG", "1.1")],
            ".env line 2: APP_TAG takes its value from the environment",
        ),
        (
            "unterminated quote",
            "A=1\nAPP_TAG=\"1.0\n",
            &[("APP_TAG", "1.1")],
            ".env line 2: the quoted value of APP_TAG is never closed",
        ),
        (
            "bad key",
            "APP-TAG=1\n",
            &[("APP_TAG", "1.1")],
            ".env line 1: unexpected '-' in a variable name",
        ),
        (
            "bad variable name",
            "A=1\n",
            &[("A B", "1")],
            "variable A B: it is not a variable name",
        ),
        (
            "quote in single quotes",
            "A='1'\n",
            &[("A", "it's")],
            "cannot be written in single quotes",
        ),
        (
            "dollar in double quotes",
            "A=\"1\"\n",
            &[("A", "$HOME")],
            "cannot be written in double quotes",
        ),
        ("line break", "A=1\n", &[("A", "1\n2")], "line break"),
    ];
    let mut failures = Vec::new();
    for (what, text, vars, expected) in table {
        match check(text, vars) {
            Err(err) if err.to_string().contains(expected) => {}
            other => failures.push(format!("{what}: expected {expected:?}, got {other:?}")),
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

#[test]
fn compose_env_variable_named_twice_takes_the_first_value() {
    assert_eq!(
        check("A=\nB=1\n", &[("A", "x"), ("A", "y")]).as_deref(),
        Ok("A=x\nB=1\n")
    );
}

#[test]
fn compose_env_missing_variable_is_its_own_variant() {
    assert_eq!(
        check("A=1\n", &[("B", "2")]),
        Err(ComposeError::MissingVariable {
            variable: "B".into()
        })
    );
}
