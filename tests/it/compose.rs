//! The compose trigger end to end, with Debian's docker-compose: a project brought up from the
//! loopback registry, a newer tag pushed, `tidewatch run --once`: the compose file says the new
//! tag (and nothing else changed) and the service runs it.

use crate::support::{TestRun, fresh_store_dir, tidewatch};
use std::path::{Path, PathBuf};
use std::process::Command;

/// A compose project of the test's, taken down at the end.
struct Project {
    name: String,
    file: PathBuf,
}

impl Project {
    fn up(run: &TestRun, dir: &Path, image: &str) -> Project {
        std::fs::create_dir_all(dir).unwrap();
        let file = dir.join("docker-compose.yml");
        let label = run.label();
        let text = format!(
            "# The stack, by hand.\r\nversion: \"3.7\"\r\n\r\nx-common: &common\r\n  labels:\r\n    - \"{label}\"\r\n\r\nservices:\r\n  web:\r\n    <<: *common\r\n    image: '{image}'   # pinned on purpose\r\n    stop_grace_period: 1s\r\n\r\nnetworks:\r\n  default:\r\n    labels:\r\n      - \"{label}\"\r\n"
        );
        std::fs::write(&file, text).unwrap();
        let project = Project {
            name: run.name("stack").replace('-', ""),
            file,
        };
        project.compose(&["up", "-d"]);
        project
    }

    fn compose(&self, args: &[&str]) -> String {
        let out = Command::new("docker-compose")
            .args(["-p", &self.name, "-f"])
            .arg(&self.file)
            .args(args)
            .output()
            .expect("docker-compose runs");
        assert!(
            out.status.success(),
            "docker-compose {args:?}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8_lossy(&out.stdout).into_owned()
    }

    fn web_image(&self, run: &TestRun) -> String {
        let id = self.compose(&["ps", "-q", "web"]);
        run.inspect(id.trim(), "{{.Config.Image}}")
    }
}

impl Drop for Project {
    fn drop(&mut self) {
        let _ = Command::new("docker-compose")
            .args(["-p", &self.name, "-f"])
            .arg(&self.file)
            .args(["down", "-t", "0"])
            .output();
    }
}

fn env<'a>(project: &'a str, allowed: &'a str, store: &'a str) -> Vec<(&'a str, &'a str)> {
    vec![
        ("TIDEWATCH_TRIGGER_DOCKERCOMPOSE_STACK_ALLOWED", allowed),
        ("TIDEWATCH_TRIGGER_DOCKERCOMPOSE_STACK_INCLUDE", project),
        ("TIDEWATCH_STORE_PATH", store),
    ]
}

#[test]
fn the_compose_file_gets_the_new_tag_and_the_service_runs_it() {
    let run = TestRun::new();
    let registry = run.registry();
    let v1 = run.push(&registry, "stackweb", "1.0.0");
    let v2 = run.push(&registry, "stackweb", "1.1.0");
    let dir = fresh_store_dir();
    let folder = dir.join("project");
    let project = Project::up(&run, &folder, &v1.reference);
    let before = std::fs::read_to_string(&project.file).unwrap();
    let store = dir.join("store");
    let selector = format!("com.docker.compose.project={}", project.name);

    let out = tidewatch(
        &["run", "--once"],
        &env(&selector, folder.to_str().unwrap(), store.to_str().unwrap()),
    );
    let after = std::fs::read_to_string(&project.file).unwrap();
    assert_eq!(
        after,
        before.replace(&v1.reference, &v2.reference),
        "only the image changes, quotes, comment and CRLF kept:\n{out}"
    );
    assert_ne!(after, before, "{out}");
    assert!(out.stderr.contains("Compose file rewritten."), "{out}");
    assert_eq!(project.web_image(&run), v2.reference, "{out}");
}

#[test]
fn a_file_outside_the_allowed_folders_is_never_written() {
    let run = TestRun::new();
    let registry = run.registry();
    let v1 = run.push(&registry, "fenced", "1.0.0");
    run.push(&registry, "fenced", "1.1.0");
    let dir = fresh_store_dir();
    let folder = dir.join("project");
    let elsewhere = dir.join("elsewhere");
    std::fs::create_dir_all(&elsewhere).unwrap();
    let project = Project::up(&run, &folder, &v1.reference);
    let before = std::fs::read_to_string(&project.file).unwrap();
    let store = dir.join("store");
    let selector = format!("com.docker.compose.project={}", project.name);

    let out = tidewatch(
        &["run", "--once"],
        &env(
            &selector,
            elsewhere.to_str().unwrap(),
            store.to_str().unwrap(),
        ),
    );
    assert_eq!(
        std::fs::read_to_string(&project.file).unwrap(),
        before,
        "{out}"
    );
    assert_eq!(project.web_image(&run), v1.reference);
    let history = tidewatch(
        &["history", "--json", "--limit", "1000"],
        &[("TIDEWATCH_STORE_PATH", store.to_str().unwrap())],
    );
    assert!(
        history.stdout.contains("outside the allowed folders"),
        "{history}\n{out}"
    );
}
