//! Selection against tag lists of real images, and properties over generated ones. Every case
//! goes through `check`, the one caller of [`newest`] here.

use super::rng::Rng;
use super::*;
use crate::model::UpdateKind::{self, *};
use std::cmp::Ordering;

type Expected<'a> = Option<(&'a str, UpdateKind)>;

/// What `newest` should pick from `available` for `current` under `policy`; a mismatch is
/// returned as a line for the report rather than panicking, so one run shows every failure.
fn check(
    policy: &TagPolicy,
    current: &str,
    available: &[&str],
    expected: Expected,
) -> Result<(), String> {
    let got = newest(current, available, policy);
    let got = got.as_ref().map(|n| (n.tag.as_str(), n.kind));
    if got == expected {
        Ok(())
    } else {
        Err(format!("{current}: expected {expected:?}, got {got:?}"))
    }
}

fn report(failures: Vec<String>) {
    assert!(failures.is_empty(), "\n{}", failures.join("\n"));
}

const NGINX: &[&str] = &[
    "latest",
    "mainline",
    "stable",
    "stable-alpine",
    "mainline-alpine3.18-perl",
    "alpine",
    "alpine3.18",
    "alpine-perl",
    "perl",
    "1",
    "1.25",
    "1.25-alpine",
    "1.25-alpine-perl",
    "1.25.3",
    "1.25.3-alpine",
    "1.25.3-alpine3.18",
    "1.25.3-alpine-perl",
    "1.25.3-perl",
    "1.25.3-bookworm",
    "1.25.4",
    "1.25.4-alpine",
    "1.25.4-alpine3.18",
    "1.25.4-alpine3.19",
    "1.25.4-alpine-perl",
    "1.25.4-perl",
    "1.25.4-bookworm",
    "1.26",
    "1.26-alpine",
    "1.26-alpine-perl",
    "1.26.0",
    "1.26.0-alpine",
    "1.26.0-alpine3.19",
    "1.26.0-alpine-perl",
    "1.26.0-alpine-slim",
    "1.26.0-perl",
    "1.26.0-bookworm",
];

const POSTGRES: &[&str] = &[
    "latest",
    "alpine",
    "bookworm",
    "16",
    "16-alpine",
    "16-alpine3.19",
    "16-bookworm",
    "16.2",
    "16.2-alpine",
    "16.2-alpine3.19",
    "16.2-bookworm",
    "16.3",
    "16.3-alpine3.19",
    "16.3-alpine3.20",
    "16.3-bookworm",
    "17beta1",
    "17beta1-bookworm",
    "17rc1",
    "17rc1-alpine3.20",
    "17",
    "17-alpine3.20",
    "17.0",
    "17.0-alpine3.20",
    "17.0-bookworm",
];

const SONARR: &[&str] = &[
    "latest",
    "develop",
    "4.0.2.1183-ls220",
    "4.0.2.1183-ls221",
    "4.0.2.1183-ls222",
    "4.0.3.1413-ls224",
    "4.0.3.1413-ls225",
    "version-4.0.2.1183",
    "version-4.0.3.1413",
    "develop-4.0.3.1420-ls100",
    "develop-4.0.4.1500-ls105",
];

const HOME_ASSISTANT: &[&str] = &[
    "stable",
    "latest",
    "beta",
    "dev",
    "2024.5.3",
    "2024.5.4",
    "2024.5.5",
    "2024.6.0b0",
    "2024.6.0b3",
    "2024.6.0",
    "2024.6.1",
    "2024.7.0.dev20240604",
    "2024.7.0b0",
];

const UBUNTU: &[&str] = &[
    "latest",
    "rolling",
    "devel",
    "jammy",
    "noble",
    "20.04",
    "22.04",
    "22.10",
    "23.10",
    "24.04",
    "focal-20240123",
    "jammy-20240227",
    "jammy-20240405",
    "noble-20240423",
];

const ALPINE: &[&str] = &[
    "latest", "edge", "3", "3.18", "3.18.6", "3.19", "3.19.1", "3.20", "3.20.0", "20240315",
    "20240606",
];

const TRAEFIK: &[&str] = &[
    "latest",
    "mimolette",
    "v2.11",
    "v2.11.0",
    "v2.11.2",
    "v3.0",
    "v3.0.0-beta5",
    "v3.0.0-rc1",
    "v3.0.0",
    "v3.0.1",
    "2.11",
    "2.11.0",
    "2.11.2",
    "3.0.0",
    "3.0.1",
];

const PYTHON: &[&str] = &[
    "3.11.9-slim",
    "3.12.2",
    "3.12.2-slim",
    "3.12.2-bookworm",
    "3.12.2-slim-bookworm",
    "3.12.3-slim",
    "3.12.3-slim-bookworm",
    "3.13.0a4-slim-bookworm",
    "3.13.0rc2-slim",
    "3.13.0rc2-slim-bookworm",
    "slim",
];

fn table() -> Vec<(&'static str, &'static [&'static str], Expected<'static>)> {
    vec![
        // nginx: every flavour stays itself; precision stays as pinned.
        ("1.25.3", NGINX, Some(("1.26.0", Minor))),
        ("1.25.3-alpine", NGINX, Some(("1.26.0-alpine", Minor))),
        ("1.25-alpine", NGINX, Some(("1.26-alpine", Minor))),
        ("1.25", NGINX, Some(("1.26", Minor))),
        (
            "1.25.3-alpine-perl",
            NGINX,
            Some(("1.26.0-alpine-perl", Minor)),
        ),
        ("1.25.3-perl", NGINX, Some(("1.26.0-perl", Minor))),
        (
            "1.25.3-alpine3.18",
            NGINX,
            Some(("1.26.0-alpine3.19", Minor)),
        ),
        ("1.26.0-alpine", NGINX, None),
        ("1.26.0-alpine-slim", NGINX, None),
        ("1", NGINX, None),
        ("mainline", NGINX, None),
        ("stable-alpine", NGINX, None),
        ("alpine3.18", NGINX, None),
        // The current flavour's exact numbers win over a newer base at the same release.
        (
            "1.25.3-alpine3.18",
            &[
                "1.25.3-alpine3.18",
                "1.25.4-alpine3.19",
                "1.25.4-alpine3.18",
                "1.25.4-alpine",
            ],
            Some(("1.25.4-alpine3.18", Patch)),
        ),
        // …but a rebuild on a newer base is newer than what runs.
        (
            "1.25.4-alpine3.18",
            &["1.25.4-alpine3.18", "1.25.4-alpine3.19"],
            Some(("1.25.4-alpine3.19", Patch)),
        ),
        // postgres: bare, Debian and Alpine lines; pre-releases only for pre-release users.
        ("16.2", POSTGRES, Some(("17.0", Major))),
        ("16.2-bookworm", POSTGRES, Some(("17.0-bookworm", Major))),
        (
            "16.2-alpine3.19",
            POSTGRES,
            Some(("17.0-alpine3.20", Major)),
        ),
        ("16-alpine3.19", POSTGRES, Some(("17-alpine3.20", Major))),
        ("16", POSTGRES, Some(("17", Major))),
        ("17beta1", POSTGRES, Some(("17", Prerelease))),
        (
            "17rc1-alpine3.20",
            POSTGRES,
            Some(("17-alpine3.20", Prerelease)),
        ),
        ("17.0-bookworm", POSTGRES, None),
        // linuxserver: the -ls build number moves with the flavour.
        (
            "4.0.2.1183-ls221",
            SONARR,
            Some(("4.0.3.1413-ls225", Patch)),
        ),
        (
            "4.0.2.1183-ls221",
            &["4.0.2.1183-ls220", "4.0.2.1183-ls221", "4.0.2.1183-ls222"],
            Some(("4.0.2.1183-ls222", Patch)),
        ),
        ("4.0.3.1413-ls225", SONARR, None),
        (
            "version-4.0.2.1183",
            SONARR,
            Some(("version-4.0.3.1413", Patch)),
        ),
        (
            "develop-4.0.3.1420-ls100",
            SONARR,
            Some(("develop-4.0.4.1500-ls105", Patch)),
        ),
        // home-assistant: calendar versions, Python-style betas, `.devYYYYMMDD` nightlies.
        ("2024.5.3", HOME_ASSISTANT, Some(("2024.6.1", Minor))),
        ("2024.6.1", HOME_ASSISTANT, None),
        ("2024.6.0b0", HOME_ASSISTANT, Some(("2024.7.0b0", Minor))),
        (
            "0.118.5",
            &["0.118.5", "2021.1.0", "2021.1.5", "stable"],
            Some(("2021.1.5", Major)),
        ),
        // ubuntu: leading zeros, codename snapshots as date stamps.
        ("22.04", UBUNTU, Some(("24.04", Major))),
        ("jammy-20240227", UBUNTU, Some(("jammy-20240405", Patch))),
        ("jammy", UBUNTU, None),
        // alpine: dated edge snapshots never compete with release numbers.
        ("3.19", ALPINE, Some(("3.20", Minor))),
        ("3.19.1", ALPINE, Some(("3.20.0", Minor))),
        ("3", ALPINE, None),
        ("20240315", ALPINE, Some(("20240606", Patch))),
        ("edge", ALPINE, None),
        // traefik: `v` and no `v` are two lines.
        ("v2.11.0", TRAEFIK, Some(("v3.0.1", Major))),
        ("v2.11", TRAEFIK, Some(("v3.0", Major))),
        ("2.11.0", TRAEFIK, Some(("3.0.1", Major))),
        (
            "v2.11.0",
            &["v2.11.0", "2.11.2", "3.0.1", "v3.0.0-rc1"],
            None,
        ),
        ("v3.0.0-beta5", TRAEFIK, Some(("v3.0.1", Patch))),
        (
            "v3.0.0-rc1",
            &["v3.0.0-beta5", "v3.0.0-rc1", "v3.0.0-rc2", "v3.0.0"],
            Some(("v3.0.0", Prerelease)),
        ),
        (
            "v3.0.0-rc1",
            &["v3.0.0-rc1", "v3.0.0-rc2"],
            Some(("v3.0.0-rc2", Prerelease)),
        ),
        // A pre-release user sees the newest of anything, pre-releases included.
        (
            "v3.0.0-rc1",
            &["v3.0.0", "v3.0.1", "v3.1.0-rc1"],
            Some(("v3.1.0-rc1", Minor)),
        ),
        // Images that publish only `latest`, or where the current tag is not a version.
        ("latest", &["latest"], None),
        ("latest", &["latest", "1.0.0", "2.0.0"], None),
        ("1.0.0", &["latest"], None),
        ("1.0.0", &[], None),
        // redis, node, python, mariadb, grafana: flavours with and without digits.
        (
            "7.2.4-alpine3.19",
            &[
                "7.2.4-alpine3.19",
                "7.2.4-alpine",
                "7.2.5-alpine3.20",
                "7.2.5-alpine3.19",
                "7.2.5",
                "7.2.5-bookworm",
            ],
            Some(("7.2.5-alpine3.19", Patch)),
        ),
        (
            "7.2-alpine",
            &[
                "7.2-alpine",
                "7.4-alpine",
                "7.4-rc1-alpine",
                "7.2",
                "7-alpine",
                "alpine",
            ],
            Some(("7.4-alpine", Minor)),
        ),
        (
            "20.11.1-bookworm-slim",
            &[
                "20.11.1-bookworm-slim",
                "20.11.1-slim",
                "20.12.0-slim",
                "20.12.0-bookworm-slim",
                "21.7.1-bookworm-slim",
                "lts-bookworm-slim",
                "iron-bookworm-slim",
                "20-bookworm-slim",
            ],
            Some(("21.7.1-bookworm-slim", Major)),
        ),
        (
            "3.12.2-slim-bookworm",
            PYTHON,
            Some(("3.12.3-slim-bookworm", Patch)),
        ),
        ("3.12.2-slim", PYTHON, Some(("3.12.3-slim", Patch))),
        ("3.12.2", PYTHON, None),
        (
            "3.13.0a4-slim-bookworm",
            PYTHON,
            Some(("3.13.0rc2-slim-bookworm", Prerelease)),
        ),
        (
            "11.3.2-jammy",
            &[
                "11.3.2-jammy",
                "11.3.2",
                "11.4.2",
                "11.4.2-noble",
                "11.3",
                "lts",
            ],
            None,
        ),
        (
            "10.4.0-ubuntu",
            &[
                "10.4.0",
                "10.4.0-ubuntu",
                "10.4.1",
                "10.4.1-ubuntu",
                "11.0.0",
                "11.0.0-ubuntu",
                "11.0.0-preview",
                "main-ubuntu",
                "latest-ubuntu",
            ],
            Some(("11.0.0-ubuntu", Major)),
        ),
        (
            "10.4.0",
            &["10.4.0", "10.4.1", "11.0.0-preview", "11.0.0-ubuntu"],
            Some(("10.4.1", Patch)),
        ),
        // More flavour numbers: bitnami revisions, temurin builds, mssql CUs, k3s, jenkins.
        (
            "16.2.0-debian-12-r10",
            &[
                "16.2.0-debian-12-r10",
                "16.2.0-debian-12-r11",
                "16.3.0-debian-12-r0",
                "16.3.0-debian-12-r1",
            ],
            Some(("16.3.0-debian-12-r1", Minor)),
        ),
        (
            "21.0.2_13-jre-jammy",
            &[
                "21.0.2_13-jre-jammy",
                "21.0.3_9-jre-jammy",
                "21.0.3_9-jdk-jammy",
                "21-jre-jammy",
            ],
            Some(("21.0.3_9-jre-jammy", Patch)),
        ),
        (
            "2022-CU12-ubuntu-22.04",
            &[
                "2022-CU12-ubuntu-22.04",
                "2022-CU13-ubuntu-22.04",
                "2022-latest",
                "2019-CU27-ubuntu-20.04",
            ],
            Some(("2022-CU13-ubuntu-22.04", Patch)),
        ),
        (
            "v1.29.2-k3s1",
            &[
                "v1.29.2-k3s1",
                "v1.29.2-k3s2",
                "v1.29.3-k3s1",
                "v1.29.3-rc1-k3s1",
            ],
            Some(("v1.29.3-k3s1", Patch)),
        ),
        (
            "2.440.1-lts-jdk17",
            &[
                "2.440.1-lts-jdk17",
                "2.452.1-lts-jdk21",
                "2.452.1-lts-jdk17",
                "2.452.1-jdk17",
                "lts-jdk17",
            ],
            Some(("2.452.1-lts-jdk17", Minor)),
        ),
        // jenkins/jenkins: the same release on another JDK is another image, not a patch.
        (
            "2.440.1-lts-jdk17",
            &[
                "2.440.1-lts-jdk17",
                "2.440.1-lts-jdk21",
                "2.440.2-lts-jdk21",
            ],
            None,
        ),
        // bitnami/postgresql: the revision counter moves, the Debian release does not.
        (
            "16.2.0-debian-11-r5",
            &[
                "16.2.0-debian-11-r5",
                "16.2.0-debian-11-r6",
                "16.2.0-debian-12-r0",
                "16.2.0-debian-12-r3",
            ],
            Some(("16.2.0-debian-11-r6", Patch)),
        ),
        // mcr.microsoft.com/dotnet/aspnet: Windows Server 2019 images do not move to 2022.
        (
            "8.0.1-nanoserver-ltsc2019",
            &["8.0.1-nanoserver-ltsc2022", "8.0.2-nanoserver-ltsc2022"],
            None,
        ),
        // rancher/k3s: the k3s build counter is a rebuild.
        (
            "v1.29.2-k3s1",
            &["v1.29.2-k3s1", "v1.29.2-k3s2"],
            Some(("v1.29.2-k3s2", Patch)),
        ),
        // php: Alpine's minor release moves, its major does not.
        (
            "8.3.4-fpm-alpine3.19",
            &["8.3.4-fpm-alpine3.20", "8.3.4-fpm-alpine4.0"],
            Some(("8.3.4-fpm-alpine3.20", Patch)),
        ),
        (
            "3.13.0-management",
            &[
                "3.13.0-management",
                "3.13.1",
                "3.13.1-management",
                "3.13.1-management-alpine",
            ],
            Some(("3.13.1-management", Patch)),
        ),
        (
            "8.3.4-fpm-alpine3.19",
            &[
                "8.3.4-fpm-alpine3.19",
                "8.3.6-fpm-alpine3.19",
                "8.3.6-fpm",
                "8.3.6-apache",
                "fpm-alpine",
            ],
            Some(("8.3.6-fpm-alpine3.19", Patch)),
        ),
        (
            "26.1.3.Final",
            &["26.1.3.Final", "27.0.0.Final", "27.0.0.Beta1", "latest"],
            Some(("27.0.0.Final", Major)),
        ),
        // Tie between equal versions spelt twice: the shorter tag, whatever the order.
        ("22.04", &["24.04", "24.4"], Some(("24.4", Major))),
        ("22.04", &["24.4", "24.04"], Some(("24.4", Major))),
        // Build metadata does not order.
        (
            "1.2.3+build.1",
            &["1.2.3+build.2", "1.2.4+build.1"],
            Some(("1.2.4+build.1", Patch)),
        ),
        ("1.2.3+build.1", &["1.2.3+build.2", "1.2.3"], None),
        // Commit tags are ignored; older versions never win.
        (
            "1.4.0",
            &["sha-7b368146", "7b368146", "main", "1.4.0", "1.4.1"],
            Some(("1.4.1", Patch)),
        ),
        ("2.0.0", &["1.9.9", "2.0.0", "2.0.0-alpine"], None),
        // Four parts: the fourth counts as a patch.
        (
            "1.2.3.4",
            &["1.2.3.4", "1.2.3.5", "1.2.3"],
            Some(("1.2.3.5", Patch)),
        ),
    ]
}

#[test]
fn real_images() {
    let policy = TagPolicy::default();
    let cases = table();
    assert!(cases.len() >= 40, "{} cases", cases.len());
    report(
        cases
            .into_iter()
            .filter_map(|(current, available, expected)| {
                check(&policy, current, available, expected).err()
            })
            .collect(),
    );
}

#[test]
fn user_policies() {
    let policy = |include, exclude, transform| {
        TagPolicy::new(include, exclude, transform).expect("valid policy")
    };
    let ls = policy(None, None, Some(r"^(\d+\.\d+\.\d+\.\d+)-ls(\d+)$ => $1.$2"));
    let searx = policy(
        Some(r"^\d+\.\d+\.\d+-\d+-.*$"),
        None,
        Some(r"^(\d+\.\d+\.\d+-\d+)-.*$ => $1"),
    );
    let node_20 = policy(Some(r"^20\."), None, None);
    let traefik_2 = policy(None, Some(r"^v3\."), None);
    let prerelease = TagPolicy::default().with_prerelease(true);
    let more_parts = TagPolicy::default().with_more_parts(true);
    let cases: Vec<(&TagPolicy, &str, &[&str], Expected)> = vec![
        // The -ls build becomes a fifth number.
        (
            &ls,
            "4.0.2.1183-ls221",
            SONARR,
            Some(("4.0.3.1413-ls225", Patch)),
        ),
        (
            &ls,
            "4.0.2.1183-ls221",
            &["4.0.2.1183-ls221", "4.0.2.1183-ls222"],
            Some(("4.0.2.1183-ls222", Patch)),
        ),
        // WUD's documented example: tags carrying a commit hash compare without it.
        (
            &searx,
            "1.0.0-269-7b368146",
            &["1.0.0-269-7b368146", "1.0.0-273-21d7efa6", "latest"],
            Some(("1.0.0-273-21d7efa6", Patch)),
        ),
        (
            &searx,
            "1.0.0-269-7b368146",
            &["1.0.0-273-21d7efa6", "1.1.0-5-a0b1c2d3"],
            Some(("1.1.0-5-a0b1c2d3", Minor)),
        ),
        (
            &node_20,
            "20.11.1-bookworm-slim",
            &["20.12.0-bookworm-slim", "21.7.1-bookworm-slim"],
            Some(("20.12.0-bookworm-slim", Minor)),
        ),
        (&traefik_2, "v2.11.0", TRAEFIK, Some(("v2.11.2", Patch))),
        (
            &prerelease,
            "v2.11.0",
            &["v2.11.0", "v2.11.2", "v3.0.0-rc1"],
            Some(("v3.0.0-rc1", Major)),
        ),
        (
            &prerelease,
            "2024.6.1",
            HOME_ASSISTANT,
            Some(("2024.7.0b0", Minor)),
        ),
        // Still the same flavour: `.dev` builds are a flavour, not a pre-release.
        (&prerelease, "2024.7.0b0", HOME_ASSISTANT, None),
        (
            &more_parts,
            "1.25",
            &["1.25", "1.25.3", "1.25.4", "1.25.4-perl", "1"],
            Some(("1.25.4", Patch)),
        ),
        // Equal once padded: not newer; and the shorter spelling wins a tie.
        (&more_parts, "1.25", &["1.25.0"], None),
        (
            &more_parts,
            "1.25",
            &["1.26.0", "1.26"],
            Some(("1.26", Minor)),
        ),
    ];
    report(
        cases
            .into_iter()
            .filter_map(|(policy, current, available, expected)| {
                check(policy, current, available, expected).err()
            })
            .collect(),
    );
}

/// The examples users read in the README are checked, so the documentation cannot drift.
#[test]
fn documented_examples() {
    let rules = include_str!("../../README.md");
    let table = rules
        .split("### Examples")
        .nth(1)
        .and_then(|rest| rest.split("###").next())
        .expect("README.md has an Examples section");
    let ticked = |cell: &str| -> Vec<String> {
        cell.split('`')
            .skip(1)
            .step_by(2)
            .map(str::to_owned)
            .collect()
    };
    let mut rows = 0;
    let failures = table
        .lines()
        .filter(|line| line.starts_with("| `"))
        .filter_map(|line| {
            rows += 1;
            let cells: Vec<&str> = line.split('|').map(str::trim).collect();
            let image = ticked(cells[1]).remove(0);
            let current = image.rsplit(':').next().unwrap_or(&image).to_owned();
            let available = ticked(cells[2]);
            let available: Vec<&str> = available.iter().map(String::as_str).collect();
            let offered = ticked(cells[3]);
            let kind = match cells[4] {
                "major" => Some(Major),
                "minor" => Some(Minor),
                "patch" => Some(Patch),
                "prerelease" => Some(Prerelease),
                _ => None,
            };
            let expected = offered.first().map(String::as_str).zip(kind);
            check(&TagPolicy::default(), &current, &available, expected).err()
        })
        .collect();
    report(failures);
    assert!(rows >= 25, "{rows} documented examples");
}

/// What a generated tag was built from, to check the parser against.
struct Parts {
    tag: String,
    prefix: &'static str,
    numbers: Vec<u64>,
    pre: bool,
    flavour: &'static str,
}

const PREFIXES: &[&str] = &["", "", "", "v", "release-"];
const PRES: &[&str] = &[
    "-rc", "-rc.", "rc", "-beta", "-beta.", "b", "a", "-alpha", "-M",
];
const FLAVOURS: &[&str] = &[
    "",
    "",
    "-alpine",
    "-alpine3.18",
    "-alpine3.19",
    "-slim-bookworm",
    "-slim",
    "-ls221",
    "-ls225",
    "-perl",
    "-alpine-perl",
    "_13-jre",
    "-dev",
];

/// The tags of one generated image: a few prefixes and flavours, so its lists hold many
/// competitors and many near misses.
struct Family {
    prefixes: Vec<&'static str>,
    flavours: Vec<&'static str>,
    max_parts: usize,
}

impl Family {
    /// Every prefix and flavour: for checking the parser over the whole space.
    fn any() -> Self {
        Family {
            prefixes: PREFIXES.to_vec(),
            flavours: FLAVOURS.to_vec(),
            max_parts: 4,
        }
    }

    /// One or two prefixes, one to three flavours: for checking selection.
    fn image(rng: &mut Rng) -> Self {
        Family {
            prefixes: (0..1 + rng.below(2)).map(|_| rng.pick(PREFIXES)).collect(),
            flavours: (0..1 + rng.below(3)).map(|_| rng.pick(FLAVOURS)).collect(),
            max_parts: 2 + rng.below(3),
        }
    }

    /// A release-like tag of a small, colliding number space.
    fn tag(&self, rng: &mut Rng) -> Parts {
        let prefix = rng.pick(&self.prefixes);
        let count = 1 + rng.below(self.max_parts);
        let numbers: Vec<u64> = (0..count).map(|_| rng.below(4) as u64).collect();
        let mut tag = prefix.to_owned();
        for (i, n) in numbers.iter().enumerate() {
            if i > 0 {
                tag.push('.');
            }
            // Sometimes a leading zero, which must not change the value.
            if rng.chance(10) {
                tag.push('0');
            }
            tag.push_str(&n.to_string());
        }
        let pre = rng.chance(25);
        if pre {
            tag.push_str(rng.pick(PRES));
            tag.push_str(&(1 + rng.below(3)).to_string());
        }
        let flavour = rng.pick(&self.flavours);
        tag.push_str(flavour);
        Parts {
            tag,
            prefix,
            numbers,
            pre,
            flavour,
        }
    }

    fn any_tag(&self, rng: &mut Rng) -> String {
        match rng.below(10) {
            0 => junk_tag(rng),
            1 => rng
                .pick(&[
                    "latest",
                    "stable",
                    "edge",
                    "a1b2c3d4",
                    "lts-alpine",
                    "alpine3.19",
                ])
                .to_owned(),
            _ => self.tag(rng).tag,
        }
    }
}

/// Anything from Docker's tag alphabet, mostly not versions.
fn junk_tag(rng: &mut Rng) -> String {
    const ALPHABET: &[u8] = b"abcdef0123456789.-_lstv";
    let len = 1 + rng.below(12);
    (0..len)
        .map(|_| char::from(ALPHABET[rng.below(ALPHABET.len())]))
        .collect()
}

#[test]
fn generated_tags_parse_into_their_parts() {
    let mut rng = Rng(0x7a95);
    let family = Family::any();
    for _ in 0..20_000 {
        let parts = family.tag(&mut rng);
        let version = parse(&parts.tag).unwrap_or_else(|| panic!("{} parses", parts.tag));
        assert_eq!(version.prefix(), parts.prefix, "{}", parts.tag);
        assert_eq!(version.numbers(), parts.numbers, "{}", parts.tag);
        assert_eq!(version.is_prerelease(), parts.pre, "{}", parts.tag);
        assert_eq!(version.flavour(), parts.flavour, "{}", parts.tag);
        // Junk never panics, whatever it reads as.
        let _ = parse(&junk_tag(&mut rng));
    }
}

#[test]
fn the_choice_is_newer_of_the_same_shape_and_the_newest() {
    let mut rng = Rng(0x5eed);
    let (rounds, mut chosen_count, mut competitors) = (3_000, 0, 0);
    for round in 0..rounds {
        let family = Family::image(&mut rng);
        let policy = TagPolicy::default()
            .with_prerelease(rng.chance(30))
            .with_more_parts(rng.chance(30));
        let current = family.any_tag(&mut rng);
        let mut available: Vec<String> = (0..rng.below(60))
            .map(|_| family.any_tag(&mut rng))
            .collect();
        let context = format!("round {round}: {current} in {available:?}, {policy:?}");
        let chosen = newest(&current, &available, &policy);

        // Permutation-invariant: ties are broken by the tags, not by the registry's order.
        available.reverse();
        assert_eq!(newest(&current, &available, &policy), chosen, "{context}");

        let Some(cur) = parse(&current) else {
            assert_eq!(chosen, None, "{context}");
            continue;
        };
        let eligible = |v: &Version| {
            v.prefix() == cur.prefix()
                && v.flavour_shape() == cur.flavour_shape()
                && v.is_date_stamp() == cur.is_date_stamp()
                && (v.numbers().len() == cur.numbers().len()
                    || (policy.allow_more_parts && v.numbers().len() > cur.numbers().len()))
                && (!v.is_prerelease() || cur.is_prerelease() || policy.allow_prerelease)
                && v.cmp_precedence(&cur) == Ordering::Greater
        };
        let newer: Vec<Version> = available
            .iter()
            .filter_map(|t| parse(t))
            .filter(|v| eligible(v))
            .collect();
        let Some(chosen) = chosen else {
            assert!(newer.is_empty(), "{context}: missed {newer:?}");
            continue;
        };
        chosen_count += 1;
        competitors += newer.len();
        assert!(available.contains(&chosen.tag), "{context}");
        let picked = parse(&chosen.tag).expect("the choice is a version");
        // Never older, never another prefix, flavour or precision, no unwanted pre-release.
        assert!(eligible(&picked), "{context}: picked {picked:?}");
        // The newest release among the competitors.
        for other in &newer {
            assert_ne!(
                other.cmp_release(&picked),
                Ordering::Greater,
                "{context}: {other} beats {picked}"
            );
        }
        // A kind that matches where the versions differ.
        let at = |v: &Version, i: usize| v.numbers().get(i).copied().unwrap_or(0);
        let expected_kind = if (0..6).all(|i| at(&cur, i) == at(&picked, i)) {
            if cur.pre() == picked.pre() {
                Patch
            } else {
                Prerelease
            }
        } else if cur.is_date_stamp() {
            Patch
        } else if at(&cur, 0) != at(&picked, 0) {
            Major
        } else if at(&cur, 1) != at(&picked, 1) {
            Minor
        } else {
            Patch
        };
        assert_eq!(chosen.kind, expected_kind, "{context}");
    }
    // The generator must exercise the choice, not only the refusals.
    assert!(chosen_count > rounds / 3, "{chosen_count} choices");
    assert!(competitors > chosen_count * 3, "{competitors} competitors");
    eprintln!("{chosen_count} choices among {competitors} competitors");
}
