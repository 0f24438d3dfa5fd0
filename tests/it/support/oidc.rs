//! A small local OpenID issuer for the downstream CI tests: it publishes
//! the test key (`fixtures/crcr/oidc/issuer.jwk.json`) the way a real
//! issuer does (`/.well-known/openid-configuration` -> `jwks_uri`), and
//! plays the runner's token endpoint (`ACTIONS_ID_TOKEN_REQUEST_URL`),
//! handing out tokens signed with the test key.

use jsonwebtoken::{Algorithm, EncodingKey, Header, encode};
use serde_json::{Value, json};
use wiremock::matchers::{header, method, path};
use wiremock::{Mock, MockServer, ResponseTemplate};

pub const KEY: &[u8] = include_bytes!("../../../fixtures/crcr/oidc/issuer.der");
/// A key the issuer does not publish under the `kid` it claims: a forgery.
pub const OTHER_KEY: &[u8] = include_bytes!("../../../fixtures/crcr/oidc/other.der");
pub const AUDIENCE: &str = "ci-medic-crcr";
/// The bearer the token endpoint wants.
pub const REQUEST_TOKEN: &str = "runner-request-token-for-tests";

pub struct Issuer {
    pub server: MockServer,
}

impl Issuer {
    /// Start the issuer; its token endpoint signs tokens for `repository`.
    pub async fn start(repository: &str) -> Issuer {
        let server = MockServer::start().await;
        let uri = server.uri();
        Mock::given(method("GET"))
            .and(path("/.well-known/openid-configuration"))
            .respond_with(ResponseTemplate::new(200).set_body_json(json!({
                "issuer": uri,
                "jwks_uri": format!("{uri}/.well-known/jwks"),
                "id_token_signing_alg_values_supported": ["RS256"],
            })))
            .mount(&server)
            .await;
        let jwk: Value =
            serde_json::from_str(include_str!("../../../fixtures/crcr/oidc/issuer.jwk.json"))
                .expect("jwk");
        Mock::given(method("GET"))
            .and(path("/.well-known/jwks"))
            .respond_with(ResponseTemplate::new(200).set_body_json(json!({"keys": [jwk]})))
            .mount(&server)
            .await;
        let issuer = Issuer { server };
        let token = issuer.token(KEY, &issuer.claims(repository, 600));
        Mock::given(method("GET"))
            .and(path("/token"))
            .and(header(
                "authorization",
                format!("Bearer {REQUEST_TOKEN}").as_str(),
            ))
            .respond_with(ResponseTemplate::new(200).set_body_json(json!({"value": token})))
            .mount(&issuer.server)
            .await;
        issuer
    }

    pub fn uri(&self) -> String {
        self.server.uri()
    }

    /// The runner's token request URL.
    pub fn request_url(&self) -> String {
        format!("{}/token?api-version=2.0", self.uri())
    }

    /// GitHub's claims for a job of `repository`, expiring in `secs`
    /// (negative: already expired).
    pub fn claims(&self, repository: &str, secs: i64) -> Value {
        let now = chrono::Utc::now().timestamp();
        json!({
            "iss": self.uri(),
            "aud": AUDIENCE,
            "iat": now - 60,
            "exp": now + secs,
            "repository": repository,
            "repository_owner": repository.split('/').next(),
            "run_id": "9001",
            "sub": format!("repo:{repository}:ref:refs/heads/main"),
        })
    }

    /// A token with `claims`, signed with `key` and naming the published key.
    pub fn token(&self, key: &[u8], claims: &Value) -> String {
        let mut header = Header::new(Algorithm::RS256);
        header.kid = Some("test-issuer".into());
        encode(&header, claims, &EncodingKey::from_rsa_der(key)).expect("sign")
    }
}
