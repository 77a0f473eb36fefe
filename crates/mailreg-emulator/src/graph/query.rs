//! Graph query options: $filter, $select, $top, $skiptoken and paging.

use super::*;

// ---------------------------------------------------------------------------------------------
// Query options: $filter, $select, $top, $skiptoken
// ---------------------------------------------------------------------------------------------

#[derive(Debug, PartialEq)]
pub(super) enum Filter {
    /// `prop/any(x:x eq 'v')`
    Any(String, String),
    /// `prop eq 'v'`
    Eq(String, String),
    /// `startswith(prop,'v')`
    StartsWith(String, String),
}

pub(super) struct FilterProps {
    pub(super) resource: &'static str,
    pub(super) any: &'static [&'static str],
    pub(super) eq: &'static [&'static str],
    pub(super) starts: &'static [&'static str],
}

pub(super) const APP_FILTERS: FilterProps = FilterProps {
    resource: "Application",
    any: &["tags"],
    eq: &["appId", "displayName"],
    starts: &["displayName"],
};
pub(super) const SP_FILTERS: FilterProps = FilterProps {
    resource: "ServicePrincipal",
    any: &["tags", "servicePrincipalNames"],
    eq: &["appId", "displayName", "id"],
    starts: &["displayName"],
};
pub(super) const GRANT_FILTERS: FilterProps = FilterProps {
    resource: "OAuth2PermissionGrant",
    any: &[],
    eq: &["clientId", "resourceId", "consentType", "principalId"],
    starts: &[],
};

pub(super) fn strip_eq(s: &str) -> Option<&str> {
    let s = s.trim_start();
    let kw = s.get(..2)?;
    let rest = &s[2..];
    (kw.eq_ignore_ascii_case("eq") && rest.starts_with(char::is_whitespace))
        .then(|| rest.trim_start())
}

pub(super) fn parse_filter_syntax(s: &str) -> Option<Filter> {
    let s = s.trim();
    if s.get(..11)
        .is_some_and(|p| p.eq_ignore_ascii_case("startswith("))
    {
        let (prop, rest) = s[11..].split_once(',')?;
        let (lit, rest) = parse_literal(rest.trim_start())?;
        return (rest.trim() == ")").then(|| Filter::StartsWith(prop.trim().into(), lit));
    }
    if let Some((prop, rest)) = s.split_once("/any(") {
        let (var, rest) = rest.split_once(':')?;
        let var = var.trim();
        if var.is_empty() {
            return None;
        }
        let rest = rest.trim_start().strip_prefix(var)?;
        let (lit, rest) = parse_literal(strip_eq(rest)?)?;
        return (rest.trim() == ")").then(|| Filter::Any(prop.trim().into(), lit));
    }
    let (prop, rest) = s.split_once(char::is_whitespace)?;
    let (lit, rest) = parse_literal(strip_eq(rest)?)?;
    rest.trim()
        .is_empty()
        .then(|| Filter::Eq(prop.trim().into(), lit))
}

/// Parses one of the supported filter shapes; anything else is 400 `Request_UnsupportedQuery`.
pub(super) fn parse_filter(s: &str, props: &FilterProps) -> Result<Filter, GErr> {
    // INFERRED message texts.
    let unsupported = |prop: &str| {
        GErr::new(
            400,
            "Request_UnsupportedQuery",
            format!(
                "Unsupported or invalid query filter clause specified for property '{prop}' of resource '{}'.",
                props.resource
            ),
        )
    };
    let Some(f) = parse_filter_syntax(s) else {
        return Err(GErr::new(
            400,
            "Request_UnsupportedQuery",
            format!("Unsupported query filter clause: '{s}'."),
        ));
    };
    let canon = |allowed: &[&str], p: &str| {
        allowed
            .iter()
            .find(|a| a.eq_ignore_ascii_case(p))
            .map(|a| a.to_string())
    };
    match f {
        Filter::Any(p, v) => canon(props.any, &p)
            .map(|p| Filter::Any(p, v))
            .ok_or_else(|| unsupported(&p)),
        Filter::Eq(p, v) => canon(props.eq, &p)
            .map(|p| Filter::Eq(p, v))
            .ok_or_else(|| unsupported(&p)),
        Filter::StartsWith(p, v) => canon(props.starts, &p)
            .map(|p| Filter::StartsWith(p, v))
            .ok_or_else(|| unsupported(&p)),
    }
}

impl Filter {
    pub(super) fn matches(&self, body: &Map<String, Value>) -> bool {
        let str_eq = |v: &Value, want: &str| {
            v.as_str()
                .is_some_and(|s| s.to_lowercase() == want.to_lowercase())
        };
        match self {
            Filter::Any(p, v) => body
                .get(p)
                .and_then(Value::as_array)
                .is_some_and(|a| a.iter().any(|x| str_eq(x, v))),
            Filter::Eq(p, v) => body.get(p).is_some_and(|x| str_eq(x, v)),
            Filter::StartsWith(p, v) => body
                .get(p)
                .and_then(Value::as_str)
                .is_some_and(|s| s.to_lowercase().starts_with(&v.to_lowercase())),
        }
    }
}

pub(super) type Select = Option<Vec<String>>;

pub(super) fn parse_select(
    req: &EmuRequest,
    template: &Map<String, Value>,
    type_name: &str,
) -> Result<Select, GErr> {
    let Some(raw) = req.query_param("$select") else {
        return Ok(None);
    };
    let mut out: Vec<String> = Vec::new();
    for p in raw.split(',').map(str::trim).filter(|p| !p.is_empty()) {
        let canon = template.keys().find(|k| k.eq_ignore_ascii_case(p)).ok_or_else(|| {
            // INFERRED: OData's text for an unknown property.
            GErr::new(400, "BadRequest", format!(
                "Could not find a property named '{p}' on type 'microsoft.graph.{type_name}'."))
        })?;
        if !out.contains(canon) {
            out.push(canon.clone());
        }
    }
    Ok((!out.is_empty()).then_some(out))
}

/// Top-level projection; `id` is always kept.
pub(super) fn project(body: &Map<String, Value>, select: &Select) -> Map<String, Value> {
    match select {
        None => body.clone(),
        Some(sel) => body
            .iter()
            .filter(|(k, _)| *k == "id" || sel.contains(k))
            .map(|(k, v)| (k.clone(), v.clone()))
            .collect(),
    }
}

pub(super) fn parse_top(req: &EmuRequest) -> Result<usize, GErr> {
    match req.query_param("$top") {
        None => Ok(100),
        Some(t) => match t.trim().parse::<usize>() {
            Ok(n) if (1..=999).contains(&n) => Ok(n),
            // INFERRED text.
            _ => Err(bad_request(format!(
                "Invalid page size specified: '{t}'. Must be between 1 and 999 inclusive."
            ))),
        },
    }
}

pub(super) const SKIP_PREFIX: &str = "emu-skip:";

pub(super) fn parse_skiptoken(req: &EmuRequest) -> Result<Option<u64>, GErr> {
    let Some(t) = req.query_param("$skiptoken") else {
        return Ok(None);
    };
    URL_SAFE_NO_PAD
        .decode(t.trim())
        .ok()
        .and_then(|b| String::from_utf8(b).ok())
        .and_then(|s| s.strip_prefix(SKIP_PREFIX).and_then(|n| n.parse().ok()))
        .map(Some)
        // INFERRED: the directory's code for a bad page token.
        .ok_or_else(|| GErr::new(400, "Directory_ExpiredPageToken",
            "The specified page token value has expired and can no longer be included in your request."))
}

/// Percent-encodes a query component; keeps `$ ' ( ) , : /` readable as Graph does, and encodes
/// spaces as `%20` (never `+`).
pub(super) fn enc(s: &str) -> String {
    let mut out = String::new();
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || b"-._~$'(),:/".contains(&b) {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

/// Resource units (ref §4.2): `base` minus 1 for `$select`, minus 1 for `$top` under 20, at least 1.
pub(super) fn resource_units(req: &EmuRequest, base: u32) -> u32 {
    let mut n = base;
    if req
        .query_param("$select")
        .is_some_and(|s| !s.trim().is_empty())
    {
        n = n.saturating_sub(1);
    }
    if req
        .query_param("$top")
        .and_then(|t| t.trim().parse::<u32>().ok())
        .is_some_and(|t| t < 20)
    {
        n = n.saturating_sub(1);
    }
    n.max(1)
}

pub(super) fn with_context(ctx: String, body: &Map<String, Value>) -> Value {
    let mut m = Map::new();
    m.insert("@odata.context".into(), Value::String(ctx));
    for (k, v) in body {
        m.insert(k.clone(), v.clone());
    }
    Value::Object(m)
}

impl GraphState {
    pub(super) fn ctx(&self, set: &str, select: &Select, entity: bool) -> String {
        let mut s = format!("{}/v1.0/$metadata#{set}", self.base());
        if let Some(sel) = select {
            s.push('(');
            s.push_str(&sel.join(","));
            s.push(')');
        }
        if entity {
            s.push_str("/$entity");
        }
        s
    }

    /// One page of a collection. `items` are already filtered and past the skiptoken, in order.
    pub(super) fn page(
        &self,
        req: &EmuRequest,
        path: &str,
        set: &str,
        items: Vec<(u64, Map<String, Value>)>,
        select: &Select,
        top: usize,
    ) -> Value {
        let more = items.len() > top;
        let page: Vec<(u64, Map<String, Value>)> = items.into_iter().take(top).collect();
        let mut out = Map::new();
        out.insert(
            "@odata.context".into(),
            Value::String(self.ctx(set, select, false)),
        );
        if more {
            let last = page.last().map(|(s, _)| *s).unwrap_or_default();
            let mut q: Vec<String> = req
                .query
                .iter()
                .filter(|(k, _)| k != "$skiptoken")
                .map(|(k, v)| format!("{}={}", enc(k), enc(v)))
                .collect();
            q.push(format!(
                "$skiptoken={}",
                URL_SAFE_NO_PAD.encode(format!("{SKIP_PREFIX}{last}"))
            ));
            out.insert(
                "@odata.nextLink".into(),
                Value::String(format!("{}/v1.0/{path}?{}", self.base(), q.join("&"))),
            );
        }
        let value: Vec<Value> = page
            .iter()
            .map(|(_, b)| Value::Object(project(b, select)))
            .collect();
        out.insert("value".into(), Value::Array(value));
        Value::Object(out)
    }
}
