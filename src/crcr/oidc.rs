//! Proof of origin for downstream results: a GitHub Actions OIDC token of the
//! downstream job, verified against its issuer's published keys.
//!
//! The keys are found the way any OpenID issuer publishes them:
//! `{issuer}/.well-known/openid-configuration` names a `jwks_uri`, which
//! serves the key set. A token is accepted only when it is RS256, signed by a
//! key of that set (matched by `kid`), issued by the configured issuer, for
//! the configured audience, and not expired. [`verify`] is pure; [`fetch_jwks`]
//! does the two GETs.

use std::time::Duration;

use anyhow::{Context as _, Result, bail};
use bytes::Bytes;
use http_body_util::{BodyExt as _, Empty, Limited};
use jsonwebtoken::jwk::JwkSet;
use jsonwebtoken::{Algorithm, DecodingKey, Validation, decode, decode_header};
use serde::{Deserialize, Serialize};

/// GitHub Actions' OIDC issuer.
pub const GITHUB_ISSUER: &str = "https://token.actions.githubusercontent.com";
/// A discovery document or key set larger than this is not one (GitHub's
/// key set is a few kilobytes).
const MAX_DOCUMENT_BYTES: usize = 256 * 1024;
/// A token longer than this is refused before it is parsed (GitHub's are
/// about 1.5 KB).
pub const MAX_TOKEN_BYTES: usize = 16 * 1024;
/// Seconds of clock difference allowed on `exp` (jsonwebtoken's default).
const LEEWAY_SECS: u64 = 60;

/// Why a token was refused. Each says what was wrong, never the token.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum OidcError {
    #[error("the OIDC token is missing")]
    Missing,
    #[error("the OIDC token is longer than {MAX_TOKEN_BYTES} bytes")]
    TooLong,
    #[error("the OIDC token is malformed: {0}")]
    Malformed(String),
    #[error("the OIDC token is signed with {0}, not RS256")]
    Algorithm(String),
    #[error("the OIDC token names no key id (`kid`)")]
    NoKeyId,
    #[error("the OIDC token's key `{0}` is not one the issuer publishes")]
    UnknownKey(String),
    #[error("the OIDC token's signature does not verify")]
    BadSignature,
    #[error("the OIDC token has expired")]
    Expired,
    #[error("the OIDC token was issued by another issuer (expected {0})")]
    WrongIssuer(String),
    #[error("the OIDC token is for another audience (expected {0})")]
    WrongAudience(String),
    #[error("the OIDC token is not valid: {0}")]
    Invalid(String),
}

/// What the downstream job's token says about it (the claims we read).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Claims {
    /// `owner/name` of the repository whose workflow asked for the token.
    pub repository: String,
    #[serde(default)]
    pub repository_owner: Option<String>,
    #[serde(default)]
    pub run_id: Option<String>,
    #[serde(default)]
    pub run_attempt: Option<String>,
    #[serde(default)]
    pub workflow: Option<String>,
    #[serde(default)]
    pub sub: Option<String>,
    pub iss: String,
    pub exp: u64,
}

/// What a token must satisfy.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Expect<'a> {
    pub issuer: &'a str,
    pub audience: &'a str,
}

/// Verify `token` against `keys` and `expect`; its claims when it holds.
pub fn verify(token: &str, keys: &JwkSet, expect: &Expect<'_>) -> Result<Claims, OidcError> {
    let token = token.trim();
    if token.is_empty() {
        return Err(OidcError::Missing);
    }
    if token.len() > MAX_TOKEN_BYTES {
        return Err(OidcError::TooLong);
    }
    let header = decode_header(token).map_err(|e| OidcError::Malformed(e.to_string()))?;
    if header.alg != Algorithm::RS256 {
        return Err(OidcError::Algorithm(format!("{:?}", header.alg)));
    }
    let kid = header.kid.ok_or(OidcError::NoKeyId)?;
    let jwk = keys
        .find(&kid)
        .ok_or_else(|| OidcError::UnknownKey(shorten(&kid)))?;
    let key = DecodingKey::from_jwk(jwk).map_err(|_| OidcError::UnknownKey(shorten(&kid)))?;
    let mut validation = Validation::new(Algorithm::RS256);
    validation.set_issuer(&[expect.issuer]);
    validation.set_audience(&[expect.audience]);
    validation.set_required_spec_claims(&["exp", "iss", "aud"]);
    validation.leeway = LEEWAY_SECS;
    decode::<Claims>(token, &key, &validation)
        .map(|data| data.claims)
        .map_err(|e| {
            use jsonwebtoken::errors::ErrorKind as K;
            match e.kind() {
                K::InvalidSignature => OidcError::BadSignature,
                K::ExpiredSignature => OidcError::Expired,
                K::InvalidIssuer => OidcError::WrongIssuer(expect.issuer.to_string()),
                K::InvalidAudience => OidcError::WrongAudience(expect.audience.to_string()),
                K::InvalidToken | K::Base64(_) | K::Json(_) | K::Utf8(_) => {
                    OidcError::Malformed(e.to_string())
                }
                _ => OidcError::Invalid(e.to_string()),
            }
        })
}

/// Key ids are the token's text: quoted short.
fn shorten(kid: &str) -> String {
    let cut: String = kid
        .chars()
        .filter(|c| c.is_ascii_alphanumeric() || "-_.".contains(*c))
        .take(64)
        .collect();
    if cut.is_empty() { "?".into() } else { cut }
}

#[derive(Deserialize)]
struct Discovery {
    issuer: String,
    jwks_uri: String,
}

/// The issuer's key set: its discovery document, then its `jwks_uri`. The
/// issuer must be https (plain http only on a loopback address, for local
/// test issuers), and the key set must be served from the issuer's origin.
pub async fn fetch_jwks(issuer: &str) -> Result<JwkSet> {
    let base =
        url::Url::parse(issuer).with_context(|| format!("issuer {issuer:?} is not a URL"))?;
    check_scheme(&base)?;
    let discovery_url = format!(
        "{}/.well-known/openid-configuration",
        issuer.trim_end_matches('/')
    );
    let body = get(&discovery_url, None).await?;
    let discovery: Discovery = serde_json::from_slice(&body)
        .with_context(|| format!("{discovery_url} is not an OpenID discovery document"))?;
    if discovery.issuer.trim_end_matches('/') != issuer.trim_end_matches('/') {
        bail!("{discovery_url} names another issuer; refused");
    }
    let jwks = url::Url::parse(&discovery.jwks_uri).context("jwks_uri is not a URL")?;
    check_scheme(&jwks)?;
    if jwks.origin() != base.origin() {
        bail!("the issuer's jwks_uri is on another host; refused");
    }
    let body = get(jwks.as_str(), None).await?;
    serde_json::from_slice(&body).context("the issuer's jwks_uri did not serve a key set")
}

fn check_scheme(url: &url::Url) -> Result<()> {
    let loopback = matches!(url.host_str(), Some("127.0.0.1" | "localhost" | "[::1]"));
    match url.scheme() {
        "https" => Ok(()),
        "http" if loopback => Ok(()),
        _ => bail!("{url} must be https"),
    }
}

/// GET `url` (with `bearer`, never logged), reading at most
/// [`MAX_DOCUMENT_BYTES`].
pub(crate) async fn get(url: &str, bearer: Option<&str>) -> Result<Bytes> {
    let uri: http::Uri = url.parse().with_context(|| format!("bad URL {url}"))?;
    let client = crate::github::logs::new_blob_client();
    let mut req = http::Request::get(uri)
        .header(http::header::USER_AGENT, "ci-medic")
        .header(http::header::ACCEPT, "application/json");
    if let Some(token) = bearer {
        req = req.header(http::header::AUTHORIZATION, format!("Bearer {token}"));
    }
    let req = req.body(Empty::<Bytes>::new())?;
    let res = tokio::time::timeout(Duration::from_secs(30), client.request(req))
        .await
        .map_err(|_| anyhow::anyhow!("GET {url} timed out"))?
        .map_err(|e| anyhow::anyhow!("GET {url}: {e}"))?;
    let status = res.status();
    let body = Limited::new(res.into_body(), MAX_DOCUMENT_BYTES)
        .collect()
        .await
        .map_err(|e| anyhow::anyhow!("GET {url}: {e}"))?
        .to_bytes();
    if !status.is_success() {
        bail!("GET {url} answered {status}");
    }
    Ok(body)
}

#[cfg(test)]
mod tests {
    use super::*;
    use jsonwebtoken::{EncodingKey, Header, encode};

    const ISSUER: &str = "https://issuer.test";
    const AUD: &str = "ci-medic-crcr";

    fn keys() -> JwkSet {
        let jwk = include_str!("../../fixtures/crcr/oidc/issuer.jwk.json");
        serde_json::from_str(&format!("{{\"keys\":[{jwk}]}}")).unwrap()
    }

    fn now() -> u64 {
        chrono::Utc::now().timestamp() as u64
    }

    fn token(kid: &str, der: &[u8], claims: serde_json::Value) -> String {
        let mut header = Header::new(Algorithm::RS256);
        header.kid = Some(kid.into());
        encode(&header, &claims, &EncodingKey::from_rsa_der(der)).unwrap()
    }

    fn claims(exp: u64) -> serde_json::Value {
        serde_json::json!({
            "iss": ISSUER, "aud": AUD, "exp": exp, "iat": exp - 600,
            "repository": "Org/Backend", "run_id": "42", "sub": "repo:Org/Backend:ref:refs/heads/main",
        })
    }

    const KEY: &[u8] = include_bytes!("../../fixtures/crcr/oidc/issuer.der");
    const OTHER: &[u8] = include_bytes!("../../fixtures/crcr/oidc/other.der");
    const EXPECT: Expect<'static> = Expect {
        issuer: ISSUER,
        audience: AUD,
    };

    #[test]
    fn a_valid_token_gives_its_claims() {
        let t = token("test-issuer", KEY, claims(now() + 600));
        let c = verify(&t, &keys(), &EXPECT).unwrap();
        assert_eq!(c.repository, "Org/Backend");
        assert_eq!(c.run_id.as_deref(), Some("42"));
    }

    #[test]
    fn forged_expired_and_misaddressed_tokens_are_refused() {
        let keys = keys();
        let forged = token("test-issuer", OTHER, claims(now() + 600));
        assert_eq!(
            verify(&forged, &keys, &EXPECT),
            Err(OidcError::BadSignature)
        );
        let unknown = token("test-other", OTHER, claims(now() + 600));
        assert_eq!(
            verify(&unknown, &keys, &EXPECT),
            Err(OidcError::UnknownKey("test-other".into()))
        );
        let expired = token("test-issuer", KEY, claims(now() - 3600));
        assert_eq!(verify(&expired, &keys, &EXPECT), Err(OidcError::Expired));
        let mut c = claims(now() + 600);
        c["aud"] = "someone-else".into();
        let t = token("test-issuer", KEY, c);
        assert!(matches!(
            verify(&t, &keys, &EXPECT),
            Err(OidcError::WrongAudience(_))
        ));
        let mut c = claims(now() + 600);
        c["iss"] = "https://evil.test".into();
        let t = token("test-issuer", KEY, c);
        assert!(matches!(
            verify(&t, &keys, &EXPECT),
            Err(OidcError::WrongIssuer(_))
        ));
    }

    #[test]
    fn tampered_unsigned_and_garbage_tokens_are_refused() {
        let keys = keys();
        let t = token("test-issuer", KEY, claims(now() + 600));
        // Swap the claims for others, keeping the signature.
        let parts: Vec<&str> = t.split('.').collect();
        use base64::Engine as _;
        let other = base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(
            serde_json::to_vec(&{
                let mut c = claims(now() + 600);
                c["repository"] = "evil/repo".into();
                c
            })
            .unwrap(),
        );
        let tampered = format!("{}.{}.{}", parts[0], other, parts[2]);
        assert_eq!(
            verify(&tampered, &keys, &EXPECT),
            Err(OidcError::BadSignature)
        );
        let none = format!(
            "{}.{}.",
            base64::engine::general_purpose::URL_SAFE_NO_PAD
                .encode(br#"{"alg":"none","kid":"test-issuer"}"#),
            parts[1]
        );
        assert!(verify(&none, &keys, &EXPECT).is_err());
        assert_eq!(verify("", &keys, &EXPECT), Err(OidcError::Missing));
        assert!(matches!(
            verify("not.a.jwt", &keys, &EXPECT),
            Err(OidcError::Malformed(_))
        ));
        assert_eq!(
            verify(&"a".repeat(MAX_TOKEN_BYTES + 1), &keys, &EXPECT),
            Err(OidcError::TooLong)
        );
    }

    #[test]
    fn only_https_issuers_except_on_loopback() {
        let ok = |u: &str| check_scheme(&url::Url::parse(u).unwrap()).is_ok();
        assert!(ok("https://token.actions.githubusercontent.com"));
        assert!(ok("http://127.0.0.1:9999"));
        assert!(!ok("http://issuer.example"));
        assert!(!ok("file:///etc/passwd"));
    }
}
