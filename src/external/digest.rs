//! The digests that stand for secret values in plans, state and status:
//! an HMAC-SHA256 under a key that is never stored beside them, so nobody
//! who reads a state branch, a plan artifact or a custom resource can test
//! a guess offline.
//!
//! A digest reads `hmac-sha256:KEYID:HEX`. The key id tells a digest made
//! under another key (one lost or rotated) from a changed value. Digests
//! written before keys existed (a SHA-256 salted by a salt stored beside
//! them) are re-keyed from the values in hand, without a remote write.
//! Without a key (a plan of a pull request from a fork) nothing can be
//! compared, and every secret reads `not comparable`.

use std::collections::BTreeMap;
use std::sync::Arc;

use hmac::{Hmac, Mac};
use serde_json::{json, Value};
use sha2::Sha256;

use super::sources::{self, SourceValues, SENSITIVE};
use super::Secret;

/// What a secret's digest is when no key was at hand.
pub const NOT_COMPARABLE: &str = "not comparable";

const PREFIX: &str = "hmac-sha256:";

/// The key secret digests and saved plans are made with.
pub struct DigestKey {
    material: Vec<u8>,
    id: String,
}

impl std::fmt::Debug for DigestKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "DigestKey({})", self.id)
    }
}

impl DigestKey {
    /// The least a key may hold: shorter keys are guessable.
    pub const MIN_BYTES: usize = 16;

    pub fn new(material: &[u8]) -> Self {
        let id = hex(&mac(material, b"seqops digest key id"))[..12].to_string();
        Self { material: material.to_vec(), id }
    }

    /// Twelve hex digits that name the key without revealing it.
    pub fn id(&self) -> &str {
        &self.id
    }

    /// `hmac-sha256:KEYID:HEX` of `bytes`.
    pub fn sign(&self, bytes: &[u8]) -> String {
        format!("{PREFIX}{}:{}", self.id, hex(&mac(&self.material, bytes)))
    }

    /// Whether `signature` is this key's for `bytes`, compared in constant
    /// time.
    pub fn verifies(&self, bytes: &[u8], signature: &str) -> bool {
        self.verifies_streamed(|mac| mac.update(bytes), signature)
    }

    /// [`DigestKey::sign`] of `value`'s compact JSON, fed to the MAC as it
    /// is written: a plan of 100,000 changes is never held as text.
    pub fn sign_json(&self, value: &impl serde::Serialize) -> String {
        let mut mac = self.hmac();
        // Writing into a MAC cannot fail, nor can serializing plain data.
        let _ = serde_json::to_writer(MacWriter(&mut mac), value);
        format!("{PREFIX}{}:{}", self.id, hex(&mac.finalize().into_bytes()))
    }

    /// [`DigestKey::verifies`] of `value`'s compact JSON.
    pub fn verifies_json(&self, value: &impl serde::Serialize, signature: &str) -> bool {
        self.verifies_streamed(
            |mac| {
                let _ = serde_json::to_writer(MacWriter(mac), value);
            },
            signature,
        )
    }

    fn verifies_streamed(&self, feed: impl FnOnce(&mut Hmac<Sha256>), signature: &str) -> bool {
        let Some(Some(hex_digest)) = signature.strip_prefix(PREFIX).map(|rest| rest.strip_prefix(&self.id)) else {
            return false;
        };
        let Some(expected) = hex_digest.strip_prefix(':').and_then(unhex) else { return false };
        let mut check = self.hmac();
        feed(&mut check);
        check.verify_slice(&expected).is_ok()
    }

    fn hmac(&self) -> Hmac<Sha256> {
        // An HMAC takes a key of any length, so this cannot fail.
        Hmac::<Sha256>::new_from_slice(&self.material).unwrap_or_else(|_| unreachable!("HMAC takes any key length"))
    }
}

/// Bytes written go into a MAC.
struct MacWriter<'a>(&'a mut Hmac<Sha256>);

impl std::io::Write for MacWriter<'_> {
    fn write(&mut self, bytes: &[u8]) -> std::io::Result<usize> {
        self.0.update(bytes);
        Ok(bytes.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

/// The key id a digest or signature was made under; `None` for a digest
/// from before keys, or one made without a key.
pub fn key_id_of(digest: &str) -> Option<&str> {
    digest.strip_prefix(PREFIX)?.split(':').next()
}

/// How one object's secrets are digested: under the key, if there is
/// one, re-keying what the state's old salt made.
#[derive(Clone, Debug, Default)]
pub struct Digests {
    key: Option<Arc<DigestKey>>,
    legacy_salt: Option<String>,
}

impl Digests {
    pub fn keyed(key: Option<Arc<DigestKey>>) -> Self {
        Self { key, legacy_salt: None }
    }

    /// The same key, re-keying digests an older seqops salted with `salt`.
    pub fn with_legacy_salt(&self, salt: &str) -> Self {
        Self { key: self.key.clone(), legacy_salt: (!salt.is_empty()).then(|| salt.to_string()) }
    }

    pub fn key(&self) -> Option<&DigestKey> {
        self.key.as_deref()
    }

    /// The marker that stands for `value`.
    pub fn marker(&self, value: &Secret) -> Value {
        match &self.key {
            Some(key) => json!({ SENSITIVE: key.sign(value.expose().as_bytes()) }),
            None => json!({ SENSITIVE: NOT_COMPARABLE }),
        }
    }

    /// For each value in hand, its digest under the old salt and under the
    /// key: what re-keying replaces with what.
    pub fn rekeying(&self, values: &SourceValues) -> BTreeMap<String, String> {
        let (Some(key), Some(salt)) = (&self.key, &self.legacy_salt) else { return BTreeMap::new() };
        values.iter().map(|value| (salted(salt, value), key.sign(value.expose().as_bytes()))).collect()
    }
}

/// The digest an older seqops made: SHA-256 of `salt:value`.
fn salted(salt: &str, value: &Secret) -> String {
    use sha2::Digest;
    hex(&Sha256::digest(format!("{salt}:{}", value.expose()).as_bytes()))
}

/// Replaces, inside `value`, each secret marker whose digest `renamed`
/// holds with its new digest; how many it replaced.
pub fn rekey(value: &mut Value, renamed: &BTreeMap<String, String>) -> usize {
    if renamed.is_empty() {
        return 0;
    }
    if let Some((SENSITIVE, Some(old))) = sources::marker(value) {
        return match renamed.get(old) {
            Some(new) => {
                *value = json!({ SENSITIVE: new });
                1
            }
            None => 0,
        };
    }
    match value {
        Value::Object(map) => map.values_mut().map(|inner| rekey(inner, renamed)).sum(),
        Value::Array(items) => items.iter_mut().map(|inner| rekey(inner, renamed)).sum(),
        _ => 0,
    }
}

/// Whether `value` holds a secret digest made under a key other than
/// `key`: its secret cannot be compared, and is sent again once.
pub fn holds_foreign_digest(value: &Value, key: &DigestKey) -> bool {
    if let Some((SENSITIVE, Some(digest))) = sources::marker(value) {
        return key_id_of(digest).is_some_and(|id| id != key.id());
    }
    match value {
        Value::Object(map) => map.values().any(|inner| holds_foreign_digest(inner, key)),
        Value::Array(items) => items.iter().any(|inner| holds_foreign_digest(inner, key)),
        _ => false,
    }
}

/// Replaces, inside what an API returned, each plain value standing where
/// `mask` (what was asked for, or applied) has a secret with that secret's
/// digest: an API that returns a secret it was given (an orchagent
/// Service's `env`) never puts it in state or a plan, and drift in it can
/// still be seen.
pub fn conceal(observed: &mut Value, mask: &Value, digests: &Digests) {
    if let Some((SENSITIVE, _)) = sources::marker(mask) {
        if let Value::String(plain) = observed {
            *observed = digests.marker(&Secret::new(std::mem::take(plain)));
        }
        return;
    }
    match (observed, mask) {
        (Value::Object(seen), Value::Object(asked)) => {
            for (key, inner) in seen.iter_mut() {
                if let Some(mask) = asked.get(key) {
                    conceal(inner, mask, digests);
                }
            }
        }
        (Value::Array(seen), Value::Array(asked)) => {
            for (inner, mask) in seen.iter_mut().zip(asked) {
                conceal(inner, mask, digests);
            }
        }
        _ => {}
    }
}

/// [`conceal`] for every field, under each of `masks` in turn.
pub fn conceal_fields(observed: &mut super::Fields, masks: &[&super::Fields], digests: &Digests) {
    for mask in masks {
        for (field, value) in observed.iter_mut() {
            if let Some(mask) = mask.get(field).filter(|m| holds_digest(m)) {
                conceal(value, mask, digests);
            }
        }
    }
}

/// Whether `value` holds any secret marker.
pub fn holds_digest(value: &Value) -> bool {
    if let Some((SENSITIVE, Some(_))) = sources::marker(value) {
        return true;
    }
    match value {
        Value::Object(map) => map.values().any(holds_digest),
        Value::Array(items) => items.iter().any(holds_digest),
        _ => false,
    }
}

/// Whether `value` still holds a digest from before keys.
pub fn holds_legacy_digest(value: &Value) -> bool {
    if let Some((SENSITIVE, Some(digest))) = sources::marker(value) {
        return digest != NOT_COMPARABLE && key_id_of(digest).is_none();
    }
    match value {
        Value::Object(map) => map.values().any(holds_legacy_digest),
        Value::Array(items) => items.iter().any(holds_legacy_digest),
        _ => false,
    }
}

/// Whether a desired value is a secret digested without a key, which
/// stands for whatever is there.
pub fn not_comparable(value: &Value) -> bool {
    matches!(sources::marker(value), Some((SENSITIVE, Some(NOT_COMPARABLE))))
}

/// Whether `current` is what `wanted` asks for, where a secret that could
/// not be digested (no key) matches whatever is there.
pub fn matches(wanted: &Value, current: &Value) -> bool {
    if not_comparable(wanted) {
        return true;
    }
    match (wanted, current) {
        (Value::Object(a), Value::Object(b)) if sources::marker(wanted).is_none() => {
            a.len() == b.len() && a.iter().all(|(k, v)| b.get(k).is_some_and(|c| matches(v, c)))
        }
        (Value::Array(a), Value::Array(b)) => a.len() == b.len() && a.iter().zip(b).all(|(x, y)| matches(x, y)),
        _ => wanted == current,
    }
}

fn mac(key: &[u8], bytes: &[u8]) -> Vec<u8> {
    // An HMAC takes a key of any length, so this cannot fail.
    let mut mac = Hmac::<Sha256>::new_from_slice(key).unwrap_or_else(|_| unreachable!("HMAC takes any key length"));
    mac.update(bytes);
    mac.finalize().into_bytes().to_vec()
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

fn unhex(text: &str) -> Option<Vec<u8>> {
    if !text.len().is_multiple_of(2) {
        return None;
    }
    (0..text.len()).step_by(2).map(|i| u8::from_str_radix(text.get(i..i + 2)?, 16).ok()).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key(text: &str) -> Arc<DigestKey> {
        Arc::new(DigestKey::new(text.as_bytes()))
    }

    #[test]
    fn a_digest_depends_on_the_key_and_names_it() {
        let value = Secret::new("Bearer hunter2");
        let one = Digests::keyed(Some(key("one key of sixteen bytes")));
        let other = Digests::keyed(Some(key("another key of sixteen")));
        assert_eq!(one.marker(&value), one.marker(&value));
        assert_ne!(one.marker(&value), other.marker(&value));
        let digest = one.marker(&value)[SENSITIVE].as_str().map(String::from).unwrap_or_default();
        assert_eq!(key_id_of(&digest), Some(one.key().map(DigestKey::id).unwrap_or_default()));
        assert!(!digest.contains("hunter2"));
    }

    #[test]
    fn without_a_key_a_secret_is_not_comparable() {
        let marker = Digests::default().marker(&Secret::new("x"));
        assert!(not_comparable(&marker));
    }

    #[test]
    fn a_secret_without_a_key_matches_whatever_is_there() {
        let unkeyed = Digests::default().marker(&Secret::new("x"));
        let keyed = Digests::keyed(Some(key("one key of sixteen bytes"))).marker(&Secret::new("x"));
        assert!(matches(&json!({"h": {"A": unkeyed.clone()}, "n": 1}), &json!({"h": {"A": keyed.clone()}, "n": 1})));
        assert!(!matches(&json!({"h": {"A": unkeyed}, "n": 1}), &json!({"h": {"A": keyed}, "n": 2})));
    }

    #[test]
    fn a_secret_an_api_returns_is_kept_as_its_digest() {
        let digests = Digests::keyed(Some(key("one key of sixteen bytes")));
        let asked = json!({"LOG_LEVEL": "info", "TOKEN": digests.marker(&Secret::new("t0ken"))});
        let mut returned = json!({"LOG_LEVEL": "info", "TOKEN": "t0ken", "OTHER": "x"});
        conceal(&mut returned, &asked, &digests);
        assert_eq!(
            returned,
            json!({"LOG_LEVEL": "info", "TOKEN": digests.marker(&Secret::new("t0ken")), "OTHER": "x"})
        );
    }

    #[test]
    fn a_signature_verifies_only_under_its_key_and_for_its_bytes() {
        let one = key("one key of sixteen bytes");
        let signature = one.sign(b"plan");
        assert!(one.verifies(b"plan", &signature));
        assert!(!one.verifies(b"plan with a delete", &signature));
        assert!(!key("another key of sixteen").verifies(b"plan", &signature));
        assert!(!one.verifies(b"plan", "hmac-sha256:zz"));
    }

    #[test]
    fn old_salted_digests_are_rekeyed_from_the_value_in_hand() {
        let value = Secret::new("Bearer hunter2");
        let digests = Digests::keyed(Some(key("one key of sixteen bytes"))).with_legacy_salt("abcd");
        let mut values = SourceValues::default();
        values.insert("headers.Authorization", value.clone());
        let mut stored = json!({"Authorization": {SENSITIVE: salted("abcd", &value)}, "Other": {SENSITIVE: "ff"}});
        assert!(holds_legacy_digest(&stored));
        assert_eq!(rekey(&mut stored, &digests.rekeying(&values)), 1);
        assert_eq!(stored["Authorization"], digests.marker(&value));
        assert_eq!(stored["Other"], json!({SENSITIVE: "ff"}));
    }

    #[test]
    fn a_digest_of_another_key_is_foreign() {
        let value = Secret::new("v");
        let old = Digests::keyed(Some(key("one key of sixteen bytes")));
        let new = key("another key of sixteen");
        assert!(holds_foreign_digest(&json!({"a": [old.marker(&value)]}), &new));
        assert!(!holds_foreign_digest(&json!({"a": [Digests::keyed(Some(new.clone())).marker(&value)]}), &new));
    }
}
