//! The blob host: where log downloads land after GitHub's 302.
//!
//! It runs as a second server so that it is a different origin from the API,
//! as on GitHub (logs come from a storage host): a client that strips
//! `Authorization` on cross-origin redirects, as it should, is not blamed for a
//! same-origin redirect. A token that does reach it is a violation.

use std::sync::{Arc, Mutex};

use wiremock::{Request, Respond, ResponseTemplate};

use super::recorder::Host;
use super::router::{lock, record_of};
use super::world::World;

/// Path prefix of blob URLs.
pub const BLOB_PREFIX: &str = "/_blobs/";

pub struct BlobResponder {
    pub world: Arc<Mutex<World>>,
}

impl Respond for BlobResponder {
    fn respond(&self, req: &Request) -> ResponseTemplate {
        let mut world = lock(&self.world);
        let mut record = record_of(Host::Blob, req);
        let line = format!("{} blob host {}", record.method, record.path);
        let blob = record
            .path
            .strip_prefix(BLOB_PREFIX)
            .and_then(|token| world.env.blobs.get(token))
            .cloned();
        let xml = "application/xml".to_owned();
        let (status, body, content_type) = if record.header("authorization").is_some() {
            world.log.violation(
                &line,
                "Authorization header sent to the blob host: the token followed the log redirect",
            );
            // Storage refuses a request that carries both a signed URL and a
            // token.
            (403, AUTH_ERROR.as_bytes().to_vec(), xml)
        } else if record.method != "GET" {
            world
                .log
                .violation(&line, "only GET is served by the blob host");
            (405, Vec::new(), xml)
        } else {
            match blob {
                Some(b) => (200, b.bytes, b.content_type),
                None => {
                    world
                        .log
                        .violation(&line, "no such blob (use the Location of a 302)");
                    (404, NOT_FOUND.as_bytes().to_vec(), xml)
                }
            }
        };
        record.status = status;
        world.log.requests.push(record);
        ResponseTemplate::new(status).set_body_raw(body, &content_type)
    }
}

const AUTH_ERROR: &str = "<?xml version=\"1.0\" encoding=\"utf-8\"?><Error><Code>InvalidAuthenticationInfo</Code><Message>Authentication information is not given in the correct format.</Message></Error>";

const NOT_FOUND: &str =
    "<?xml version=\"1.0\" encoding=\"utf-8\"?><Error><Code>BlobNotFound</Code></Error>";
