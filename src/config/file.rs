//! Reading a file a user named: a `__FILE` secret, a template, a CA bundle, a compose file,
//! Docker's `config.json`. Always bounded and only a regular file: `…__FILE=/dev/zero` once
//! grew to 23 GB until the kernel's OOM killer fired, and a FIFO blocked start-up for ever. The
//! file is opened without blocking (a FIFO with no writer would hold the open itself), then
//! refused unless it is a regular file, and read at most one byte past the bound.

use std::io::Read;
use std::os::unix::fs::OpenOptionsExt;
use std::path::Path;

/// A secret (`__FILE`): a password, a token, a key. Plenty for any of them.
pub const SECRET_LIMIT: u64 = 64 * 1024;

/// Every other file a user names: templates, compose files, `.env`, CA bundles (a system
/// bundle of every public CA is about 220 KiB), Docker's `config.json`.
pub const FILE_LIMIT: u64 = 1024 * 1024;

/// Why a file was not read. The message names the file, never its content.
#[derive(Debug, thiserror::Error)]
pub enum FileError {
    #[error("cannot read file {path}: {source}")]
    Io {
        path: String,
        #[source]
        source: std::io::Error,
    },
    #[error("{path} is not a regular file (it is {kind}); refused")]
    NotRegular { path: String, kind: &'static str },
    #[error("{path} is larger than {limit}; refused")]
    TooLarge { path: String, limit: String },
}

impl FileError {
    /// The file is not there (a caller may treat a missing optional file as absent).
    pub fn is_not_found(&self) -> bool {
        matches!(self, FileError::Io { source, .. } if source.kind() == std::io::ErrorKind::NotFound)
    }
}

/// The bytes of the regular file at `path`, at most `limit` of them.
pub fn read(path: &Path, limit: u64) -> Result<Vec<u8>, FileError> {
    let shown = || path.display().to_string();
    let io = |source| FileError::Io {
        path: shown(),
        source,
    };
    let file = std::fs::OpenOptions::new()
        .read(true)
        .custom_flags(libc::O_NONBLOCK)
        .open(path)
        .map_err(io)?;
    let meta = file.metadata().map_err(io)?;
    if !meta.is_file() {
        return Err(FileError::NotRegular {
            path: shown(),
            kind: kind(&meta.file_type()),
        });
    }
    let too_large = || FileError::TooLarge {
        path: shown(),
        limit: human(limit),
    };
    if meta.len() > limit {
        return Err(too_large());
    }
    let mut bytes = Vec::new();
    file.take(limit + 1).read_to_end(&mut bytes).map_err(io)?;
    if bytes.len() as u64 > limit {
        return Err(too_large());
    }
    Ok(bytes)
}

/// As [`read`], as UTF-8 text.
pub fn read_to_string(path: &Path, limit: u64) -> Result<String, FileError> {
    let bytes = read(path, limit)?;
    String::from_utf8(bytes).map_err(|_| FileError::Io {
        path: path.display().to_string(),
        source: std::io::Error::new(std::io::ErrorKind::InvalidData, "not UTF-8 text"),
    })
}

fn kind(file_type: &std::fs::FileType) -> &'static str {
    use std::os::unix::fs::FileTypeExt;
    if file_type.is_dir() {
        "a folder"
    } else if file_type.is_char_device() {
        "a character device"
    } else if file_type.is_block_device() {
        "a block device"
    } else if file_type.is_fifo() {
        "a FIFO"
    } else if file_type.is_socket() {
        "a socket"
    } else {
        "not a file"
    }
}

fn human(limit: u64) -> String {
    if limit % (1024 * 1024) == 0 {
        format!("{} MiB", limit / (1024 * 1024))
    } else {
        format!("{} KiB", limit / 1024)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_a_regular_file_within_the_bound_is_read() {
        let dir = tempfile::tempdir().unwrap();
        let small = dir.path().join("small");
        std::fs::write(&small, "secret\n").unwrap();
        assert_eq!(read_to_string(&small, 16).unwrap(), "secret\n");
        let large = dir.path().join("large");
        std::fs::write(&large, vec![b'x'; 17]).unwrap();
        assert!(matches!(read(&large, 16), Err(FileError::TooLarge { .. })));
        assert!(matches!(
            read(Path::new("/dev/zero"), SECRET_LIMIT),
            Err(FileError::NotRegular {
                kind: "a character device",
                ..
            })
        ));
        assert!(matches!(
            read(dir.path(), SECRET_LIMIT),
            Err(FileError::NotRegular {
                kind: "a folder",
                ..
            })
        ));
        assert!(
            read(&dir.path().join("absent"), 16)
                .unwrap_err()
                .is_not_found()
        );
    }
}
