//! Rewrites that change the compose file: realistic files, each judged by its line diff —
//! exactly the expected line(s) change, with their line ends, and nothing else.

use super::{bare, ending, line_diff};
use crate::compose::file::{Rewrite, rewrite_image};

pub(super) struct Case {
    name: &'static str,
    pub(super) file: String,
    pub(super) service: &'static str,
    pub(super) image: &'static str,
    /// Each changed line, before and after, without its line end; `""` stands for no line
    /// (a rewrite that joins two lines into one).
    changes: &'static [(&'static str, &'static str)],
}

fn case(
    name: &'static str,
    file: &str,
    service: &'static str,
    image: &'static str,
    changes: &'static [(&'static str, &'static str)],
) -> Case {
    Case {
        name,
        file: file.to_owned(),
        service,
        image,
        changes,
    }
}

/// Runs one case; the only call of `rewrite_image` for file rewrites.
fn check(case: &Case) -> Result<(), String> {
    let name = case.name;
    let out = match rewrite_image(&case.file, case.service, case.image) {
        Ok(Rewrite::File(out)) => out,
        other => return Err(format!("{name}: expected a new file, got {other:?}")),
    };
    let (removed, added) = line_diff(&case.file, &out);
    let expected_removed: Vec<&str> = case
        .changes
        .iter()
        .map(|(old, _)| *old)
        .filter(|l| !l.is_empty())
        .collect();
    let expected_added: Vec<&str> = case
        .changes
        .iter()
        .map(|(_, new)| *new)
        .filter(|l| !l.is_empty())
        .collect();
    let got_removed: Vec<&str> = removed.iter().map(|l| bare(l)).collect();
    let got_added: Vec<&str> = added.iter().map(|l| bare(l)).collect();
    if got_removed != expected_removed || got_added != expected_added {
        return Err(format!(
            "{name}: expected -{expected_removed:?} +{expected_added:?}, got -{got_removed:?} +{got_added:?}"
        ));
    }
    if removed.len() == added.len() {
        for (old, new) in removed.iter().zip(&added) {
            if ending(old) != ending(new) {
                return Err(format!("{name}: line end changed in {old:?} -> {new:?}"));
            }
        }
    }
    // Applying the same update again finds nothing to do.
    match rewrite_image(&out, case.service, case.image) {
        Ok(Rewrite::Unchanged) => Ok(()),
        other => Err(format!(
            "{name}: second rewrite should be Unchanged, got {other:?}"
        )),
    }
}

const DIGEST_OLD: &str = "sha256:1111111111111111111111111111111111111111111111111111111111111111";

pub(super) fn cases() -> Vec<Case> {
    vec![
        case(
            "plain image among comments",
            "# Production stack\n\
             services:\n\
             \x20 # the public site\n\
             \x20 web:\n\
             \x20   # keep in step with the CDN\n\
             \x20   image: nginx:1.25\n\
             \x20   ports:\n\
             \x20     - \"80:80\" # http\n\
             \x20 # the database\n\
             \x20 db:\n\
             \x20   image: postgres:16.2\n",
            "web",
            "nginx:1.26",
            &[("    image: nginx:1.25", "    image: nginx:1.26")],
        ),
        case(
            "double-quoted image",
            "services:\n  db:\n    image: \"postgres:16.2\"\n    environment:\n      POSTGRES_PASSWORD: example\n",
            "db",
            "postgres:16.3",
            &[("    image: \"postgres:16.2\"", "    image: \"postgres:16.3\"")],
        ),
        case(
            "single-quoted image",
            "services:\n  cache:\n    image: 'redis:7.2-alpine'\n    command: ['redis-server', '--save', '']\n",
            "cache",
            "redis:7.4-alpine",
            &[("    image: 'redis:7.2-alpine'", "    image: 'redis:7.4-alpine'")],
        ),
        case(
            "trailing comment on the image line",
            "services:\n  web:\n    image: nginx:1.25 # pinned\n    restart: unless-stopped\n",
            "web",
            "nginx:1.27.0",
            &[("    image: nginx:1.25 # pinned", "    image: nginx:1.27.0 # pinned")],
        ),
        case(
            "quoted image with spaces before a comment",
            "services:\n  web:\n    image: \"nginx:1.25\"    # pinned: see #1234\n",
            "web",
            "nginx:1.26",
            &[(
                "    image: \"nginx:1.25\"    # pinned: see #1234",
                "    image: \"nginx:1.26\"    # pinned: see #1234",
            )],
        ),
        case(
            "several services with the same image text",
            "services:\n\
             \x20 blue:\n\
             \x20   image: ghcr.io/acme/shop:2.3.1\n\
             \x20 green:\n\
             \x20   image: ghcr.io/acme/shop:2.3.1\n\
             \x20 worker:\n\
             \x20   image: ghcr.io/acme/shop-worker:2.3.1\n",
            "green",
            "ghcr.io/acme/shop:2.4.0",
            &[("    image: ghcr.io/acme/shop:2.3.1", "    image: ghcr.io/acme/shop:2.4.0")],
        ),
        Case {
            name: "CRLF line ends",
            file: "services:\r\n  web:\r\n    image: nginx:1.25   \r\n    ports:\r\n      - 8080:80\r\n  db:\r\n    image: mariadb:11\r\n"
                .to_owned(),
            service: "web",
            image: "nginx:1.26",
            changes: &[("    image: nginx:1.25   ", "    image: nginx:1.26   ")],
        },
        case(
            "document start and end markers",
            "---\n# yaml-language-server: $schema=https://example.invalid/compose.json\nversion: \"3.8\"\nservices:\n  app:\n    image: traefik/whoami:v1.10\n...\n",
            "app",
            "traefik/whoami:v1.10.1",
            &[("    image: traefik/whoami:v1.10", "    image: traefik/whoami:v1.10.1")],
        ),
        case(
            "version 1 format, services at the top level",
            "web:\n  image: nginx:1.25\n  links:\n    - db\ndb:\n  image: mysql:5.7\n",
            "db",
            "mysql:8.0",
            &[("  image: mysql:5.7", "  image: mysql:8.0")],
        ),
        case(
            "flow mapping service",
            "services:\n  web: {image: nginx:1.25, ports: [\"80:80\"]}\n  db: {image: postgres:16}\n",
            "web",
            "nginx:1.26",
            &[(
                "  web: {image: nginx:1.25, ports: [\"80:80\"]}",
                "  web: {image: nginx:1.26, ports: [\"80:80\"]}",
            )],
        ),
        case(
            "flow mapping with a quoted image",
            "services:\n  web: { image: 'nginx:1.25' , restart: always }\n",
            "web",
            "nginx:1.26",
            &[(
                "  web: { image: 'nginx:1.25' , restart: always }",
                "  web: { image: 'nginx:1.26' , restart: always }",
            )],
        ),
        case(
            "anchor used by this service only",
            "x-app: &app\n\
             \x20 image: registry.example.com/app:1.0 # the one image\n\
             \x20 restart: always\n\
             \n\
             services:\n\
             \x20 app:\n\
             \x20   <<: *app\n\
             \x20   ports: [\"8080:8080\"]\n\
             \x20 proxy:\n\
             \x20   image: caddy:2.7\n",
            "app",
            "registry.example.com/app:1.1",
            &[(
                "  image: registry.example.com/app:1.0 # the one image",
                "  image: registry.example.com/app:1.1 # the one image",
            )],
        ),
        case(
            "shared anchor overridden by the service's own image",
            "x-defaults: &defaults\n\
             \x20 restart: always\n\
             \x20 image: busybox:1.36\n\
             services:\n\
             \x20 web:\n\
             \x20   <<: *defaults\n\
             \x20   image: nginx:1.25\n\
             \x20 worker:\n\
             \x20   <<: *defaults\n",
            "web",
            "nginx:1.26",
            &[("    image: nginx:1.25", "    image: nginx:1.26")],
        ),
        case(
            "pinned digest: tag and digest both change",
            &format!("services:\n  api:\n    image: ghcr.io/acme/api:1.0@{DIGEST_OLD}\n"),
            "api",
            "ghcr.io/acme/api:1.1@sha256:2222222222222222222222222222222222222222222222222222222222222222",
            &[(
                "    image: ghcr.io/acme/api:1.0@sha256:1111111111111111111111111111111111111111111111111111111111111111",
                "    image: ghcr.io/acme/api:1.1@sha256:2222222222222222222222222222222222222222222222222222222222222222",
            )],
        ),
        case(
            "digest-only image keeps its form",
            &format!("services:\n  api:\n    image: \"acme/api@{DIGEST_OLD}\"\n"),
            "api",
            "acme/api:1.1@sha256:3333333333333333333333333333333333333333333333333333333333333333",
            &[(
                "    image: \"acme/api@sha256:1111111111111111111111111111111111111111111111111111111111111111\"",
                "    image: \"acme/api@sha256:3333333333333333333333333333333333333333333333333333333333333333\"",
            )],
        ),
        case(
            "unpinned image does not start pinning",
            "services:\n  api:\n    image: acme/api:1.0\n",
            "api",
            "acme/api:1.1@sha256:3333333333333333333333333333333333333333333333333333333333333333",
            &[("    image: acme/api:1.0", "    image: acme/api:1.1")],
        ),
        case(
            "registry with a port",
            "services:\n  app:\n    image: localhost:5000/team/app:1.0\n",
            "app",
            "localhost:5000/team/app:1.1",
            &[(
                "    image: localhost:5000/team/app:1.0",
                "    image: localhost:5000/team/app:1.1",
            )],
        ),
        case(
            "image on the line after its key",
            "services:\n  app:\n    image:\n      nginx:1.25\n    ports:\n      - 80:80\n",
            "app",
            "nginx:1.26",
            &[("      nginx:1.25", "      nginx:1.26")],
        ),
        case(
            "anchor and tag on the image scalar",
            "services:\n  app:\n    image: &app_image !!str nginx:1.25\n",
            "app",
            "nginx:1.26",
            &[(
                "    image: &app_image !!str nginx:1.25",
                "    image: &app_image !!str nginx:1.26",
            )],
        ),
        case(
            "alias to an extension scalar read by this service only",
            "x-image: &image \"grafana/grafana:10.4.2\"\n\
             services:\n\
             \x20 grafana:\n\
             \x20   image: *image\n\
             \x20   volumes: [grafana:/var/lib/grafana]\n",
            "grafana",
            "grafana/grafana:11.0.0",
            &[(
                "x-image: &image \"grafana/grafana:10.4.2\"",
                "x-image: &image \"grafana/grafana:11.0.0\"",
            )],
        ),
        case(
            "byte-order mark and no final line end",
            "\u{feff}services:\n  web:\n    image: nginx:1.25",
            "web",
            "nginx:1.26",
            &[("    image: nginx:1.25", "    image: nginx:1.26")],
        ),
        case(
            "quoted service name and four-space indentation",
            "services:\n    \"my-app\":\n        image: \"example/my-app:0.9.0\"\n        depends_on:\n        - db\n    db:\n        image: postgres:15\n",
            "my-app",
            "example/my-app:0.10.0",
            &[(
                "        image: \"example/my-app:0.9.0\"",
                "        image: \"example/my-app:0.10.0\"",
            )],
        ),
        case(
            "double-quoted image continued over two lines",
            "services:\n  web:\n    image: \"registry.example.com/platform/\\\n      web:1.25\"\n    restart: always\n",
            "web",
            "registry.example.com/platform/web:1.26",
            &[
                (
                    "    image: \"registry.example.com/platform/\\",
                    "    image: \"registry.example.com/platform/web:1.26\"",
                ),
                ("      web:1.25\"", ""),
            ],
        ),
        case(
            "plain value YAML would read as a number is quoted",
            "services:\n  tool:\n    image: busybox\n",
            "tool",
            "1.0",
            &[("    image: busybox", "    image: \"1.0\"")],
        ),
        case(
            "image after build, healthcheck and labels",
            "name: shop\n\
             services:\n\
             \x20 frontend:\n\
             \x20   build:\n\
             \x20     context: ./frontend\n\
             \x20   image: acme/frontend:1.0.0\n\
             \x20   healthcheck:\n\
             \x20     test: [\"CMD\", \"wget\", \"-q\", \"--spider\", \"http://localhost/\"]\n\
             \x20     interval: 30s\n\
             \x20   labels:\n\
             \x20     - \"tidewatch.tag.include=^\\\\d+\\\\.\\\\d+\\\\.\\\\d+$$\"\n\
             volumes:\n\
             \x20 data: {}\n",
            "frontend",
            "acme/frontend:1.1.0",
            &[("    image: acme/frontend:1.0.0", "    image: acme/frontend:1.1.0")],
        ),
        case(
            "merged list of anchors, first one wins",
            "x-a: &a {image: app:1.0}\n\
             x-b: &b {image: other:9}\n\
             services:\n\
             \x20 app:\n\
             \x20   <<: [*a, *b]\n",
            "app",
            "app:1.1",
            &[("x-a: &a {image: app:1.0}", "x-a: &a {image: app:1.1}")],
        ),
        case(
            "double-quoted image with an escape elsewhere on the line",
            "services:\n  web:\n    image: \"nginx:1.25\" # \"quoted\" \\ comment\n    command: \"echo \\\"hi\\\"\"\n",
            "web",
            "nginx:1.26",
            &[(
                "    image: \"nginx:1.25\" # \"quoted\" \\ comment",
                "    image: \"nginx:1.26\" # \"quoted\" \\ comment",
            )],
        ),
        case(
            "flow mapping with nested flow collections",
            "services:\n  proxy: {image: \"traefik:v2.11\", command: [\"--api\"], labels: {a: b}}\n",
            "proxy",
            "traefik:v3.0",
            &[(
                "  proxy: {image: \"traefik:v2.11\", command: [\"--api\"], labels: {a: b}}",
                "  proxy: {image: \"traefik:v3.0\", command: [\"--api\"], labels: {a: b}}",
            )],
        ),
    ]
}

#[test]
fn compose_file_rewrites_change_only_the_image() {
    let cases = cases();
    assert!(cases.len() >= 20, "the table keeps at least 20 files");
    let failures: Vec<String> = cases.iter().filter_map(|c| check(c).err()).collect();
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

#[test]
fn compose_file_already_on_the_new_image_is_unchanged() {
    let file = "services:\n  web:\n    image: \"nginx:1.26\" # pinned\n";
    assert_eq!(
        rewrite_image(file, "web", "nginx:1.26"),
        Ok(Rewrite::Unchanged)
    );
    // A digest given for an unpinned file is not a change either.
    assert_eq!(
        rewrite_image(file, "web", &format!("nginx:1.26@{DIGEST_OLD}")),
        Ok(Rewrite::Unchanged)
    );
    let pinned = format!("services:\n  web:\n    image: nginx:1.26@{DIGEST_OLD}\n");
    assert_eq!(
        rewrite_image(&pinned, "web", &format!("nginx:1.26@{DIGEST_OLD}")),
        Ok(Rewrite::Unchanged)
    );
}

#[test]
fn compose_file_rewrite_keeps_every_other_byte() {
    // Byte-level: the output is the input with one range replaced.
    for c in cases() {
        let Ok(Rewrite::File(out)) = rewrite_image(&c.file, c.service, c.image) else {
            panic!("{}: no file", c.name);
        };
        let max = c.file.len().min(out.len());
        let prefix = c
            .file
            .bytes()
            .zip(out.bytes())
            .take_while(|(a, b)| a == b)
            .count()
            .min(max);
        let suffix = c
            .file
            .bytes()
            .rev()
            .zip(out.bytes().rev())
            .take_while(|(a, b)| a == b)
            .count();
        let removed = &c.file.as_bytes()[prefix..c.file.len() - suffix.min(max - prefix)];
        assert!(
            !removed.contains(&b'#'),
            "{}: a comment changed: {:?}",
            c.name,
            String::from_utf8_lossy(removed)
        );
    }
}
