//! AWS Signature Version 4, as Bedrock requires on every request: a canonical form of
//! the request (method, path, query, the signed headers, the body's SHA-256), hashed
//! into a string to sign with the time and the scope (date, region, service), and
//! signed with a key derived from the secret by HMAC-SHA256 down that scope.
//!
//! Both sides use it: llm-drill signs each Bedrock request with `sign`, and the mock
//! checks what arrives with `verify`, answering a bad signature as Bedrock does. It lives
//! in the mock's crate because llm-drill depends on the mock, never the other way round.
//! Its arithmetic is checked apart from both: against AWS's published test suite
//! (`get-vanilla`) and botocore's own signer on Bedrock requests
//! (`tests/fixtures/sigv4/`).

use ring::{digest, hmac};
use std::fmt::Write as _;
use std::time::{Duration, SystemTime};

/// An AWS credential: an access key pair, and a session token for temporary ones.
#[derive(Clone, PartialEq)]
pub struct AwsKeys {
    pub access_key_id: String,
    pub secret_access_key: String,
    pub session_token: Option<String>,
    /// When temporary keys expire (`Expiration` of the JSON form).
    pub expires: Option<SystemTime>,
}

impl std::fmt::Debug for AwsKeys {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "AwsKeys({}, <redacted>)", self.access_key_id)
    }
}

impl AwsKeys {
    /// Keys as a credential reference gives them: `ACCESS_KEY_ID:SECRET` with an optional
    /// `:SESSION_TOKEN`, or the JSON that `aws configure export-credentials` prints
    /// (`AccessKeyId`, `SecretAccessKey`, `SessionToken`, `Expiration`). The error never
    /// quotes the text.
    pub fn parse(text: &str) -> Result<AwsKeys, String> {
        let text = text.trim();
        if text.starts_with('{') {
            let v: serde_json::Value = serde_json::from_str(text)
                .map_err(|e| format!("AWS credential JSON does not parse ({e})"))?;
            let field = |k: &str| v.get(k).and_then(|s| s.as_str()).filter(|s| !s.is_empty());
            let (Some(id), Some(secret)) = (field("AccessKeyId"), field("SecretAccessKey")) else {
                return Err("AWS credential JSON needs AccessKeyId and SecretAccessKey".into());
            };
            let expires = match field("Expiration") {
                None => None,
                Some(t) => Some(
                    chrono::DateTime::parse_from_rfc3339(t)
                        .map_err(|e| format!("AWS credential Expiration `{t}`: {e}"))?
                        .into(),
                ),
            };
            return Ok(AwsKeys {
                access_key_id: id.into(),
                secret_access_key: secret.into(),
                session_token: field("SessionToken").map(Into::into),
                expires,
            });
        }
        let mut parts = text.splitn(3, ':');
        match (parts.next(), parts.next(), parts.next()) {
            (Some(id), Some(secret), token) if !id.is_empty() && !secret.is_empty() => {
                Ok(AwsKeys {
                    access_key_id: id.into(),
                    secret_access_key: secret.into(),
                    session_token: token.filter(|t| !t.is_empty()).map(Into::into),
                    expires: None,
                })
            }
            _ => Err(
                "expected an AWS key pair as ACCESS_KEY_ID:SECRET_ACCESS_KEY[:SESSION_TOKEN] or the JSON of `aws configure export-credentials`"
                    .into(),
            ),
        }
    }
}

impl AwsKeys {
    /// The keys as the AWS CLI finds them for `profile` (`None`: the default chain):
    /// without a profile, `AWS_ACCESS_KEY_ID` and `AWS_SECRET_ACCESS_KEY` (and
    /// `AWS_SESSION_TOKEN`) when set; otherwise the profile (`AWS_PROFILE`, or `default`)
    /// in the shared credentials file (`AWS_SHARED_CREDENTIALS_FILE`, or
    /// `~/.aws/credentials`). Profiles that get keys another way (SSO, a
    /// `credential_process`) are not followed: `exec:aws configure export-credentials
    /// --profile NAME` gives their keys.
    pub fn from_aws_config(
        profile: Option<&str>,
        env: &dyn Fn(&str) -> Option<String>,
    ) -> Result<AwsKeys, String> {
        let var = |k: &str| env(k).filter(|v| !v.trim().is_empty());
        if profile.is_none() {
            if let (Some(id), Some(secret)) =
                (var("AWS_ACCESS_KEY_ID"), var("AWS_SECRET_ACCESS_KEY"))
            {
                return Ok(AwsKeys {
                    access_key_id: id.trim().into(),
                    secret_access_key: secret.trim().into(),
                    session_token: var("AWS_SESSION_TOKEN").map(|t| t.trim().into()),
                    expires: None,
                });
            }
        }
        let name = profile
            .map(str::to_string)
            .or_else(|| var("AWS_PROFILE"))
            .unwrap_or_else(|| "default".into());
        let file = var("AWS_SHARED_CREDENTIALS_FILE")
            .map(std::path::PathBuf::from)
            .or_else(|| var("HOME").map(|h| std::path::Path::new(&h).join(".aws/credentials")))
            .ok_or("no AWS credentials: AWS_ACCESS_KEY_ID is not set and there is no HOME")?;
        let text = std::fs::read_to_string(&file).map_err(|e| {
            format!(
                "no AWS credentials: AWS_ACCESS_KEY_ID is not set and {} cannot be read ({})",
                file.display(),
                e.kind()
            )
        })?;
        let section = ini_section(&text, &name)
            .ok_or_else(|| format!("AWS profile `{name}` is not in {}", file.display()))?;
        let get = |k: &str| {
            section
                .iter()
                .find(|(key, _)| key.eq_ignore_ascii_case(k))
                .map(|(_, v)| v.to_string())
                .filter(|v| !v.is_empty())
        };
        match (get("aws_access_key_id"), get("aws_secret_access_key")) {
            (Some(id), Some(secret)) => Ok(AwsKeys {
                access_key_id: id,
                secret_access_key: secret,
                session_token: get("aws_session_token"),
                expires: None,
            }),
            _ => Err(format!(
                "AWS profile `{name}` in {} has no aws_access_key_id and aws_secret_access_key (for SSO or credential_process profiles use exec:aws configure export-credentials --profile {name})",
                file.display()
            )),
        }
    }

    /// The keys as one line, in the form `parse` reads.
    pub fn to_text(&self) -> String {
        match &self.session_token {
            Some(t) => format!("{}:{}:{t}", self.access_key_id, self.secret_access_key),
            None => format!("{}:{}", self.access_key_id, self.secret_access_key),
        }
    }
}

/// The `key = value` lines of section `[name]` of an INI file (the AWS CLI's format:
/// `#` and `;` comments, keys and values trimmed).
fn ini_section<'a>(text: &'a str, name: &str) -> Option<Vec<(&'a str, &'a str)>> {
    let mut inside = false;
    let mut found = None;
    for line in text.lines().map(str::trim) {
        if line.is_empty() || line.starts_with('#') || line.starts_with(';') {
            continue;
        }
        if let Some(head) = line.strip_prefix('[').and_then(|l| l.strip_suffix(']')) {
            inside = head.trim() == name;
            if inside {
                found.get_or_insert_with(Vec::new);
            }
            continue;
        }
        if let (true, Some((k, v))) = (inside, line.split_once('=')) {
            found
                .get_or_insert_with(Vec::new)
                .push((k.trim(), v.trim()));
        }
    }
    found
}

/// What signing gives: the headers to send, and the intermediate forms (for tests and
/// for the mock's check of a signature).
#[derive(Debug, PartialEq)]
pub struct Signed {
    /// `X-Amz-Date`, `20150830T123600Z`.
    pub amz_date: String,
    pub authorization: String,
    pub canonical_request: String,
    pub string_to_sign: String,
}

/// One request to sign.
pub struct Request<'a> {
    pub method: &'a str,
    /// `host` or `host:port`, as the `Host` header carries it.
    pub host: &'a str,
    /// As sent: percent-encoded as on the wire.
    pub path: &'a str,
    pub query: Option<&'a str>,
    /// Headers signed besides `host`, `x-amz-date` and `x-amz-security-token`.
    pub headers: &'a [(&'a str, &'a str)],
    pub body: &'a [u8],
}

/// Signs `req` for `service` in `region` at `time`.
pub fn sign(
    req: &Request<'_>,
    keys: &AwsKeys,
    region: &str,
    service: &str,
    time: SystemTime,
) -> Signed {
    let t = chrono::DateTime::<chrono::Utc>::from(time);
    let amz_date = t.format("%Y%m%dT%H%M%SZ").to_string();
    let mut headers: Vec<(String, String)> = req
        .headers
        .iter()
        .map(|(n, v)| (n.to_ascii_lowercase(), v.to_string()))
        .collect();
    headers.push(("host".into(), req.host.to_string()));
    headers.push(("x-amz-date".into(), amz_date.clone()));
    if let Some(token) = &keys.session_token {
        headers.push(("x-amz-security-token".into(), token.clone()));
    }
    headers.sort();
    let scope = Scope {
        date: &amz_date[..8],
        region,
        service,
    };
    let (canonical_request, string_to_sign, signature) =
        signature(req, &headers, &amz_date, &scope, &keys.secret_access_key);
    Signed {
        authorization: format!(
            "AWS4-HMAC-SHA256 Credential={}/{}, SignedHeaders={}, Signature={signature}",
            keys.access_key_id,
            scope.text(),
            signed_names(&headers)
        ),
        amz_date,
        canonical_request,
        string_to_sign,
    }
}

struct Scope<'a> {
    date: &'a str,
    region: &'a str,
    service: &'a str,
}

impl Scope<'_> {
    fn text(&self) -> String {
        format!(
            "{}/{}/{}/aws4_request",
            self.date, self.region, self.service
        )
    }
}

fn signed_names(headers: &[(String, String)]) -> String {
    headers
        .iter()
        .map(|(n, _)| n.as_str())
        .collect::<Vec<_>>()
        .join(";")
}

/// The canonical request, the string to sign and the signature, from headers already
/// lowercased and sorted.
fn signature(
    req: &Request<'_>,
    headers: &[(String, String)],
    amz_date: &str,
    scope: &Scope<'_>,
    secret: &str,
) -> (String, String, String) {
    let mut canonical = String::with_capacity(512);
    let _ = write!(
        canonical,
        "{}\n{}\n{}\n",
        req.method,
        canonical_path(req.path),
        canonical_query(req.query.unwrap_or_default())
    );
    for (n, v) in headers {
        let _ = writeln!(canonical, "{n}:{}", collapse(v));
    }
    let _ = write!(
        canonical,
        "\n{}\n{}",
        signed_names(headers),
        hex(digest::digest(&digest::SHA256, req.body).as_ref())
    );
    let string_to_sign = format!(
        "AWS4-HMAC-SHA256\n{amz_date}\n{}\n{}",
        scope.text(),
        hex(digest::digest(&digest::SHA256, canonical.as_bytes()).as_ref())
    );
    let mac = |key: &[u8], data: &str| {
        hmac::sign(&hmac::Key::new(hmac::HMAC_SHA256, key), data.as_bytes())
    };
    let k_date = mac(format!("AWS4{secret}").as_bytes(), scope.date);
    let k_region = mac(k_date.as_ref(), scope.region);
    let k_service = mac(k_region.as_ref(), scope.service);
    let k_signing = mac(k_service.as_ref(), "aws4_request");
    let signature = hex(mac(k_signing.as_ref(), &string_to_sign).as_ref());
    (canonical, string_to_sign, signature)
}

/// Why a signed request is refused, as Bedrock says it.
#[derive(Debug, PartialEq, Eq)]
pub enum Refused {
    /// No `Authorization` header, or one that is not SigV4 (`MissingAuthenticationTokenException`
    /// on AWS; 403).
    Missing,
    /// The access key id is not one the server knows (`UnrecognizedClientException`).
    UnknownKey,
    /// The signature does not match, or the request is out of its time window
    /// (`InvalidSignatureException`).
    Invalid(String),
}

/// How far a request's `X-Amz-Date` may be from the server's clock, as AWS allows.
pub const MAX_SKEW: Duration = Duration::from_secs(15 * 60);

/// Checks a request's SigV4 signature: its `Authorization` header names the key, the
/// scope and the headers it signed; the signature is made again from those headers as
/// they arrived, with the secret of that key (`secret_of`), and compared. `headers` are
/// the request's headers as received (names in any case).
pub fn verify(
    req: &Request<'_>,
    service: &str,
    secret_of: impl Fn(&str) -> Option<String>,
    now: SystemTime,
) -> Result<(), Refused> {
    let header = |name: &str| {
        req.headers
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| *v)
    };
    let auth = header("authorization")
        .and_then(|a| a.strip_prefix("AWS4-HMAC-SHA256 "))
        .ok_or(Refused::Missing)?;
    let mut credential = None;
    let mut signed = None;
    let mut given = None;
    for part in auth.split(',') {
        let part = part.trim();
        if let Some(v) = part.strip_prefix("Credential=") {
            credential = Some(v);
        } else if let Some(v) = part.strip_prefix("SignedHeaders=") {
            signed = Some(v);
        } else if let Some(v) = part.strip_prefix("Signature=") {
            given = Some(v);
        }
    }
    let (Some(credential), Some(signed), Some(given)) = (credential, signed, given) else {
        return Err(Refused::Invalid(
            "Authorization header requires Credential, SignedHeaders and Signature".into(),
        ));
    };
    let mut scope = credential.splitn(5, '/');
    let (Some(key_id), Some(date), Some(region), Some(svc), Some("aws4_request")) = (
        scope.next(),
        scope.next(),
        scope.next(),
        scope.next(),
        scope.next(),
    ) else {
        return Err(Refused::Invalid(format!(
            "Credential should be scoped to a valid region and service: {credential}"
        )));
    };
    let secret = secret_of(key_id).ok_or(Refused::UnknownKey)?;
    if svc != service {
        return Err(Refused::Invalid(format!(
            "Credential should be scoped to correct service: '{service}'."
        )));
    }
    let amz_date = header("x-amz-date")
        .ok_or_else(|| Refused::Invalid("the request is missing its X-Amz-Date header".into()))?;
    let sent = chrono::NaiveDateTime::parse_from_str(amz_date, "%Y%m%dT%H%M%SZ")
        .map_err(|_| Refused::Invalid(format!("X-Amz-Date `{amz_date}` is not a time")))?;
    let sent: SystemTime = sent.and_utc().into();
    let skew = now
        .duration_since(sent)
        .or_else(|_| sent.duration_since(now))
        .unwrap_or_default();
    if skew > MAX_SKEW || !amz_date.starts_with(date) {
        return Err(Refused::Invalid(format!(
            "Signature expired: {amz_date} is not within 15 minutes of the server's time"
        )));
    }
    let mut headers = Vec::new();
    for name in signed.split(';') {
        let value = header(name)
            .ok_or_else(|| Refused::Invalid(format!("a signed header is missing: {name}")))?;
        headers.push((name.to_string(), value.to_string()));
    }
    let (_, _, expected) = signature(
        req,
        &headers,
        amz_date,
        &Scope {
            date,
            region,
            service,
        },
        &secret,
    );
    if expected != given {
        return Err(Refused::Invalid(
            "The request signature we calculated does not match the signature you provided. Check your AWS Secret Access Key and signing method. Consult the service documentation for details.".into(),
        ));
    }
    Ok(())
}

/// RFC 3986 percent-encoding of everything but the unreserved characters.
fn encode(s: &str, out: &mut String) {
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.' | b'~') {
            out.push(b as char);
        } else {
            let _ = write!(out, "%{b:02X}");
        }
    }
}

/// The path as sent, each segment encoded again (every service but S3 signs the path
/// encoded twice: a model id's `%3A` is signed as `%253A`).
fn canonical_path(path: &str) -> String {
    if path.is_empty() {
        return "/".into();
    }
    let mut out = String::with_capacity(path.len() + 16);
    for (i, segment) in path.split('/').enumerate() {
        if i > 0 {
            out.push('/');
        }
        encode(segment, &mut out);
    }
    out
}

/// The query's parameters, decoded, encoded again and sorted.
fn canonical_query(query: &str) -> String {
    let mut pairs: Vec<(String, String)> = form_urlencoded::parse(query.as_bytes())
        .map(|(k, v)| {
            let (mut ek, mut ev) = (String::new(), String::new());
            encode(&k, &mut ek);
            encode(&v, &mut ev);
            (ek, ev)
        })
        .collect();
    pairs.sort();
    pairs
        .iter()
        .map(|(k, v)| format!("{k}={v}"))
        .collect::<Vec<_>>()
        .join("&")
}

/// A header value trimmed, its runs of spaces made one.
fn collapse(v: &str) -> String {
    v.split_whitespace().collect::<Vec<_>>().join(" ")
}

fn hex(bytes: &[u8]) -> String {
    let mut s = String::with_capacity(bytes.len() * 2);
    for b in bytes {
        let _ = write!(s, "{b:02x}");
    }
    s
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::UNIX_EPOCH;

    const KEY_ID: &str = "AKIDEXAMPLE";
    const SECRET: &str = "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY";

    fn at(stamp: &str) -> SystemTime {
        let t = chrono::NaiveDateTime::parse_from_str(stamp, "%Y%m%dT%H%M%SZ").unwrap();
        UNIX_EPOCH + Duration::from_secs(t.and_utc().timestamp() as u64)
    }

    fn keys(token: Option<&str>) -> AwsKeys {
        AwsKeys {
            access_key_id: KEY_ID.into(),
            secret_access_key: SECRET.into(),
            session_token: token.map(Into::into),
            expires: None,
        }
    }

    /// AWS's SigV4 test suite, `get-vanilla`.
    #[test]
    fn the_aws_test_suites_get_vanilla() {
        let s = sign(
            &Request {
                method: "GET",
                host: "example.amazonaws.com",
                path: "/",
                query: None,
                headers: &[],
                body: b"",
            },
            &keys(None),
            "us-east-1",
            "service",
            at("20150830T123600Z"),
        );
        assert_eq!(
            s.authorization,
            "AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20150830/us-east-1/service/aws4_request, SignedHeaders=host;x-amz-date, Signature=5fa00fa31553b73ebf1942676e86291e8372ff2a2260956d9b8aae1d763fbf31"
        );
    }

    /// Bedrock requests signed by botocore (tests/fixtures/sigv4/make_fixture.py): the
    /// same canonical request, string to sign and Authorization header; and each
    /// verifies, as the mock checks it.
    #[test]
    fn bedrock_requests_sign_as_botocore_signs_them() {
        let fixture: serde_json::Value =
            serde_json::from_str(include_str!("../../tests/fixtures/sigv4/botocore.json")).unwrap();
        let cases = fixture["cases"].as_array().unwrap();
        assert_eq!(cases.len(), 2);
        for c in cases {
            let raw = c["url"].as_str().unwrap();
            let rest = raw.strip_prefix("https://").unwrap();
            let (host, path) = rest.split_at(rest.find('/').unwrap());
            let token = c["token"].as_str();
            let k = AwsKeys {
                access_key_id: fixture["access_key"].as_str().unwrap().into(),
                secret_access_key: fixture["secret_key"].as_str().unwrap().into(),
                session_token: token.map(Into::into),
                expires: None,
            };
            let body = c["body"].as_str().unwrap().as_bytes();
            let time = at(c["time"].as_str().unwrap());
            let req = |headers| Request {
                method: "POST",
                host,
                path,
                query: None,
                headers,
                body,
            };
            let region = c["region"].as_str().unwrap();
            let s = sign(
                &req(&[("Content-Type", "application/json")]),
                &k,
                region,
                "bedrock",
                time,
            );
            let name = c["name"].as_str().unwrap();
            assert_eq!(
                s.canonical_request,
                c["canonical_request"].as_str().unwrap(),
                "{name}"
            );
            assert_eq!(
                s.string_to_sign,
                c["string_to_sign"].as_str().unwrap(),
                "{name}"
            );
            let authorization = c["authorization"].as_str().unwrap();
            assert_eq!(s.authorization, authorization, "{name}");
            assert_eq!(s.amz_date, c["x_amz_date"].as_str().unwrap(), "{name}");

            // What botocore sent verifies; changed anywhere, it does not.
            let mut sent = vec![
                ("Content-Type", "application/json"),
                ("Host", host),
                ("X-Amz-Date", s.amz_date.as_str()),
                ("Authorization", authorization),
            ];
            if let Some(t) = token {
                sent.push(("X-Amz-Security-Token", t));
            }
            let secret = |id: &str| (id == KEY_ID).then(|| SECRET.to_string());
            assert_eq!(verify(&req(&sent), "bedrock", secret, time), Ok(()));
            let later = time + Duration::from_secs(16 * 60);
            assert!(matches!(
                verify(&req(&sent), "bedrock", secret, later),
                Err(Refused::Invalid(m)) if m.starts_with("Signature expired")
            ));
            let tampered = Request {
                body: b"{}",
                ..req(&sent)
            };
            assert!(matches!(
                verify(&tampered, "bedrock", secret, time),
                Err(Refused::Invalid(m)) if m.contains("does not match")
            ));
            let wrong = |_: &str| Some("another secret".to_string());
            assert!(verify(&req(&sent), "bedrock", wrong, time).is_err());
            assert_eq!(
                verify(&req(&sent), "bedrock", |_| None, time),
                Err(Refused::UnknownKey)
            );
            assert_eq!(
                verify(&req(&sent[..2]), "bedrock", secret, time),
                Err(Refused::Missing)
            );
        }
    }

    #[test]
    fn queries_are_sorted_and_encoded_and_values_collapsed() {
        assert_eq!(canonical_query("z=1&a=x%2Fy&a=b"), "a=b&a=x%2Fy&z=1");
        assert_eq!(canonical_path("/a%20b/c"), "/a%2520b/c");
        assert_eq!(collapse("  a   b  c "), "a b c");
    }

    #[test]
    fn keys_come_from_the_environment_or_a_profile_of_the_shared_file() {
        let dir = std::env::temp_dir().join(format!("llm-drill-aws-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let file = dir.join("credentials");
        std::fs::write(
            &file,
            "# comment\n[default]\naws_access_key_id = AKIDDEFAULT\naws_secret_access_key = s1\n\n[prod]\n; c\naws_access_key_id=AKIDPROD\naws_secret_access_key=s2\naws_session_token = t2\n[sso]\nsso_session = x\n",
        )
        .unwrap();
        let f = file.to_str().unwrap().to_string();
        let env = |vars: &'static [(&'static str, &'static str)]| {
            let f = f.clone();
            move |k: &str| {
                if k == "AWS_SHARED_CREDENTIALS_FILE" {
                    return Some(f.clone());
                }
                vars.iter()
                    .find(|(n, _)| *n == k)
                    .map(|(_, v)| v.to_string())
            }
        };
        const KEYS: &[(&str, &str)] = &[
            ("AWS_ACCESS_KEY_ID", "AKIDENV"),
            ("AWS_SECRET_ACCESS_KEY", "s0"),
        ];
        let k = AwsKeys::from_aws_config(None, &env(KEYS)).unwrap();
        assert_eq!(k.access_key_id, "AKIDENV");
        // A profile named in the scenario reads the file, whatever the environment.
        let k = AwsKeys::from_aws_config(Some("prod"), &env(KEYS)).unwrap();
        assert_eq!(k.to_text(), "AKIDPROD:s2:t2");
        let k = AwsKeys::from_aws_config(None, &env(&[])).unwrap();
        assert_eq!(k.to_text(), "AKIDDEFAULT:s1");
        let k = AwsKeys::from_aws_config(None, &env(&[("AWS_PROFILE", "prod")])).unwrap();
        assert_eq!(k.access_key_id, "AKIDPROD");
        let e = AwsKeys::from_aws_config(Some("nope"), &env(&[])).unwrap_err();
        assert!(e.contains("`nope` is not in"), "{e}");
        let e = AwsKeys::from_aws_config(Some("sso"), &env(&[])).unwrap_err();
        assert!(e.contains("export-credentials --profile sso"), "{e}");
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn keys_parse_from_a_pair_or_the_cli_json_and_errors_quote_nothing() {
        let pair = AwsKeys::parse(" AKID:se/cr+et:tok:en \n").unwrap();
        assert_eq!(pair.access_key_id, "AKID");
        assert_eq!(pair.secret_access_key, "se/cr+et");
        assert_eq!(pair.session_token.as_deref(), Some("tok:en"));
        let json = AwsKeys::parse(
            r#"{"Version":1,"AccessKeyId":"ASIA1","SecretAccessKey":"s","SessionToken":"t","Expiration":"2026-12-02T04:00:00+00:00"}"#,
        )
        .unwrap();
        assert_eq!(json.session_token.as_deref(), Some("t"));
        assert_eq!(json.expires, Some(at("20261202T040000Z")));
        for bad in ["justonevalue", ":s", "AKID:", r#"{"AccessKeyId":"A"}"#] {
            let e = AwsKeys::parse(bad).unwrap_err();
            assert!(!e.contains("justonevalue"), "{e}");
        }
    }
}
