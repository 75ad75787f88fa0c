//! Signing notifications as SNS does: an RSA key eddy generates once (kept in the store's
//! definitions under its certificate's file name, so nodes sharing the store sign with it and
//! every node serves every certificate a notification may name: two nodes that made a key at
//! once each sign with their own, and both certificates stay servable), a self-signed X.509
//! certificate for it served at the `SigningCertURL`, and SHA1withRSA (`SignatureVersion` 1) or
//! SHA256withRSA (2) signatures, base64.
//!
//! The key is made on first use (a node that never signs never pays for it): 2048-bit RSA key
//! generation takes a moment.

use std::sync::{Arc, OnceLock};

use base64::Engine;
use rsa::pkcs1v15::SigningKey;
use rsa::pkcs8::{DecodePrivateKey, EncodePrivateKey};
use rsa::signature::{SignatureEncoding, Signer as _};
use serde::{Deserialize, Serialize};

use super::envelope::Signed;

/// The definitions kind signing keys are kept under (keyed by their certificate's file name).
pub const KIND: &str = "sns-signing-key";

/// What the store keeps: the key (PKCS#8 DER, base64) and its certificate (PEM).
#[derive(Serialize, Deserialize)]
struct Stored {
    key: String,
    cert: String,
}

/// A loaded signing key.
pub struct Key {
    sha1: SigningKey<sha1::Sha1>,
    sha256: SigningKey<rsa::sha2::Sha256>,
    /// The certificate, PEM.
    pub cert_pem: String,
    /// `SimpleNotificationService-HEX.pem`: the certificate's file name, from its digest.
    pub cert_file: String,
}

impl Key {
    fn from_stored(s: &Stored) -> anyhow::Result<Self> {
        let der = base64::engine::general_purpose::STANDARD.decode(&s.key)?;
        let key = rsa::RsaPrivateKey::from_pkcs8_der(&der)?;
        Ok(Self::new(key, s.cert.clone()))
    }

    fn new(key: rsa::RsaPrivateKey, cert_pem: String) -> Self {
        Self {
            sha1: SigningKey::new(key.clone()),
            sha256: SigningKey::new(key),
            cert_file: cert_file(&cert_pem),
            cert_pem,
        }
    }

    /// Signs `text` with SignatureVersion `version` (`2`: SHA256withRSA; otherwise SHA1withRSA).
    pub fn sign(&self, text: &str, version: &str) -> Signed {
        let (version, bytes) = if version == "2" {
            ("2", self.sha256.sign(text.as_bytes()).to_vec())
        } else {
            ("1", self.sha1.sign(text.as_bytes()).to_vec())
        };
        Signed {
            version,
            signature: base64::engine::general_purpose::STANDARD.encode(bytes),
        }
    }
}

/// `SimpleNotificationService-HEX.pem`: a certificate's file name, from its digest.
fn cert_file(cert_pem: &str) -> String {
    use sha2::Digest;
    let digest = sha2::Sha256::digest(cert_pem.as_bytes());
    let hex: String = digest[..16].iter().map(|b| format!("{b:02x}")).collect();
    format!("SimpleNotificationService-{hex}.pem")
}

/// The certificate (PEM) in a stored key's value.
pub fn stored_certificate(value: &[u8]) -> Option<String> {
    serde_json::from_slice::<Stored>(value).ok().map(|s| s.cert)
}

/// Generates a key and its self-signed certificate.
fn generate() -> anyhow::Result<Stored> {
    let mut rng = rsa::rand_core::OsRng;
    let key = rsa::RsaPrivateKey::new(&mut rng, 2048)?;
    let der = key.to_pkcs8_der()?;
    let pair = rcgen::KeyPair::try_from(der.as_bytes())?;
    let mut params = rcgen::CertificateParams::new(vec!["sns.eddy.local".to_owned()])?;
    params
        .distinguished_name
        .push(rcgen::DnType::CommonName, "eddy SNS signing");
    let cert = params.self_signed(&pair)?;
    Ok(Stored {
        key: base64::engine::general_purpose::STANDARD.encode(der.as_bytes()),
        cert: cert.pem(),
    })
}

/// The signing key, loaded or made once per process.
#[derive(Default)]
pub struct Signer {
    key: OnceLock<Arc<Key>>,
    making: tokio::sync::Mutex<()>,
}

impl Signer {
    /// The key if it is loaded already.
    pub fn loaded(&self) -> Option<Arc<Key>> {
        self.key.get().cloned()
    }

    /// The key: loaded with `load` (a stored value under [`KIND`]), or generated and saved with
    /// `save` (its certificate's file name, the value) when the store has none.
    pub async fn key<L, S, LF, SF>(&self, load: L, save: S) -> anyhow::Result<Arc<Key>>
    where
        L: FnOnce() -> LF,
        LF: std::future::Future<Output = anyhow::Result<Option<Vec<u8>>>>,
        S: FnOnce(String, Vec<u8>) -> SF,
        SF: std::future::Future<Output = anyhow::Result<()>>,
    {
        if let Some(k) = self.key.get() {
            return Ok(k.clone());
        }
        let _one = self.making.lock().await;
        if let Some(k) = self.key.get() {
            return Ok(k.clone());
        }
        let stored = match load().await? {
            Some(bytes) => serde_json::from_slice::<Stored>(&bytes)?,
            None => {
                let made = tokio::task::spawn_blocking(generate).await??;
                save(cert_file(&made.cert), serde_json::to_vec(&made)?).await?;
                made
            }
        };
        let key = Arc::new(tokio::task::spawn_blocking(move || Key::from_stored(&stored)).await??);
        Ok(self.key.get_or_init(|| key).clone())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rsa::pkcs1v15::{Signature, VerifyingKey};
    use rsa::signature::Verifier;

    #[test]
    fn signatures_verify_with_the_key() {
        let stored = generate().expect("generate");
        let key = Key::from_stored(&stored).expect("load");
        assert!(key.cert_pem.starts_with("-----BEGIN CERTIFICATE-----"));
        let der = base64::engine::general_purpose::STANDARD
            .decode(&stored.key)
            .expect("b64");
        let private = rsa::RsaPrivateKey::from_pkcs8_der(&der).expect("key");
        let public = private.to_public_key();
        for version in ["1", "2"] {
            let signed = key.sign("Message\nhi\n", version);
            let raw = base64::engine::general_purpose::STANDARD
                .decode(&signed.signature)
                .expect("b64");
            let sig = Signature::try_from(raw.as_slice()).expect("signature");
            let ok = if version == "1" {
                VerifyingKey::<sha1::Sha1>::new(public.clone()).verify(b"Message\nhi\n", &sig)
            } else {
                VerifyingKey::<rsa::sha2::Sha256>::new(public.clone())
                    .verify(b"Message\nhi\n", &sig)
            };
            assert!(ok.is_ok(), "version {version}");
        }
    }
}
