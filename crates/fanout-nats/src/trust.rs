//! Who may make a worker run a command, and whose results a coordinator
//! takes: ed25519 keys (`fanout --keygen`), signatures in message headers.
//!
//! A coordinator with `--sign-key` signs its run spec and every job
//! message; a worker with `--trust` runs only messages signed by one of
//! its trusted keys. A worker with `--sign-key` signs its result batches
//! and output chunks; a coordinator with `--trust` takes results only from
//! those keys. What is signed is the SHA-256 of the payload prefixed by
//! the message's kind and run id, so a signature cannot be moved to
//! another kind of message or another run. Signing is not encryption: every broker client
//! that may read the streams reads the commands.

use std::path::{Path, PathBuf};

use base64::engine::general_purpose::STANDARD as B64;
use base64::Engine as _;
use ed25519_dalek::{Signature, Signer, SigningKey, Verifier, VerifyingKey};
use sha2::{Digest, Sha256};

/// Header with the signer's public key (base64).
pub const KEY_HEADER: &str = "Fanout-Key";
/// Header with the signature (base64).
pub const SIG_HEADER: &str = "Fanout-Sig";

const SECRET_TAG: &str = "fanout-ed25519-secret:";
const PUBLIC_TAG: &str = "fanout-ed25519-public:";

/// What a signature is for; part of the signed bytes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// The run spec.
    Spec,
    /// A job message.
    Jobs,
    /// A result batch.
    Results,
    /// An output chunk.
    Chunk,
    /// A worker's refusal of a run.
    Refusal,
    /// A coordinator's answer to "which of these jobs are done?".
    Done,
}

impl Kind {
    fn tag(self) -> &'static [u8] {
        match self {
            Kind::Spec => b"fanout-v1-spec",
            Kind::Jobs => b"fanout-v1-jobs",
            Kind::Results => b"fanout-v1-results",
            Kind::Chunk => b"fanout-v1-chunk",
            Kind::Refusal => b"fanout-v1-refusal",
            Kind::Done => b"fanout-v1-done",
        }
    }
}

/// Why a key file or a signature was not accepted.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum TrustError {
    /// A key file could not be read or written.
    #[error("key file {path}: {source}")]
    File {
        /// The file.
        path: PathBuf,
        /// The OS error.
        source: std::io::Error,
    },
    /// A key file's content is not a fanout key.
    #[error("key file {0}: not a fanout key (make one with `fanout --keygen FILE`)")]
    BadKeyFile(PathBuf),
    /// The message carries no signature.
    #[error("not signed")]
    Unsigned,
    /// The message is signed by a key not trusted here.
    #[error("signed by a key not trusted here ({0})")]
    Untrusted(String),
    /// The signature does not match the message.
    #[error("bad signature")]
    BadSignature,
}

/// A secret key that signs.
#[derive(Clone)]
pub struct SecretKey {
    key: SigningKey,
    public: String,
}

impl std::fmt::Debug for SecretKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "SecretKey({})", self.public)
    }
}

impl SecretKey {
    /// Reads a secret key file written by [`keygen`].
    pub fn load(path: &Path) -> Result<SecretKey, TrustError> {
        let bytes = read_tagged(path, SECRET_TAG)?;
        Ok(SecretKey::from_seed(bytes))
    }

    fn from_seed(seed: [u8; 32]) -> SecretKey {
        let key = SigningKey::from_bytes(&seed);
        let public = B64.encode(key.verifying_key().as_bytes());
        SecretKey { key, public }
    }

    /// The public half, as it appears in [`KEY_HEADER`] and `.pub` files.
    pub fn public(&self) -> &str {
        &self.public
    }

    /// The two header values (key, signature) for a message.
    pub fn sign(&self, kind: Kind, run: &str, payload: &[u8]) -> (String, String) {
        let sig = self.key.sign(&signed_bytes(kind, run, payload));
        (self.public.clone(), B64.encode(sig.to_bytes()))
    }
}

/// Public keys whose signatures are accepted.
#[derive(Debug, Clone, Default)]
pub struct TrustedKeys {
    keys: Vec<(String, VerifyingKey)>,
}

impl TrustedKeys {
    /// Reads public key files (one key a line; `.pub` files of [`keygen`]).
    pub fn load(paths: &[PathBuf]) -> Result<TrustedKeys, TrustError> {
        let mut keys = Vec::new();
        for path in paths {
            let text = std::fs::read_to_string(path).map_err(|source| TrustError::File {
                path: path.clone(),
                source,
            })?;
            let mut found = false;
            for line in text.lines().map(str::trim).filter(|l| !l.is_empty()) {
                let b64 = line
                    .strip_prefix(PUBLIC_TAG)
                    .ok_or_else(|| TrustError::BadKeyFile(path.clone()))?;
                let key = decode_public(b64).ok_or_else(|| TrustError::BadKeyFile(path.clone()))?;
                keys.push((b64.to_owned(), key));
                found = true;
            }
            if !found {
                return Err(TrustError::BadKeyFile(path.clone()));
            }
        }
        Ok(TrustedKeys { keys })
    }

    /// The public half of `key`, alone.
    pub fn of(key: &SecretKey) -> TrustedKeys {
        TrustedKeys {
            keys: vec![(key.public.clone(), key.key.verifying_key())],
        }
    }

    /// Only the key named `public` of these (none if it is not one).
    pub fn only(&self, public: &str) -> TrustedKeys {
        TrustedKeys {
            keys: self
                .keys
                .iter()
                .filter(|(k, _)| k == public)
                .cloned()
                .collect(),
        }
    }

    /// Whether no key is trusted (then nothing is checked).
    pub fn is_empty(&self) -> bool {
        self.keys.is_empty()
    }

    /// Checks a message's signature headers; `key` and `sig` are the
    /// header values, if present. Returns the signer's public key.
    pub fn verify(
        &self,
        kind: Kind,
        run: &str,
        payload: &[u8],
        key: Option<&str>,
        sig: Option<&str>,
    ) -> Result<String, TrustError> {
        let (Some(key), Some(sig)) = (key, sig) else {
            return Err(TrustError::Unsigned);
        };
        let Some((name, vk)) = self.keys.iter().find(|(k, _)| k == key) else {
            return Err(TrustError::Untrusted(short(key)));
        };
        let sig = B64
            .decode(sig)
            .ok()
            .and_then(|b| Signature::from_slice(&b).ok())
            .ok_or(TrustError::BadSignature)?;
        vk.verify(&signed_bytes(kind, run, payload), &sig)
            .map_err(|_| TrustError::BadSignature)?;
        Ok(name.clone())
    }
}

/// `m` with the signature headers of `sig` (key, signature), if any.
pub(crate) fn with_signature(
    m: async_nats::jetstream::message::PublishMessage,
    sig: Option<&(String, String)>,
) -> async_nats::jetstream::message::PublishMessage {
    match sig {
        Some((key, sig)) => m
            .header(KEY_HEADER, key.as_str())
            .header(SIG_HEADER, sig.as_str()),
        None => m,
    }
}

/// A header's value.
pub(crate) fn header<'a>(h: Option<&'a async_nats::HeaderMap>, name: &str) -> Option<&'a str> {
    h?.get(name).map(|v| v.as_str())
}

/// Checks the signature headers of a message against `trusted`.
pub(crate) fn verify_msg(
    trusted: &TrustedKeys,
    kind: Kind,
    run: &str,
    headers: Option<&async_nats::HeaderMap>,
    payload: &[u8],
) -> Result<String, TrustError> {
    trusted.verify(
        kind,
        run,
        payload,
        header(headers, KEY_HEADER),
        header(headers, SIG_HEADER),
    )
}

/// What is signed of an output chunk: its headers and its bytes, so a
/// chunk cannot be passed off as another job's.
pub(crate) fn chunk_bytes(seq: &str, token: &str, stream: &str, data: &[u8]) -> Vec<u8> {
    let mut v = Vec::with_capacity(seq.len() + token.len() + stream.len() + data.len() + 3);
    for part in [seq.as_bytes(), token.as_bytes(), stream.as_bytes()] {
        v.extend_from_slice(part);
        v.push(0);
    }
    v.extend_from_slice(data);
    v
}

/// Writes a new key pair: `path` (the secret, mode 0600, never
/// overwritten) and `path.pub`. Returns the public key line.
pub fn keygen(path: &Path) -> Result<String, TrustError> {
    let mut seed = [0u8; 32];
    getrandom::getrandom(&mut seed).map_err(|e| TrustError::File {
        path: path.to_owned(),
        source: std::io::Error::other(e),
    })?;
    let key = SecretKey::from_seed(seed);
    let public = format!("{PUBLIC_TAG}{}\n", key.public);
    let secret = format!("{SECRET_TAG}{}\n", B64.encode(seed));
    let mut pub_path = path.as_os_str().to_owned();
    pub_path.push(".pub");
    write_new(path, secret.as_bytes(), 0o600)?;
    if let Err(e) = write_new(Path::new(&pub_path), public.as_bytes(), 0o644) {
        // Half a key pair is no use; the secret just written goes too.
        let _ = std::fs::remove_file(path);
        return Err(e);
    }
    Ok(public)
}

fn write_new(path: &Path, data: &[u8], mode: u32) -> Result<(), TrustError> {
    use std::io::Write;
    use std::os::unix::fs::OpenOptionsExt;
    let err = |source| TrustError::File {
        path: path.to_owned(),
        source,
    };
    let mut f = std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(mode)
        .open(path)
        .map_err(err)?;
    if let Err(e) = f.write_all(data).and_then(|()| f.sync_all()) {
        let _ = std::fs::remove_file(path);
        return Err(err(e));
    }
    Ok(())
}

fn read_tagged(path: &Path, tag: &str) -> Result<[u8; 32], TrustError> {
    let text = std::fs::read_to_string(path).map_err(|source| TrustError::File {
        path: path.to_owned(),
        source,
    })?;
    text.trim()
        .strip_prefix(tag)
        .and_then(|b| B64.decode(b).ok())
        .and_then(|b| <[u8; 32]>::try_from(b).ok())
        .ok_or_else(|| TrustError::BadKeyFile(path.to_owned()))
}

fn decode_public(b64: &str) -> Option<VerifyingKey> {
    let bytes = <[u8; 32]>::try_from(B64.decode(b64).ok()?).ok()?;
    VerifyingKey::from_bytes(&bytes).ok()
}

/// What a signature covers: the kind, the run id and the payload's
/// SHA-256. Signing the digest rather than the payload hashes each payload
/// once with SHA-256, which most CPUs run in hardware, instead of twice
/// with ed25519's own SHA-512: signing job messages was a ninth of a
/// coordinator's time at 250,000 jobs/s.
fn signed_bytes(kind: Kind, run: &str, payload: &[u8]) -> Vec<u8> {
    let mut v = Vec::with_capacity(kind.tag().len() + run.len() + 34);
    v.extend_from_slice(kind.tag());
    v.push(0);
    v.extend_from_slice(run.as_bytes());
    v.push(0);
    v.extend_from_slice(&Sha256::digest(payload));
    v
}

/// A key as shown in messages: enough to tell keys apart.
fn short(key: &str) -> String {
    key.chars().take(12).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pair(dir: &Path) -> (SecretKey, TrustedKeys) {
        let p = dir.join("k");
        keygen(&p).unwrap();
        let pub_path = dir.join("k.pub");
        (
            SecretKey::load(&p).unwrap(),
            TrustedKeys::load(&[pub_path]).unwrap(),
        )
    }

    #[test]
    fn a_signature_holds_only_for_its_kind_run_and_payload() {
        let dir = tempfile::tempdir().unwrap();
        let (key, trusted) = pair(dir.path());
        let (k, s) = key.sign(Kind::Spec, "r1", b"payload");
        let ok = trusted.verify(Kind::Spec, "r1", b"payload", Some(&k), Some(&s));
        assert_eq!(ok.unwrap(), key.public());
        for (kind, run, payload) in [
            (Kind::Jobs, "r1", &b"payload"[..]),
            (Kind::Spec, "r2", b"payload"),
            (Kind::Spec, "r1", b"payloaD"),
        ] {
            let e = trusted.verify(kind, run, payload, Some(&k), Some(&s));
            assert!(matches!(e, Err(TrustError::BadSignature)), "{e:?}");
        }
        let e = trusted.verify(Kind::Spec, "r1", b"payload", None, None);
        assert!(matches!(e, Err(TrustError::Unsigned)));
        let e = trusted.verify(Kind::Spec, "r1", b"payload", Some(&k), Some("!!"));
        assert!(matches!(e, Err(TrustError::BadSignature)));
    }

    #[test]
    fn another_key_is_not_trusted() {
        let dir = tempfile::tempdir().unwrap();
        let (_, trusted) = pair(dir.path());
        let other = tempfile::tempdir().unwrap();
        let (stranger, _) = pair(other.path());
        let (k, s) = stranger.sign(Kind::Jobs, "r", b"x");
        let e = trusted.verify(Kind::Jobs, "r", b"x", Some(&k), Some(&s));
        assert!(matches!(e, Err(TrustError::Untrusted(_))));
    }

    #[test]
    fn keygen_never_overwrites_and_the_secret_is_private() {
        use std::os::unix::fs::PermissionsExt;
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("k");
        keygen(&p).unwrap();
        assert!(keygen(&p).is_err());
        let mode = std::fs::metadata(&p).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode, 0o600);
        let bad = dir.path().join("bad");
        std::fs::write(&bad, "hello\n").unwrap();
        assert!(matches!(
            TrustedKeys::load(std::slice::from_ref(&bad)),
            Err(TrustError::BadKeyFile(_))
        ));
        assert!(matches!(
            SecretKey::load(&bad),
            Err(TrustError::BadKeyFile(_))
        ));
    }
}
