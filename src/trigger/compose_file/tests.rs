//! Each case: a compose file as people write them, the service, the new image, and the one
//! line that must change; every other byte must stay.

use super::*;

/// Asserts that `after` differs from `before` in exactly one line, which becomes `line`.
#[track_caller]
fn assert_one_line_changed(before: &str, after: &str, line: &str) {
    let old: Vec<&str> = before.split_inclusive('\n').collect();
    let new: Vec<&str> = after.split_inclusive('\n').collect();
    assert_eq!(old.len(), new.len(), "line count changed:\n{after}");
    let changed: Vec<(usize, &str)> = old
        .iter()
        .zip(&new)
        .enumerate()
        .filter(|(_, (a, b))| a != b)
        .map(|(i, (_, b))| (i, *b))
        .collect();
    assert_eq!(changed.len(), 1, "{changed:?}\n{after}");
    let got = changed[0].1.trim_end_matches('\n').trim_end_matches('\r');
    assert_eq!(got, line);
}

const NEW: &str = "nginx:1.26.0";

#[test]
fn a_table_of_real_files_changes_only_the_image() {
    let cases: &[(&str, &str, &str, &str)] = &[
        (
            "plain v3",
            "version: \"3.8\"\nservices:\n  web:\n    image: nginx:1.25.3\n    ports:\n      - \"80:80\"\n",
            "web",
            "    image: nginx:1.26.0",
        ),
        (
            "comments everywhere, trailing comment kept",
            "# stack\nservices: # all of them\n  # the proxy\n  web:\n    image: nginx:1.25.3   # pinned, see #12\n    restart: always\n",
            "web",
            "    image: nginx:1.26.0   # pinned, see #12",
        ),
        (
            "double quotes",
            "services:\n  web:\n    image: \"nginx:1.25.3\"\n",
            "web",
            "    image: \"nginx:1.26.0\"",
        ),
        (
            "single quotes",
            "services:\n  web:\n    image: 'nginx:1.25.3'\n",
            "web",
            "    image: 'nginx:1.26.0'",
        ),
        (
            "several services, the right one",
            "services:\n  db:\n    image: postgres:16.2\n  web:\n    image: nginx:1.25.3\n  cache:\n    image: redis:7\n",
            "web",
            "    image: nginx:1.26.0",
        ),
        (
            "image after other keys, deeper indent",
            "services:\n    web:\n        build: .\n        environment:\n            image: not-this-one\n        image: nginx:1.25.3\n",
            "web",
            "        image: nginx:1.26.0",
        ),
        (
            "CRLF line ends",
            "services:\r\n  web:\r\n    image: nginx:1.25.3\r\n    restart: always\r\n",
            "web",
            "    image: nginx:1.26.0",
        ),
        (
            "document marker and version 1 top level",
            "---\nweb:\n  image: nginx:1.25.3\n  links:\n    - db\ndb:\n  image: postgres:16\n",
            "web",
            "  image: nginx:1.26.0",
        ),
        (
            "flow mapping",
            "services:\n  web: {image: nginx:1.25.3, ports: [\"80:80\"]}\n  db: {image: postgres:16}\n",
            "web",
            "  web: {image: nginx:1.26.0, ports: [\"80:80\"]}",
        ),
        (
            "anchor used by this service only",
            "x-web: &web\n  image: nginx:1.25.3\n  restart: always\nservices:\n  web:\n    <<: *web\n    ports: [\"80:80\"]\n",
            "web",
            "  image: nginx:1.26.0",
        ),
        (
            "own image beside a shared anchor",
            "x-common: &common\n  restart: always\nservices:\n  web:\n    <<: *common\n    image: nginx:1.25.3\n  db:\n    <<: *common\n    image: postgres:16\n",
            "web",
            "    image: nginx:1.26.0",
        ),
        (
            "quoted service key",
            "services:\n  \"web\":\n    image: nginx:1.25.3\n",
            "web",
            "    image: nginx:1.26.0",
        ),
        (
            "tabs and blank lines inside the block",
            "services:\n  web:\n\n    # comment\n\n    image: nginx:1.25.3\n\nvolumes:\n  data: {}\n",
            "web",
            "    image: nginx:1.26.0",
        ),
    ];
    for (name, before, service, line) in cases {
        let Rewrite::File(after) =
            rewrite_image(before, service, NEW, None).unwrap_or_else(|err| panic!("{name}: {err}"))
        else {
            panic!("{name}: not a file rewrite");
        };
        assert_one_line_changed(before, &after, line);
        // And doing it again changes nothing.
        assert_eq!(
            rewrite_image(&after, service, NEW, None).unwrap(),
            Rewrite::Unchanged,
            "{name}"
        );
    }
}

#[test]
fn a_pinned_digest_moves_with_the_tag() {
    let old = format!("sha256:{}", "a".repeat(64));
    let new = format!("sha256:{}", "b".repeat(64));
    let before = format!("services:\n  web:\n    image: nginx:1.25.3@{old}\n");
    let Rewrite::File(after) = rewrite_image(&before, "web", NEW, Some(&new)).unwrap() else {
        panic!()
    };
    assert_one_line_changed(&before, &after, &format!("    image: nginx:1.26.0@{new}"));
    // A digest update: same tag, new digest.
    let Rewrite::File(after) = rewrite_image(&before, "web", "nginx:1.25.3", Some(&new)).unwrap()
    else {
        panic!()
    };
    assert_one_line_changed(&before, &after, &format!("    image: nginx:1.25.3@{new}"));
    // Unpinned, a digest update leaves the file alone.
    let plain = "services:\n  web:\n    image: nginx:1.25.3\n";
    assert_eq!(
        rewrite_image(plain, "web", "nginx:1.25.3", Some(&new)).unwrap(),
        Rewrite::Unchanged
    );
}

#[test]
fn an_image_from_variables_names_what_to_set() {
    let file = "services:\n  web:\n    image: ${REGISTRY:-docker.io}/library/nginx:${NGINX_TAG}\n";
    assert_eq!(
        rewrite_image(file, "web", "docker.io/library/nginx:1.26.0", None).unwrap(),
        Rewrite::Variables(vec![
            ("REGISTRY".into(), "docker.io".into()),
            ("NGINX_TAG".into(), "1.26.0".into())
        ])
    );
    let simple = "services:\n  web:\n    image: \"app:$APP_TAG\"\n";
    assert_eq!(
        rewrite_image(simple, "web", "app:2.0", None).unwrap(),
        Rewrite::Variables(vec![("APP_TAG".into(), "2.0".into())])
    );
    let err = rewrite_image(simple, "web", "other:2.0", None).unwrap_err();
    assert!(matches!(err, ComposeError::Template { .. }), "{err}");
}

#[test]
fn the_env_file_changes_only_the_variable() {
    let before = "# versions\nAPP_TAG=1.0.0\nexport OTHER=\"x\"\r\nQUOTED='1.0' # kept\n";
    let after = rewrite_env(before, &[("APP_TAG".into(), "1.1.0".into())]).unwrap();
    assert_one_line_changed(before, &after, "APP_TAG=1.1.0");
    let after = rewrite_env(before, &[("QUOTED".into(), "2.0".into())]).unwrap();
    assert_one_line_changed(before, &after, "QUOTED='2.0' # kept");
    let after = rewrite_env(before, &[("OTHER".into(), "y".into())]).unwrap();
    assert_one_line_changed(before, &after, "export OTHER=\"y\"");
    let err = rewrite_env(before, &[("MISSING".into(), "1".into())]).unwrap_err();
    assert!(matches!(err, ComposeError::MissingVariable { .. }));
}

#[test]
fn what_cannot_be_placed_for_sure_is_an_error_naming_the_service() {
    let shared =
        "x-app: &app\n  image: app:1.0\nservices:\n  web:\n    <<: *app\n  worker:\n    <<: *app\n";
    assert_eq!(
        rewrite_image(shared, "web", "app:1.1", None).unwrap_err(),
        ComposeError::SharedAnchor {
            service: "web".into(),
            anchor: "app".into()
        }
    );
    let built = "services:\n  web:\n    build: .\n";
    assert!(matches!(
        rewrite_image(built, "web", NEW, None).unwrap_err(),
        ComposeError::NoImage { .. }
    ));
    let other = "services:\n  db:\n    image: postgres:16\n";
    let err = rewrite_image(other, "web", NEW, None).unwrap_err();
    assert!(err.is_missing_service(), "{err}");
    // Never a panic, whatever the input.
    for garbage in [
        "",
        ":",
        "services:\n  web:\n    image: '",
        "services: [\n",
        "\u{feff}web:\n image:",
    ] {
        let _ = rewrite_image(garbage, "web", NEW, None);
    }
}
