//! Tiny images without internet: the static busybox from Debian's `busybox-static`, a few
//! applet links, and a `/version` file so that each version is a distinct image and digest.

use std::fs;
use std::os::unix::fs::symlink;
use std::path::{Path, PathBuf};

/// Where Debian's `busybox-static` puts it (the same file on a merged-/usr system).
const BUSYBOX: [&str; 2] = ["/usr/bin/busybox", "/bin/busybox"];

/// Applets the images offer; `httpd` and `wget` let a test serve and probe a published port.
const APPLETS: [&str; 11] = [
    "sh", "sleep", "httpd", "cat", "echo", "true", "false", "wget", "ls", "env", "kill",
];

/// What goes into an image besides busybox.
#[derive(Debug, Clone)]
pub struct ImageSpec {
    /// Written to `/version`, readable by `cat /version` in the container.
    pub version: String,
    /// The image's `CMD`; sleeping keeps a container running without doing anything.
    pub cmd: Vec<String>,
    /// Further `docker import --change` instructions: `EXPOSE 80`, `LABEL a=b`, `ENV A=B`, …
    pub changes: Vec<String>,
}

impl ImageSpec {
    pub fn version(version: &str) -> ImageSpec {
        ImageSpec {
            version: version.to_string(),
            cmd: vec!["sleep".into(), "3600".into()],
            changes: Vec::new(),
        }
    }

    pub fn cmd(mut self, cmd: &[&str]) -> ImageSpec {
        self.cmd = cmd.iter().map(|s| s.to_string()).collect();
        self
    }

    pub fn change(mut self, instruction: &str) -> ImageSpec {
        self.changes.push(instruction.to_string());
        self
    }
}

/// An image in the local engine.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Image {
    /// As tagged, e.g. `127.0.0.1:5000/app:1.0.0`.
    pub reference: String,
    /// `sha256:<64 hex>`.
    pub id: String,
}

/// An image pushed to a test registry.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Pushed {
    /// `127.0.0.1:PORT/repo:tag`.
    pub reference: String,
    /// The manifest digest the registry serves for the tag, `sha256:<64 hex>`.
    pub digest: String,
    /// `127.0.0.1:PORT/repo@sha256:…`, as the engine lists it in `RepoDigests`.
    pub repo_digest: String,
    /// Local image ID.
    pub id: String,
}

/// Lays out the shared part of every image under `dir`: `bin/busybox`, its applet links and an
/// empty `/tmp`. Panics unless the busybox found is static: a dynamic one would make every
/// container fail with a baffling "no such file or directory".
pub fn build_rootfs(dir: &Path) {
    let busybox = BUSYBOX
        .iter()
        .map(Path::new)
        .find(|p| p.exists())
        .unwrap_or_else(|| {
            panic!("no busybox at {BUSYBOX:?}: install Debian's busybox-static (see .ci/run)")
        });
    let bytes = fs::read(busybox).expect("read busybox");
    assert!(
        is_static_elf(&bytes),
        "{} is not statically linked: install Debian's busybox-static (see .ci/run)",
        busybox.display()
    );
    let bin = dir.join("bin");
    fs::create_dir_all(&bin).expect("create rootfs/bin");
    fs::create_dir_all(dir.join("tmp")).expect("create rootfs/tmp");
    fs::write(bin.join("busybox"), &bytes).expect("copy busybox");
    set_mode(&bin.join("busybox"), 0o755);
    set_mode(&dir.join("tmp"), 0o1777);
    for applet in APPLETS {
        symlink("busybox", bin.join(applet)).expect("link busybox applet");
    }
}

/// Writes the per-image files into `dir` and returns the tar of `rootfs` plus them. `build`
/// is unique per image, so two builds of one version still differ, as a re-pushed tag should.
pub fn tar_image(rootfs: &Path, dir: &Path, spec: &ImageSpec, build: &str) -> PathBuf {
    fs::create_dir_all(dir).expect("create image dir");
    fs::write(dir.join("version"), format!("{}\n", spec.version)).expect("write /version");
    fs::write(dir.join("build"), format!("{build}\n")).expect("write /build");
    let tar = dir.with_extension("tar");
    let mut cmd = std::process::Command::new("tar");
    cmd.arg("-cf")
        .arg(&tar)
        .args(["--owner=0", "--group=0", "--numeric-owner", "-C"])
        .arg(rootfs)
        .args(["bin", "tmp", "-C"])
        .arg(dir)
        .args(["version", "build"]);
    super::process::run(&mut cmd, None, std::time::Duration::from_secs(60))
        .unwrap_or_else(|why| panic!("{why}"))
        .assert_success();
    tar
}

/// The `--change` arguments for `docker import`: the command, the run label, and the spec's own.
pub fn import_changes(spec: &ImageSpec, label: &str) -> Vec<String> {
    let cmd = serde_json::to_string(&spec.cmd).expect("a list of strings is JSON");
    let mut changes = vec![
        format!("CMD {cmd}"),
        format!("LABEL {label}"),
        "ENV PATH=/bin".to_string(),
    ];
    changes.extend(spec.changes.iter().cloned());
    changes
}

fn set_mode(path: &Path, mode: u32) {
    use std::os::unix::fs::PermissionsExt;
    fs::set_permissions(path, fs::Permissions::from_mode(mode)).expect("chmod");
}

/// True for a 64-bit little-endian ELF without a `PT_INTERP` program header, i.e. one that needs
/// no dynamic loader inside an empty image.
fn is_static_elf(bytes: &[u8]) -> bool {
    const PT_INTERP: u32 = 3;
    let u16_at = |at: usize| {
        bytes
            .get(at..at + 2)
            .map(|b| u16::from_le_bytes([b[0], b[1]]))
    };
    let u32_at = |at: usize| {
        bytes
            .get(at..at + 4)
            .map(|b| u32::from_le_bytes([b[0], b[1], b[2], b[3]]))
    };
    let u64_at = |at: usize| {
        bytes
            .get(at..at + 8)
            .and_then(|b| b.try_into().ok())
            .map(u64::from_le_bytes)
    };
    if bytes.get(..6) != Some(b"\x7fELF\x02\x01") {
        return false;
    }
    let (Some(phoff), Some(phentsize), Some(phnum)) = (u64_at(0x20), u16_at(0x36), u16_at(0x38))
    else {
        return false;
    };
    (0..usize::from(phnum)).all(|i| {
        let at = phoff as usize + i * usize::from(phentsize);
        u32_at(at).is_some_and(|kind| kind != PT_INTERP)
    })
}

#[test]
fn static_elf_check_tells_the_two_busyboxes_apart() {
    let sh = fs::read("/bin/sh").expect("read /bin/sh");
    assert!(
        !is_static_elf(&sh),
        "/bin/sh is dynamically linked on Debian"
    );
    assert!(!is_static_elf(b"#!/bin/sh\n"));
    let busybox = fs::read(BUSYBOX[0]).expect("busybox-static is installed (see .ci/run)");
    assert!(is_static_elf(&busybox), "{} is static", BUSYBOX[0]);
}
