//! The health probes other tools' compose files write, answered inside an image that has no
//! shell and no `wget`.
//!
//! WUD's documented compose file checks its container with
//! `test: wget --no-verbose --tries=1 --no-check-certificate --spider http://localhost:3000`, a
//! string Docker runs through `/bin/sh -c`; others write `curl -f http://localhost:3000/health
//! || exit 1`. tidewatch's image is one static binary, so those would fail and the container be
//! reported unhealthy (and a self-update, which waits for the successor's health, rolled back).
//! The image therefore links `/bin/sh`, `/bin/wget` and `/bin/curl` to the binary, which, called
//! by one of those names, does what such a probe asks: one HTTP GET, success for a 2xx answer
//! (redirects followed, as both tools do). Anything else is refused with exit 127 and a line
//! saying why: this is not a shell.

use std::time::Duration;

/// What a probe asks for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Probe {
    pub url: String,
    /// `--no-check-certificate` (wget), `-k`/`--insecure` (curl).
    pub insecure: bool,
    pub timeout: Duration,
}

/// How long a probe waits by default: Docker's health check timeout is 30 s unless set.
const DEFAULT_TIMEOUT: Duration = Duration::from_secs(10);

/// Exit status of a command this "shell" does not run, as a shell's for a command not found.
pub const NOT_FOUND: u8 = 127;

/// The name the binary was called by, when it is one of the probe names.
pub fn called_as(argv0: &str) -> Option<&'static str> {
    let name = argv0.rsplit('/').next().unwrap_or(argv0);
    ["sh", "wget", "curl"].into_iter().find(|n| *n == name)
}

/// The probe in `args` (without the program name) of the tool `called`; for `sh`, the command
/// after `-c`. The error says what is not understood.
pub fn parse(called: &str, args: &[String]) -> Result<Probe, String> {
    if called == "sh" {
        let command = match args {
            [flag, command, ..] if flag == "-c" => command,
            _ => return Err("only `sh -c COMMAND` with a wget or curl probe is built in".into()),
        };
        let words = split(command)?;
        // `… || exit 1`: what the probe does anyway, as its exit status says failure.
        let words = match words.iter().position(|w| w == "||") {
            Some(at) if is_exit(&words[at + 1..]) => words[..at].to_vec(),
            Some(_) => return Err("only `|| exit N` may follow the probe".into()),
            None => words,
        };
        if let Some(op) = words
            .iter()
            .find(|w| ["&&", "|", ";", ">", "<", "&"].contains(&w.as_str()))
        {
            return Err(format!(
                "`{op}`: this is not a shell, only a wget or curl probe"
            ));
        }
        let (program, rest) = words
            .split_first()
            .ok_or_else(|| "an empty command".to_string())?;
        let tool = called_as(program)
            .filter(|t| *t != "sh")
            .ok_or_else(|| format!("`{program}`: only wget and curl probes are built in"))?;
        return parse(tool, rest);
    }
    let mut url = None;
    let mut insecure = false;
    let mut timeout = DEFAULT_TIMEOUT;
    let mut set_timeout = |flag: &str, given: &str| -> Result<(), String> {
        let seconds: f64 = given
            .parse()
            .map_err(|_| format!("{flag}: not a number of seconds"))?;
        if seconds > 0.0 {
            timeout = Duration::from_secs_f64(seconds.min(300.0));
        }
        Ok(())
    };
    let mut words = args.iter();
    while let Some(word) = words.next() {
        if let Some(long) = word.strip_prefix("--") {
            let (name, inline) = match long.split_once('=') {
                Some((name, value)) => (name, Some(value.to_string())),
                None => (long, None),
            };
            let takes_value = LONG_WITH_VALUE
                .iter()
                .any(|(tool, flag)| *tool == called && *flag == name);
            let value = match (takes_value, inline) {
                (_, Some(value)) => Some(value),
                (true, None) => Some(
                    words
                        .next()
                        .cloned()
                        .ok_or_else(|| format!("--{name} needs a value"))?,
                ),
                (false, None) => None,
            };
            match (called, name, value) {
                ("wget", "no-check-certificate", _) | ("curl", "insecure", _) => insecure = true,
                ("wget", "timeout", Some(v)) | ("curl", "max-time", Some(v)) => {
                    set_timeout(word, &v)?;
                }
                // Quiet, spider, fail, silent, location, head, …: the outcome is the same.
                _ => {}
            }
        } else if let Some(group) = word.strip_prefix('-').filter(|g| !g.is_empty()) {
            // Short flags, grouped as getopt has them (`-qO-`, `-fsS`, `-T3`): the first that
            // takes a value takes the rest of the group, or the next word.
            for (at, flag) in group.char_indices() {
                let takes_value = SHORT_WITH_VALUE
                    .iter()
                    .any(|(tool, flags)| *tool == called && flags.contains(flag));
                if takes_value {
                    let rest = &group[at + flag.len_utf8()..];
                    let value = match rest {
                        "" => words
                            .next()
                            .cloned()
                            .ok_or_else(|| format!("-{flag} needs a value"))?,
                        rest => rest.to_string(),
                    };
                    if matches!((called, flag), ("wget", 'T') | ("curl", 'm')) {
                        set_timeout(&format!("-{flag}"), &value)?;
                    }
                    break;
                }
                if (called, flag) == ("curl", 'k') {
                    insecure = true;
                }
            }
        } else if url.is_none() {
            url = Some(word.clone());
        } else {
            return Err(format!("`{word}`: one address only"));
        }
    }
    let url = url.ok_or_else(|| "no address to probe".to_string())?;
    if !(url.starts_with("http://") || url.starts_with("https://")) {
        return Err(format!("`{url}`: only http:// and https:// addresses"));
    }
    Ok(Probe {
        url,
        insecure,
        timeout,
    })
}

/// The long options of each tool that take a value (`--timeout 5` as well as `--timeout=5`).
const LONG_WITH_VALUE: &[(&str, &str)] = &[
    ("wget", "timeout"),
    ("wget", "tries"),
    ("wget", "output-document"),
    ("wget", "output-file"),
    ("wget", "user-agent"),
    ("wget", "header"),
    ("wget", "wait"),
    ("curl", "max-time"),
    ("curl", "connect-timeout"),
    ("curl", "output"),
    ("curl", "user-agent"),
    ("curl", "header"),
    ("curl", "request"),
    ("curl", "user"),
    ("curl", "data"),
    ("curl", "retry"),
    ("curl", "retry-delay"),
    ("curl", "write-out"),
];

/// The short options of each tool that take a value.
const SHORT_WITH_VALUE: &[(&str, &str)] = &[("wget", "OotTUeP"), ("curl", "omAHXudewb")];

fn is_exit(words: &[String]) -> bool {
    match words {
        [exit] => exit == "exit",
        [exit, code] => exit == "exit" && code.parse::<u8>().is_ok(),
        _ => false,
    }
}

/// Splits a command line into words as a shell would for the probes people write: blanks
/// separate, single quotes keep everything, double quotes and backslashes the usual way. `||`
/// and the other operators come out as words of their own only when written apart.
fn split(command: &str) -> Result<Vec<String>, String> {
    let mut words = Vec::new();
    let mut word = String::new();
    let mut started = false;
    let mut chars = command.chars();
    while let Some(c) = chars.next() {
        match c {
            '\'' => {
                started = true;
                loop {
                    match chars.next() {
                        Some('\'') => break,
                        Some(c) => word.push(c),
                        None => return Err("an unclosed '".into()),
                    }
                }
            }
            '"' => {
                started = true;
                loop {
                    match chars.next() {
                        Some('"') => break,
                        Some('\\') => match chars.next() {
                            Some(c @ ('"' | '\\' | '$' | '`')) => word.push(c),
                            Some(c) => {
                                word.push('\\');
                                word.push(c);
                            }
                            None => return Err("an unclosed \"".into()),
                        },
                        Some(c) => word.push(c),
                        None => return Err("an unclosed \"".into()),
                    }
                }
            }
            '\\' => {
                started = true;
                if let Some(c) = chars.next() {
                    word.push(c);
                }
            }
            c if c.is_whitespace() => {
                if started {
                    words.push(std::mem::take(&mut word));
                    started = false;
                }
            }
            c => {
                started = true;
                word.push(c);
            }
        }
    }
    if started {
        words.push(word);
    }
    Ok(words)
}

/// Does the probe: `Ok` for a 2xx answer (what was answered), else why not.
pub async fn run(probe: &Probe) -> Result<String, String> {
    let client = reqwest::Client::builder()
        .timeout(probe.timeout)
        .danger_accept_invalid_certs(probe.insecure)
        .redirect(reqwest::redirect::Policy::limited(10))
        .build()
        .map_err(|err| format!("cannot make an HTTP client: {err}"))?;
    let answer = client
        .get(&probe.url)
        .send()
        .await
        .map_err(|err| format!("{}: {err}", probe.url))?;
    let status = answer.status();
    if status.is_success() {
        Ok(format!("{}: {status}", probe.url))
    } else {
        Err(format!("{}: {status}", probe.url))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn args(words: &[&str]) -> Vec<String> {
        words.iter().map(|w| w.to_string()).collect()
    }

    #[test]
    fn the_names_it_answers_to() {
        assert_eq!(called_as("/bin/sh"), Some("sh"));
        assert_eq!(called_as("wget"), Some("wget"));
        assert_eq!(called_as("/usr/bin/curl"), Some("curl"));
        assert_eq!(called_as("/tidewatch"), None);
        assert_eq!(called_as("/watchtower"), None);
    }

    #[test]
    fn wuds_documented_health_check_and_the_usual_curl_ones_are_probes() {
        let wud =
            "wget --no-verbose --tries=1 --no-check-certificate --spider http://localhost:3000";
        assert_eq!(
            parse("sh", &args(&["-c", wud])),
            Ok(Probe {
                url: "http://localhost:3000".into(),
                insecure: true,
                timeout: DEFAULT_TIMEOUT,
            })
        );
        let curl = parse(
            "sh",
            &args(&[
                "-c",
                "curl -fsS --max-time 5 'http://127.0.0.1:3000/health' || exit 1",
            ]),
        )
        .unwrap();
        assert_eq!(curl.url, "http://127.0.0.1:3000/health");
        assert_eq!(
            (curl.insecure, curl.timeout),
            (false, Duration::from_secs(5))
        );
        let direct = parse("wget", &args(&["-qO-", "-T", "3", "https://tw.lan/health"])).unwrap();
        assert_eq!(direct.url, "https://tw.lan/health");
        assert_eq!(direct.timeout, Duration::from_secs(3));
        for words in [
            &["-O", "/dev/null", "http://a:3000"][..],
            &["-qO", "/dev/null", "http://a:3000"][..],
            &["--timeout", "2", "-q", "http://a:3000"][..],
            &["--output-document=/dev/null", "http://a:3000"][..],
        ] {
            assert_eq!(
                parse("wget", &args(words)).unwrap().url,
                "http://a:3000",
                "{words:?}"
            );
        }
        let grouped = parse("wget", &args(&["-qT2", "http://a"])).unwrap();
        assert_eq!(grouped.timeout, Duration::from_secs(2));
        let curl = parse("curl", &args(&["-fsSk", "-H", "Accept: */*", "https://a"])).unwrap();
        assert_eq!((curl.url.as_str(), curl.insecure), ("https://a", true));
    }

    #[test]
    fn anything_else_is_refused_saying_why() {
        for (called, words, says) in [
            ("sh", &["-c", "ls /"][..], "`ls`: only wget and curl"),
            ("sh", &["-c", "wget http://a && rm -rf /"][..], "`&&`"),
            (
                "sh",
                &["-c", "curl http://a || echo down"][..],
                "only `|| exit N`",
            ),
            ("sh", &[][..], "only `sh -c COMMAND`"),
            ("sh", &["-c", "wget 'http://a"][..], "unclosed"),
            ("wget", &["--spider"][..], "no address"),
            ("curl", &["ftp://a"][..], "only http"),
            ("curl", &["http://a", "http://b"][..], "one address only"),
            ("wget", &["-T", "soon", "http://a"][..], "not a number"),
        ] {
            let refused = parse(called, &args(words)).unwrap_err();
            assert!(refused.contains(says), "{words:?}: {refused}");
        }
    }

    #[test]
    fn quoting_is_a_shells() {
        assert_eq!(
            split(r#"curl -H "X-A: \"b\"" 'c d' e\ f"#).unwrap(),
            ["curl", "-H", "X-A: \"b\"", "c d", "e f"]
        );
        assert_eq!(split("  ").unwrap(), Vec::<String>::new());
    }
}
