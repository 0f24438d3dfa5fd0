//! `per_page` / `page` and `Link` headers, as GitHub paginates lists.

use serde_json::{Value, json};

use super::handlers::{Ctx, Reply};
use super::world::Env;

/// GitHub's default page size.
pub const DEFAULT_PER_PAGE: usize = 30;
/// GitHub's largest page size.
pub const MAX_PER_PAGE: usize = 100;

/// One page of `items` plus its `Link` header value (none when everything fits
/// on one page).
pub fn page<T>(env: &Env, ctx: &Ctx<'_>, items: Vec<T>) -> (Vec<T>, Option<String>) {
    let per_page = ctx
        .query("per_page")
        .and_then(|v| v.parse::<usize>().ok())
        .unwrap_or(DEFAULT_PER_PAGE)
        .clamp(1, MAX_PER_PAGE);
    let page = ctx
        .query("page")
        .and_then(|v| v.parse::<usize>().ok())
        .unwrap_or(1)
        .max(1);
    let total = items.len();
    let last = total.div_ceil(per_page).max(1);
    let items: Vec<T> = items
        .into_iter()
        .skip((page - 1).saturating_mul(per_page))
        .take(per_page)
        .collect();
    if last == 1 {
        return (items, None);
    }
    let url = |n: usize| {
        let mut pairs: Vec<(String, String)> = ctx
            .query
            .iter()
            .filter(|(k, _)| k != "page")
            .cloned()
            .collect();
        pairs.push(("page".to_owned(), n.to_string()));
        let query: String = url::form_urlencoded::Serializer::new(String::new())
            .extend_pairs(pairs)
            .finish();
        format!("<{}{}?{query}>", env.api_url, ctx.path)
    };
    let mut links = Vec::new();
    if page > 1 {
        links.push(format!("{}; rel=\"prev\"", url((page - 1).min(last))));
    }
    if page < last {
        links.push(format!("{}; rel=\"next\"", url(page + 1)));
        links.push(format!("{}; rel=\"last\"", url(last)));
    }
    if page > 1 {
        links.push(format!("{}; rel=\"first\"", url(1)));
    }
    (items, Some(links.join(", ")))
}

/// A paginated JSON array reply.
pub fn array_reply(env: &Env, ctx: &Ctx<'_>, items: Vec<Value>) -> Reply {
    let (items, link) = page(env, ctx, items);
    with_link(Reply::ok(Value::Array(items)), link)
}

/// A paginated `{"total_count": n, "<key>": [...]}` reply (Actions lists).
pub fn wrapped_reply(env: &Env, ctx: &Ctx<'_>, key: &str, items: Vec<Value>) -> Reply {
    let total = items.len();
    let (items, link) = page(env, ctx, items);
    with_link(Reply::ok(json!({ "total_count": total, key: items })), link)
}

fn with_link(reply: Reply, link: Option<String>) -> Reply {
    match link {
        Some(l) => reply.with_header("link", l),
        None => reply,
    }
}
