//! projects:search query language and paging.

use super::*;

// Search query and paging
// ---------------------------------------------------------------------------------------------

#[derive(Debug)]
pub(super) enum Pattern {
    Any,
    Exact(String),
    Prefix(String),
}

impl Pattern {
    pub(super) fn parse(value: &str) -> Pattern {
        let v = value.to_lowercase();
        if v == "*" {
            Pattern::Any
        } else if let Some(prefix) = v.strip_suffix('*') {
            Pattern::Prefix(prefix.to_owned())
        } else {
            Pattern::Exact(v)
        }
    }

    pub(super) fn matches(&self, value: Option<&str>) -> bool {
        let Some(value) = value else { return false };
        let value = value.to_lowercase();
        match self {
            Pattern::Any => true,
            Pattern::Exact(v) => value == *v,
            Pattern::Prefix(p) => value.starts_with(p.as_str()),
        }
    }
}

#[derive(Debug)]
pub(super) enum Term {
    Label(String, Pattern),
    AnyLabel(Pattern),
    Id(Pattern),
    State(Pattern),
    Name(Pattern),
    Parent(Pattern),
    ParentType(Pattern),
    ParentId(Pattern),
}

impl Term {
    pub(super) fn matches(&self, p: &Project) -> bool {
        let parent = p.parent.as_deref();
        match self {
            Term::Label(key, pat) => pat.matches(p.labels.get(key).and_then(Value::as_str)),
            Term::AnyLabel(pat) => p.labels.iter().any(|(k, v)| {
                matches!(pat, Pattern::Any) || pat.matches(Some(k)) || pat.matches(v.as_str())
            }),
            Term::Id(pat) => pat.matches(Some(&p.project_id)),
            Term::State(pat) => pat.matches(Some(p.state.as_str())),
            Term::Name(pat) => pat.matches(p.display_name.as_deref()),
            Term::Parent(pat) => pat.matches(parent),
            Term::ParentType(pat) => pat.matches(parent.and_then(|s| {
                s.split_once('/')
                    .map(|(t, _)| t.strip_suffix('s').unwrap_or(t))
            })),
            Term::ParentId(pat) => {
                pat.matches(parent.and_then(|s| s.split_once('/').map(|(_, n)| n)))
            }
        }
    }
}

/// Splits on whitespace outside double quotes.
pub(super) fn tokenize(query: &str) -> Vec<String> {
    let mut tokens = Vec::new();
    let mut current = String::new();
    let mut quoted = false;
    for c in query.chars() {
        match c {
            '"' => {
                quoted = !quoted;
                current.push(c);
            }
            c if c.is_whitespace() && !quoted => {
                if !current.is_empty() {
                    tokens.push(std::mem::take(&mut current));
                }
            }
            c => current.push(c),
        }
    }
    if !current.is_empty() {
        tokens.push(current);
    }
    tokens
}

/// Parses a search query into OR-ed groups of AND-ed terms.
pub(super) fn parse_query(query: &str) -> Result<Vec<Vec<Term>>, String> {
    let mut groups: Vec<Vec<Term>> = Vec::new();
    let mut and_next = false;
    for token in tokenize(query) {
        if token.eq_ignore_ascii_case("OR") {
            continue;
        }
        if token.eq_ignore_ascii_case("AND") {
            and_next = true;
            continue;
        }
        let term = parse_term(&token)?;
        match groups.last_mut() {
            Some(group) if and_next => group.push(term),
            _ => groups.push(vec![term]),
        }
        and_next = false;
    }
    Ok(groups)
}

pub(super) fn parse_term(token: &str) -> Result<Term, String> {
    let Some(split) = token.find([':', '=']) else {
        return Err(format!(
            "Invalid query term '{token}': expected FIELD:VALUE."
        ));
    };
    let field = token[..split].to_lowercase();
    let raw = token[split + 1..].trim_matches('"');
    let pat = Pattern::parse(raw);
    Ok(match field.as_str() {
        "labels" => Term::AnyLabel(pat),
        f if f.starts_with("labels.") && f.len() > "labels.".len() => {
            Term::Label(f["labels.".len()..].to_owned(), pat)
        }
        "id" | "projectid" => Term::Id(pat),
        "state" | "lifecyclestate" => Term::State(pat),
        "name" | "displayname" => Term::Name(pat),
        "parent" => Term::Parent(pat),
        "parent.type" => Term::ParentType(pat),
        "parent.id" => Term::ParentId(pat),
        _ => {
            return Err(format!(
                "Invalid query: unknown field '{}'.",
                &token[..split]
            ));
        }
    })
}

/// `pageSize` (≤ 0 or absent → default; capped) and the offset in `pageToken` (inferred format).
pub(super) fn paging(req: &EmuRequest) -> Result<(usize, usize), EmuResponse> {
    let page_size = match req.query_param("pageSize") {
        None => MAX_PAGE_SIZE,
        Some(s) => match s.parse::<i32>() {
            Ok(n) if n > 0 => (n as usize).min(MAX_PAGE_SIZE),
            Ok(_) => MAX_PAGE_SIZE,
            // Google's wording for a malformed int32 query parameter.
            Err(_) => {
                return Err(google_error(
                    400,
                    "INVALID_ARGUMENT",
                    &format!("Invalid value at 'page_size' (TYPE_INT32), \"{s}\""),
                    vec![],
                ));
            }
        },
    };
    let offset = match req.query_param("pageToken").filter(|t| !t.is_empty()) {
        None => 0,
        Some(t) => URL_SAFE_NO_PAD
            .decode(t)
            .ok()
            .and_then(|b| String::from_utf8(b).ok())
            .and_then(|s| s.strip_prefix("offset:").and_then(|n| n.parse().ok()))
            .ok_or_else(|| invalid_argument("page_token", "Invalid page token."))?,
    };
    Ok((page_size, offset))
}

pub(super) fn page(hits: Vec<Value>, page_size: usize, offset: usize) -> Value {
    let total = hits.len();
    let projects: Vec<Value> = hits.into_iter().skip(offset).take(page_size).collect();
    let mut body = Map::new();
    if !projects.is_empty() {
        body.insert("projects".into(), Value::Array(projects));
    }
    if offset + page_size < total {
        let token = URL_SAFE_NO_PAD.encode(format!("offset:{}", offset + page_size));
        body.insert("nextPageToken".into(), json!(token));
    }
    Value::Object(body)
}
