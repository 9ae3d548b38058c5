//! Encryption of data source passwords at rest, so that a leaked database dump alone does not reveal
//! them: the key lives outside the database (in `DATA_SOURCE_KEY` or a key file next to the data).
//!
//! Values are sealed with ChaCha20-Poly1305 under a random 96-bit nonce each, and stored as
//! `v1:` + base64(nonce ‖ ciphertext ‖ tag). The version prefix leaves room to change the scheme
//! later without guessing what an old value is.

use std::fmt;
use std::io::{self, Write};
use std::path::Path;

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use chacha20poly1305::aead::{Aead, Generate, KeyInit};
use chacha20poly1305::{ChaCha20Poly1305, Key, Nonce};

use crate::error::{Error, Result};
use crate::scheduler::dolphin::Secret;

/// The name of the key file in the data directory.
const KEY_FILE: &str = "data-source.key";

/// The prefix of values sealed by this version of the scheme.
const VERSION_PREFIX: &str = "v1:";

/// The length of a nonce in bytes (96 bits).
const NONCE_LEN: usize = 12;

/// Seals and opens data source passwords with one key.
#[derive(Clone)]
pub struct SecretBox {
    cipher: ChaCha20Poly1305,
}

impl fmt::Debug for SecretBox {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("SecretBox(***)")
    }
}

impl SecretBox {
    /// A box that seals with `key`.
    pub fn from_key(key: &[u8; 32]) -> Self {
        Self { cipher: ChaCha20Poly1305::new(&Key::from(*key)) }
    }

    /// The key from `DATA_SOURCE_KEY` (base64 of 32 bytes, given by the caller as a string) or, when that
    /// is None, from the file `<data_dir>/data-source.key`, created with a fresh random key (mode 0600)
    /// when missing.
    pub fn load(configured: Option<&str>, data_dir: &Path) -> Result<Self> {
        let key = match configured {
            Some(value) => decode_key(value).map_err(|why| {
                Error::internal(format!(
                    "DATA_SOURCE_KEY is not a valid key: {why}; it must be the base64 of 32 random bytes \
                     (such as the output of `openssl rand -base64 32`)"
                ))
            })?,
            None => load_or_create_key_file(data_dir)?,
        };
        Ok(Self::from_key(&key))
    }

    /// `plaintext` encrypted under a fresh random nonce: `v1:` + base64(nonce ‖ ciphertext).
    ///
    /// # Panics
    ///
    /// When the operating system's random number generator fails, which modern systems do not.
    pub fn seal(&self, plaintext: &str) -> String {
        // A fresh nonce from the OS CSPRNG for every value: with 96-bit random nonces, the chance of a
        // repeat stays negligible far beyond the number of passwords this service will ever store.
        let nonce = Nonce::generate();
        let ciphertext = self
            .cipher
            .encrypt(&nonce, plaintext.as_bytes())
            .expect("ChaCha20-Poly1305 refuses only messages of more than 256 GiB");
        let mut sealed = Vec::with_capacity(NONCE_LEN + ciphertext.len());
        sealed.extend_from_slice(&nonce);
        sealed.extend_from_slice(&ciphertext);
        format!("{VERSION_PREFIX}{}", STANDARD.encode(sealed))
    }

    /// The plaintext of a value made by [`SecretBox::seal`] with the same key.
    pub fn open(&self, sealed: &str) -> Result<Secret> {
        let payload = sealed
            .strip_prefix(VERSION_PREFIX)
            .and_then(|encoded| STANDARD.decode(encoded).ok())
            .filter(|payload| payload.len() >= NONCE_LEN)
            .ok_or_else(|| {
                Error::internal(format!(
                    "a stored data source password is malformed: expected {VERSION_PREFIX:?} followed by base64"
                ))
            })?;
        let (nonce, ciphertext) = payload.split_at(NONCE_LEN);
        let nonce = Nonce::try_from(nonce).map_err(|_| wrong_key())?;
        // The tag check cannot tell a wrong key from a tampered value; a differing key is by far the
        // likelier cause, so the message points there.
        let plaintext = self.cipher.decrypt(&nonce, ciphertext).map_err(|_| wrong_key())?;
        let plaintext = String::from_utf8(plaintext).map_err(|_| wrong_key())?;
        Ok(Secret::new(plaintext))
    }
}

/// The error of a value that does not decrypt.
fn wrong_key() -> Error {
    Error::internal(
        "cannot decrypt a stored data source password: the key (DATA_SOURCE_KEY) differs from the one it was \
         stored with",
    )
}

/// The key in `text` (base64 of 32 bytes; surrounding whitespace such as a trailing newline is ignored),
/// or why it is not one. The reason never includes the text itself, which may be a near-miss of the key.
fn decode_key(text: &str) -> std::result::Result<[u8; 32], String> {
    let bytes = STANDARD.decode(text.trim()).map_err(|_| "it is not base64".to_owned())?;
    let length = bytes.len();
    <[u8; 32]>::try_from(bytes).map_err(|_| format!("it decodes to {length} bytes instead of 32"))
}

/// The key in `<data_dir>/data-source.key`, after creating that file with a fresh key when it is missing.
fn load_or_create_key_file(data_dir: &Path) -> Result<[u8; 32]> {
    let path = data_dir.join(KEY_FILE);
    let io_error = |action: &str, error: io::Error| {
        Error::internal(format!("cannot {action} the data source key file {}: {error}", path.display()))
    };
    match std::fs::read_to_string(&path) {
        Ok(text) => {
            return decode_key(&text).map_err(|why| {
                Error::internal(format!(
                    "the data source key file {} is not a valid key: {why}; restore it from a backup, or \
                     set DATA_SOURCE_KEY to the key the stored passwords were sealed with",
                    path.display()
                ))
            });
        }
        Err(error) if error.kind() == io::ErrorKind::NotFound => {}
        Err(error) => return Err(io_error("read", error)),
    }

    let key = <[u8; 32]>::try_generate()
        .map_err(|error| Error::internal(format!("cannot generate a data source key: {error}")))?;
    std::fs::create_dir_all(data_dir).map_err(|error| io_error("create the directory of", error))?;
    let mut options = std::fs::OpenOptions::new();
    // `create_new` so that two processes starting at once cannot overwrite each other's key after one
    // of them has sealed a password with it.
    options.write(true).create_new(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
    let mut file = match options.open(&path) {
        Ok(file) => file,
        Err(error) if error.kind() == io::ErrorKind::AlreadyExists => {
            return load_or_create_key_file(data_dir);
        }
        Err(error) => return Err(io_error("create", error)),
    };
    // The same format as DATA_SOURCE_KEY, so that an operator can move the key into the environment.
    writeln!(file, "{}", STANDARD.encode(key))
        .and_then(|()| file.sync_all())
        .map_err(|error| io_error("write", error))?;
    tracing::info!(path = %path.display(), "created a new data source key file; back it up with the database");
    Ok(key)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn a_box() -> SecretBox {
        SecretBox::from_key(&[7; 32])
    }

    #[test]
    fn a_sealed_value_opens_to_the_plaintext() {
        let secret_box = a_box();
        for plaintext in ["", "hunter2", "pâsswörd with spaces and ünïcode ✓"] {
            let sealed = secret_box.seal(plaintext);
            assert!(sealed.starts_with("v1:"), "{sealed}");
            assert!(!sealed.contains(plaintext) || plaintext.is_empty(), "{sealed}");
            assert_eq!(secret_box.open(&sealed).expect("opens").expose(), plaintext);
        }
    }

    #[test]
    fn two_seals_of_the_same_text_differ() {
        let secret_box = a_box();
        let first = secret_box.seal("hunter2");
        let second = secret_box.seal("hunter2");
        assert_ne!(first, second);
        assert_eq!(secret_box.open(&second).expect("opens").expose(), "hunter2");
    }

    #[test]
    fn a_tampered_value_does_not_open() {
        let secret_box = a_box();
        let sealed = secret_box.seal("hunter2");
        let payload = STANDARD.decode(sealed.strip_prefix("v1:").expect("prefix")).expect("base64");
        for index in [0, NONCE_LEN, payload.len() - 1] {
            let mut tampered = payload.clone();
            tampered[index] ^= 1;
            let error = secret_box.open(&format!("v1:{}", STANDARD.encode(&tampered))).expect_err("tampered");
            assert_eq!(error.message, wrong_key().message);
        }
        let truncated = &payload[..payload.len() - 1];
        assert!(secret_box.open(&format!("v1:{}", STANDARD.encode(truncated))).is_err());
        for malformed in ["", "hunter2", "v1:", "v1:not base64!", "v2:AAAA", "v1:AAAA"] {
            let error = secret_box.open(malformed).expect_err(malformed);
            assert_eq!(error.kind, crate::error::ErrorKind::Internal);
        }
    }

    #[test]
    fn another_key_does_not_open() {
        let sealed = a_box().seal("hunter2");
        let error = SecretBox::from_key(&[8; 32]).open(&sealed).expect_err("wrong key");
        assert_eq!(error.kind, crate::error::ErrorKind::Internal);
        assert_eq!(
            error.message,
            "cannot decrypt a stored data source password: the key (DATA_SOURCE_KEY) differs from the one it \
             was stored with"
        );
    }

    #[test]
    fn debug_hides_the_key() {
        assert_eq!(format!("{:?}", a_box()), "SecretBox(***)");
    }

    #[test]
    fn a_configured_key_is_used() {
        let dir = tempfile::tempdir().expect("temporary directory");
        let encoded = format!("{}\n", STANDARD.encode([7; 32]));
        let loaded = SecretBox::load(Some(&encoded), dir.path()).expect("a valid key");
        assert_eq!(loaded.open(&a_box().seal("hunter2")).expect("same key").expose(), "hunter2");
        assert!(!dir.path().join(KEY_FILE).exists(), "no key file when the key is configured");
    }

    #[test]
    fn load_creates_the_key_file_once_and_reuses_it() {
        let dir = tempfile::tempdir().expect("temporary directory");
        let data_dir = dir.path().join("data");
        let first = SecretBox::load(None, &data_dir).expect("creates the key");
        let path = data_dir.join(KEY_FILE);
        let written = std::fs::read_to_string(&path).expect("key file");
        assert_eq!(decode_key(&written).expect("a valid key").len(), 32);
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt as _;
            let mode = std::fs::metadata(&path).expect("metadata").permissions().mode();
            assert_eq!(mode & 0o777, 0o600);
        }

        let sealed = first.seal("hunter2");
        let second = SecretBox::load(None, &data_dir).expect("reads the key");
        assert_eq!(std::fs::read_to_string(&path).expect("key file"), written, "the file is not rewritten");
        assert_eq!(second.open(&sealed).expect("same key").expose(), "hunter2");
        // The file holds the same format as DATA_SOURCE_KEY.
        let configured = SecretBox::load(Some(&written), dir.path()).expect("the file's key as configured");
        assert_eq!(configured.open(&sealed).expect("same key").expose(), "hunter2");
    }

    #[test]
    fn a_bad_configured_key_is_a_clear_error() {
        let dir = tempfile::tempdir().expect("temporary directory");
        let short = STANDARD.encode([1; 16]);
        for (value, why) in
            [("not base64!", "not base64"), (short.as_str(), "16 bytes instead of 32"), ("", "0 bytes")]
        {
            let error = SecretBox::load(Some(value), dir.path()).expect_err(value);
            assert!(error.message.contains("DATA_SOURCE_KEY"), "{}", error.message);
            assert!(error.message.contains(why), "{}", error.message);
            if !value.is_empty() {
                assert!(!error.message.contains(value), "the value is not echoed: {}", error.message);
            }
        }
    }

    #[test]
    fn a_corrupt_key_file_is_a_clear_error() {
        let dir = tempfile::tempdir().expect("temporary directory");
        std::fs::write(dir.path().join(KEY_FILE), "garbage").expect("write");
        let error = SecretBox::load(None, dir.path()).expect_err("corrupt file");
        assert!(error.message.contains(KEY_FILE), "{}", error.message);
        assert!(error.message.contains("not base64"), "{}", error.message);
    }
}
