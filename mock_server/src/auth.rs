//! Who the mock lets in: the keys of a rehearsed rotation, each in its window of the
//! run, or the tokens its own OAuth endpoint (`POST /oauth2/token`) issued.

use crate::chat::{Arrived, Wire};
use crate::Shared;
use axum::extract::State;
use axum::http::{header, HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use std::sync::Arc;
use std::time::{Duration, Instant};

/// A key the mock accepts from `from` until `until` (the run's clock), to rehearse a
/// rotation: the old key's window and the new one's may overlap.
#[derive(Clone, PartialEq)]
pub struct AuthKey {
    pub key: String,
    pub from: Duration,
    pub until: Option<Duration>,
}

impl std::fmt::Debug for AuthKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "AuthKey(<redacted>, {:?}..{:?})", self.from, self.until)
    }
}

impl AuthKey {
    fn valid_at(&self, t: Duration) -> bool {
        t >= self.from && self.until.is_none_or(|u| t < u)
    }
}

/// Whether `key` is accepted at `t`, and whether only because windows overlap: the key
/// is an older one (its window ends before another's) while a newer key is valid too.
fn check_key(keys: &[AuthKey], key: Option<&str>, t: Duration) -> (bool, bool) {
    let Some(k) = keys
        .iter()
        .find(|k| Some(k.key.as_str()) == key && k.valid_at(t))
    else {
        return (false, false);
    };
    let ends = k.until.unwrap_or(Duration::MAX);
    let overlap = keys
        .iter()
        .any(|o| o.key != k.key && o.valid_at(t) && o.until.unwrap_or(Duration::MAX) > ends);
    (true, overlap)
}

/// A bearer token from `Authorization`.
pub(crate) fn bearer(headers: &HeaderMap) -> Option<&str> {
    headers
        .get(header::AUTHORIZATION)?
        .to_str()
        .ok()?
        .strip_prefix("Bearer ")
}

/// Why a request was not let in.
#[derive(Debug)]
pub(crate) enum Denied {
    /// No valid key or token.
    Key,
    /// A SigV4 signature that does not verify.
    Signature(crate::sigv4::Refused),
}

/// Whether a chat request may be answered, counted in `/stats`: with OAuth on, only a
/// live token this mock issued passes; with keys configured, only a key in its window
/// (for a signed request, a signature made with one of them); otherwise anything does.
pub(crate) fn authorized(shared: &Shared, wire: &dyn Wire, req: &Arrived) -> Result<(), Denied> {
    let headers = &req.parts.headers;
    let t = shared.clock.elapsed();
    let signed = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.starts_with("AWS4-HMAC-SHA256 "));
    let (ok, overlap) = if shared.config.oauth2_token_lifetime.is_some() {
        (token_valid(shared, bearer(headers)), false)
    } else if shared.config.auth_keys.is_empty() {
        return Ok(());
    } else if let (Some(service), true) = (wire.signing_service(), signed) {
        let verdict = check_signature(&shared.config.auth_keys, service, req, t);
        shared.stats.auth(verdict.is_ok(), false);
        return verdict.map_err(Denied::Signature);
    } else {
        check_key(&shared.config.auth_keys, wire.key(headers), t)
    };
    shared.stats.auth(ok, overlap);
    ok.then_some(()).ok_or(Denied::Key)
}

/// Verifies a SigV4 signature with the secret of the AWS key pair it names, among the
/// configured keys valid now (each `ACCESS_KEY_ID:SECRET`, or the AWS CLI's JSON).
fn check_signature(
    keys: &[AuthKey],
    service: &str,
    req: &Arrived,
    t: Duration,
) -> Result<(), crate::sigv4::Refused> {
    let headers: Vec<(&str, &str)> = req
        .parts
        .headers
        .iter()
        .filter_map(|(n, v)| Some((n.as_str(), v.to_str().ok()?)))
        .collect();
    let host = req
        .parts
        .headers
        .get(header::HOST)
        .and_then(|h| h.to_str().ok())
        .or_else(|| req.parts.uri.authority().map(|a| a.as_str()))
        .unwrap_or_default();
    let mut with_host = headers;
    if !with_host
        .iter()
        .any(|(n, _)| n.eq_ignore_ascii_case("host"))
    {
        // Over h2 the host is the `:authority`.
        with_host.push(("host", host));
    }
    let request = crate::sigv4::Request {
        method: req.parts.method.as_str(),
        host,
        path: req.parts.uri.path(),
        query: req.parts.uri.query(),
        headers: &with_host,
        body: &req.body,
    };
    crate::sigv4::verify(
        &request,
        service,
        |id| {
            keys.iter()
                .filter(|k| k.valid_at(t))
                .filter_map(|k| crate::sigv4::AwsKeys::parse(&k.key).ok())
                .find(|k| k.access_key_id == id)
                .map(|k| k.secret_access_key)
        },
        std::time::SystemTime::now(),
    )
}

/// `POST /oauth2/token`: the client-credentials grant (any client id and secret), or a
/// service account's JWT bearer grant (RFC 7523, as Google's token endpoint takes it):
/// an RS256 JWT, verified against the service accounts among the configured keys (their
/// JSON keys) when there are any. Either gets a token that lives
/// `mock.oauth2.token_lifetime`; the chat routes then accept only tokens it issued and
/// that have not expired.
pub(crate) async fn token(State(shared): State<Arc<Shared>>, body: axum::body::Bytes) -> Response {
    let Some(lifetime) = shared.config.oauth2_token_lifetime else {
        return (StatusCode::NOT_FOUND, "no OAuth endpoint").into_response();
    };
    let form: std::collections::HashMap<String, String> =
        form_urlencoded::parse(&body).into_owned().collect();
    let granted = match form.get("grant_type").map(String::as_str) {
        Some("client_credentials") => {
            form.get("client_id").is_some_and(|c| !c.is_empty())
                && form.get("client_secret").is_some_and(|s| !s.is_empty())
        }
        Some("urn:ietf:params:oauth:grant-type:jwt-bearer") => form
            .get("assertion")
            .is_some_and(|a| jwt_valid(&shared.config.auth_keys, a)),
        _ => false,
    };
    if !granted {
        shared.stats.auth(false, false);
        return (
            StatusCode::BAD_REQUEST,
            axum::Json(serde_json::json!({ "error": "invalid_grant" })),
        )
            .into_response();
    }
    let n = shared.stats.token_issued();
    let token = format!("mock-token-{:016x}-{n}", shared.config.seed);
    shared
        .tokens
        .lock()
        .unwrap_or_else(|p| p.into_inner())
        .insert(token.clone(), Instant::now() + lifetime);
    axum::Json(serde_json::json!({
        "access_token": token, "token_type": "Bearer",
        "expires_in": lifetime.as_secs_f64(), "ext_expires_in": lifetime.as_secs_f64(),
    }))
    .into_response()
}

/// Whether a service account's JWT holds: RS256, not expired, and — where service
/// account keys are configured — issued by one of them (`iss` its `client_email`) and
/// signed with its key. Without such keys, any well-formed, unexpired JWT passes.
fn jwt_valid(keys: &[AuthKey], jwt: &str) -> bool {
    use base64::Engine;
    let b64 = base64::engine::general_purpose::URL_SAFE_NO_PAD;
    let mut parts = jwt.split('.');
    let (Some(h), Some(c), Some(sig), None) =
        (parts.next(), parts.next(), parts.next(), parts.next())
    else {
        return false;
    };
    let json = |p: &str| -> Option<serde_json::Value> {
        serde_json::from_slice(&b64.decode(p).ok()?).ok()
    };
    let (Some(header), Some(claims), Ok(sig)) = (json(h), json(c), b64.decode(sig)) else {
        return false;
    };
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs());
    if header["alg"] != "RS256" || claims["exp"].as_u64().is_none_or(|exp| exp <= now) {
        return false;
    }
    let accounts: Vec<(String, Vec<u8>)> = keys
        .iter()
        .filter_map(|k| service_account(&k.key))
        .collect();
    if accounts.is_empty() {
        return true;
    }
    let signed = &jwt[..h.len() + 1 + c.len()];
    accounts.iter().any(|(email, public)| {
        claims["iss"] == email.as_str()
            && ring::signature::UnparsedPublicKey::new(
                &ring::signature::RSA_PKCS1_2048_8192_SHA256,
                public,
            )
            .verify(signed.as_bytes(), &sig)
            .is_ok()
    })
}

/// A service account's email and public key, from its JSON key.
fn service_account(json: &str) -> Option<(String, Vec<u8>)> {
    use tokio_rustls::rustls::pki_types::{pem::PemObject, PrivatePkcs8KeyDer};
    let v: serde_json::Value = serde_json::from_str(json).ok()?;
    let email = v.get("client_email")?.as_str()?.to_string();
    let pem = v.get("private_key")?.as_str()?;
    let der = PrivatePkcs8KeyDer::from_pem_slice(pem.as_bytes()).ok()?;
    let key = ring::signature::RsaKeyPair::from_pkcs8(der.secret_pkcs8_der()).ok()?;
    use ring::signature::KeyPair;
    Some((email, key.public_key().as_ref().to_vec()))
}

/// Whether `token` is one this mock issued and still valid.
fn token_valid(shared: &Shared, token: Option<&str>) -> bool {
    let Some(t) = token else { return false };
    shared
        .tokens
        .lock()
        .unwrap_or_else(|p| p.into_inner())
        .get(t)
        .is_some_and(|expiry| Instant::now() < *expiry)
}
