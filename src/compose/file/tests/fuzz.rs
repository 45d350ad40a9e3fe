//! Property tests over mutated files: no input panics, and whatever succeeds is consistent —
//! a rewritten file is already on the new image when asked again (the re-parse inside
//! `rewrite_image` has checked that no other service changed); a rewritten `.env` gives
//! itself back when set again.
//!
//! A fixed-seed generator instead of a property-testing crate: reproducible, and no build
//! time spent on a dependency for one test.

use crate::compose::file::{Rewrite, rewrite_env, rewrite_image};

/// SplitMix64.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    fn below(&mut self, n: usize) -> usize {
        (self.next() % n.max(1) as u64) as usize
    }
}

/// Files beyond the table's, for shapes the table has no reason to hold.
const EXTRA_SEEDS: &[(&str, &str, &str)] = &[
    (
        "x-base: &base\n  image: app:1.0 # c\n  restart: always\nservices:\n  web:\n    <<: *base\n    ports: [\"80:80\"]\n  db: {image: \"postgres:16\", environment: {A: *base}}\n",
        "db",
        "postgres:17",
    ),
    (
        "---\nversion: '3'\nservices:\n  web:\n    image: 'nginx:1.25'   # pinned\n  app:\n    image: \"${REG:-docker.io}/app:${TAG:-1.0}\"\n...\n",
        "app",
        "docker.io/app:1.5",
    ),
    (
        "web:\n  image: nginx@sha256:abc\ndb:\n  image: &i mysql:5.7\nother:\n  image: *i\n",
        "web",
        "nginx:1.26@sha256:def",
    ),
];

const ENV_SEEDS: &[&str] = &[
    "# c\nexport TAG=1.0 # x\nREG='ghcr.io'\nNOTE=\"a\nb\"\nTAG: 2\n",
    "TAG=\"1\"\r\nX\r\n",
];

/// Pieces that matter to YAML and `.env` parsers, to insert.
const PIECES: &[&str] = &[
    "\n",
    "\r\n",
    " ",
    "  ",
    "\t",
    ":",
    ": ",
    "-",
    "- ",
    "#",
    "'",
    "\"",
    "\\",
    "&a",
    "*a",
    "&base",
    "*base",
    "<<: ",
    "{",
    "}",
    "[",
    "]",
    ",",
    "!",
    "!!str ",
    "|",
    ">",
    "?",
    "@",
    "$",
    "${",
    "}",
    "$$",
    "---",
    "...",
    "image: ",
    "services:",
    "web:",
    "\u{feff}",
    "é",
    "=",
    "export ",
    "%YAML 1.2\n",
];

fn mutate(rng: &mut Rng, text: &str) -> String {
    let mut out: Vec<char> = text.chars().collect();
    for _ in 0..1 + rng.below(4) {
        let at = rng.below(out.len() + 1);
        match rng.below(4) {
            0 if at < out.len() => {
                let len = 1 + rng.below(6);
                out.drain(at..(at + len).min(out.len()));
            }
            1 => out.truncate(at),
            2 if at < out.len() => {
                // Duplicate a stretch (lines, anchors, keys appear twice).
                let len = 1 + rng.below(40);
                let piece: Vec<char> = out[at..(at + len).min(out.len())].to_vec();
                let to = rng.below(out.len() + 1);
                out.splice(to..to, piece);
            }
            _ => {
                let piece = PIECES[rng.below(PIECES.len())];
                out.splice(at..at, piece.chars());
            }
        }
    }
    out.into_iter().collect()
}

/// The only calls of the API here: rewrite, and check what came back.
fn check(text: &str, service: &str, image: &str) -> Result<(), String> {
    match rewrite_image(text, service, image) {
        Ok(Rewrite::File(out)) => match rewrite_image(&out, service, image) {
            Ok(Rewrite::Unchanged) => Ok(()),
            other => Err(format!(
                "not settled after a rewrite of {text:?}: {other:?}"
            )),
        },
        Ok(Rewrite::Variables(vars)) if vars.is_empty() => {
            Err(format!("empty variables for {text:?}"))
        }
        Ok(_) | Err(_) => Ok(()),
    }
}

#[test]
fn compose_mutated_files_never_panic() {
    let mut seeds: Vec<(String, &str, &str)> = super::files::cases()
        .into_iter()
        .map(|c| (c.file, c.service, c.image))
        .collect();
    seeds.extend(EXTRA_SEEDS.iter().map(|&(f, s, i)| (f.to_owned(), s, i)));
    let mut rng = Rng(0x7469_6465_7761_7463);
    let mut failures = Vec::new();
    for round in 0..4000 {
        let (seed, service, image) = &seeds[round % seeds.len()];
        let text = mutate(&mut rng, seed);
        if let Err(problem) = check(&text, service, image) {
            failures.push(problem);
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

#[test]
fn compose_mutated_env_files_never_panic() {
    let mut rng = Rng(0x656e_7666_696c_6573);
    let mut failures = Vec::new();
    for round in 0..3000 {
        let text = mutate(&mut rng, ENV_SEEDS[round % ENV_SEEDS.len()]);
        let vars = vec![("TAG".to_string(), "1.5".to_string())];
        if let Ok(out) = rewrite_env(&text, &vars)
            && rewrite_env(&out, &vars).as_deref() != Ok(out.as_str())
        {
            failures.push(format!("not idempotent: {text:?} -> {out:?}"));
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}
