//! The controller's digest key: a Secret of its own in its namespace,
//! made on first use, so the digests in statuses cannot be tested offline
//! by whoever can read a custom resource.

use std::sync::Arc;

use k8s_openapi::api::core::v1::Secret as KubeSecret;
use k8s_openapi::ByteString;
use kube::api::{Api, ObjectMeta, PostParams};
use kube::Client;

use crate::external::digest::DigestKey;

/// The Secret that holds the key, in the controller's namespace.
pub const SECRET_NAME: &str = "seqops-digest-key";
const DATA_KEY: &str = "key";

#[derive(Debug, thiserror::Error)]
pub enum DigestKeyError {
    #[error("cannot read or make Secret {namespace}/{SECRET_NAME}: {source}")]
    Kube { namespace: String, source: Box<kube::Error> },
    #[error(
        "Secret {namespace}/{SECRET_NAME} has no key `{DATA_KEY}` of at least {} bytes; delete it to have a new one made (every secret is then sent again once)",
        DigestKey::MIN_BYTES
    )]
    Unusable { namespace: String },
}

/// The key in `namespace`, made when there is none (a replica that loses
/// the race to make it reads the winner's).
pub async fn load_or_create(client: &Client, namespace: &str) -> Result<Arc<DigestKey>, DigestKeyError> {
    let api: Api<KubeSecret> = Api::namespaced(client.clone(), namespace);
    let kube = |source| DigestKeyError::Kube { namespace: namespace.to_string(), source: Box::new(source) };
    if let Some(secret) = api.get_opt(SECRET_NAME).await.map_err(kube)? {
        return key_of(&secret, namespace);
    }
    let material: [u8; 32] = rand::random();
    let secret = KubeSecret {
        metadata: ObjectMeta {
            name: Some(SECRET_NAME.into()),
            labels: Some([("app.kubernetes.io/managed-by".to_string(), "seqops".to_string())].into()),
            ..ObjectMeta::default()
        },
        data: Some([(DATA_KEY.to_string(), ByteString(material.to_vec()))].into()),
        ..KubeSecret::default()
    };
    match api.create(&PostParams::default(), &secret).await {
        Ok(made) => key_of(&made, namespace),
        Err(kube::Error::Api(status)) if status.code == 409 => {
            key_of(&api.get(SECRET_NAME).await.map_err(kube)?, namespace)
        }
        Err(error) => Err(kube(error)),
    }
}

fn key_of(secret: &KubeSecret, namespace: &str) -> Result<Arc<DigestKey>, DigestKeyError> {
    let material = secret.data.as_ref().and_then(|d| d.get(DATA_KEY)).map(|b| b.0.clone()).unwrap_or_default();
    if material.len() < DigestKey::MIN_BYTES {
        return Err(DigestKeyError::Unusable { namespace: namespace.to_string() });
    }
    Ok(Arc::new(DigestKey::new(&material)))
}
