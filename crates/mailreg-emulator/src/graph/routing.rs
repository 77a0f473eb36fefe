//! Graph envelope, authentication and routing of paths to resource handlers.

use super::*;

// ---------------------------------------------------------------------------------------------
// Graph: envelope, auth, routing
// ---------------------------------------------------------------------------------------------

impl GraphState {
    pub(super) fn base(&self) -> &str {
        self.config.graph_base_url.trim_end_matches('/')
    }

    pub(super) fn graph(&mut self, req: &EmuRequest, now: OffsetDateTime) -> EmuResponse {
        let request_id = self.uuid();
        let client_request_id = req
            .header("client-request-id")
            .map(str::to_string)
            .unwrap_or_else(|| request_id.clone());
        let result = self
            .authenticate(req, now)
            .and_then(|()| self.route(req, now));
        let (mut resp, ru) = match result {
            Ok(out) => {
                let mut r = match &out.body {
                    Some(b) => EmuResponse::json(out.status, b),
                    None => EmuResponse::empty(out.status),
                };
                for (k, v) in out.headers {
                    r = r.with_header(&k, v);
                }
                (r, out.ru)
            }
            Err(e) => {
                let body = if e.throttled {
                    // ref §4.2, verbatim shape.
                    json!({"error": {
                        "code": "TooManyRequests",
                        "innerError": {
                            "code": "429",
                            "date": inner_date(now),
                            "message": "Please retry after",
                            "request-id": request_id,
                            "status": "429",
                        },
                        "message": "Please retry again later.",
                    }})
                } else {
                    let mut err = json!({
                        "code": e.code,
                        "message": e.message,
                        "innerError": {
                            "date": inner_date(now),
                            "request-id": request_id,
                            "client-request-id": client_request_id,
                        },
                    });
                    if let Some(d) = e.details {
                        err["details"] = d;
                    }
                    json!({ "error": err })
                };
                let mut r = EmuResponse::json(e.status, &body);
                for (k, v) in e.headers {
                    r = r.with_header(&k, v);
                }
                (r, 1)
            }
        };
        resp = resp
            .with_header("request-id", request_id.clone())
            .with_header("client-request-id", client_request_id)
            .with_header("x-ms-resource-unit", ru.to_string());
        resp
    }

    pub(super) fn authenticate(&self, req: &EmuRequest, now: OffsetDateTime) -> Result<(), GErr> {
        // INFERRED: WWW-Authenticate header on Graph 401s.
        let unauthorized = |msg: &str| {
            GErr::new(401, "InvalidAuthenticationToken", msg).header(
                "www-authenticate",
                format!("Bearer realm=\"\", authorization_uri=\"https://login.microsoftonline.com/common/oauth2/authorize\", client_id=\"{GRAPH_APP_ID}\""),
            )
        };
        let Some(token) = req.bearer().map(str::trim).filter(|t| !t.is_empty()) else {
            return Err(unauthorized("Access token is empty."));
        };
        let Some(rec) = self.tokens.get(token) else {
            // INFERRED: a token this directory never issued.
            return Err(unauthorized("Access token validation failure."));
        };
        // INFERRED: 5 minutes of clock skew before nbf, as AAD allows.
        if rec.expired || now >= rec.expires_at || now < rec.not_before - Duration::minutes(5) {
            return Err(unauthorized(
                "Access token has expired or is not yet valid.",
            ));
        }
        let aud = rec.aud.trim_end_matches('/');
        // The emulator stands in for every cloud: the national clouds' Graph resources are
        // accepted as well as the global one (reference §3).
        const NATIONAL_GRAPH: [&str; 3] = [
            "https://graph.microsoft.us",
            "https://dod-graph.microsoft.us",
            "https://microsoftgraph.chinacloudapi.cn",
        ];
        if aud != DEFAULT_GRAPH_BASE_URL
            && aud != GRAPH_APP_ID
            && aud != self.base()
            && !NATIONAL_GRAPH.contains(&aud)
        {
            // INFERRED: real text for a token minted for another resource.
            return Err(unauthorized(
                "Access token validation failure. Invalid audience.",
            ));
        }
        Ok(())
    }

    pub(super) fn route(&mut self, req: &EmuRequest, now: OffsetDateTime) -> GResult {
        let rest = req.path.strip_prefix("/v1.0").unwrap_or_default();
        let mut segs: Vec<&str> = rest.split('/').filter(|s| !s.is_empty()).collect();
        // INFERRED: `/v1.0/myorganization/...` (used by CLI for Microsoft 365) is an alias.
        if segs
            .first()
            .is_some_and(|s| s.eq_ignore_ascii_case("myorganization"))
        {
            segs.remove(0);
        }
        if let Some(answer) = self.users_route(req, &segs) {
            return answer;
        }
        let Some(first) = segs.first().copied() else {
            return Err(unknown_segment("v1.0"));
        };
        let (name, pred) = split_segment(first).ok_or_else(|| unknown_segment(first))?;
        let m = req.method.as_str();
        let name = name.to_ascii_lowercase();
        match name.as_str() {
            "applications" => {
                let (key, tail) = match pred {
                    Some((k, v)) => (app_key(&k, v, first)?, &segs[1..]),
                    None if segs.len() == 1 => {
                        return match m {
                            "GET" => self.list_app_records(req, false),
                            "POST" => self.create_app(req, now),
                            _ => Err(method_not_allowed("GET, POST")),
                        };
                    }
                    None => (Key::Id(segs[1].to_string()), &segs[2..]),
                };
                match tail {
                    [] => match m {
                        "GET" => self.get_app(&key, req),
                        "PATCH" => {
                            if let Key::UniqueName(n) = &key {
                                self.upsert_app(n, req, now)
                            } else {
                                self.patch_app(&key, req, now)
                            }
                        }
                        "DELETE" => self.delete_app(&key, now),
                        _ => Err(method_not_allowed("GET, PATCH, DELETE")),
                    },
                    [action] => match action_name(action).as_str() {
                        "addpassword" if m == "POST" => self.add_password(&key, req, now),
                        "removepassword" if m == "POST" => self.remove_password(&key, req, now),
                        "addpassword" | "removepassword" => Err(method_not_allowed("POST")),
                        _ => Err(unknown_segment(action)),
                    },
                    [action, more, ..] => match action_name(action).as_str() {
                        "addpassword" | "removepassword" => Err(unknown_segment(more)),
                        _ => Err(unknown_segment(action)),
                    },
                }
            }
            "policies" if pred.is_none() => match (&segs[1..], m) {
                ([p], "GET") if p.eq_ignore_ascii_case("defaultAppManagementPolicy") => {
                    self.default_app_management_policy()
                }
                ([p], _) if p.eq_ignore_ascii_case("defaultAppManagementPolicy") => {
                    Err(method_not_allowed("GET"))
                }
                ([p, ..], _) => Err(unknown_segment(p)),
                ([], _) => Err(unknown_segment(first)),
            },
            "directory" if pred.is_none() => {
                let Some(second) = segs.get(1) else {
                    return Err(unknown_segment(first));
                };
                if !second.eq_ignore_ascii_case("deletedItems") {
                    return Err(unknown_segment(second));
                }
                match &segs[2..] {
                    // ref §1.7: the untyped list "is not supported". INFERRED status/code.
                    [] => match m {
                        "GET" => Err(GErr::new(
                            400,
                            "Request_UnsupportedQuery",
                            "Unsupported query: an untyped list of deleted items is not supported; cast to microsoft.graph.application.",
                        )),
                        _ => Err(method_not_allowed("GET")),
                    },
                    [cast] if cast.eq_ignore_ascii_case("microsoft.graph.application") => match m {
                        "GET" => self.list_app_records(req, true),
                        _ => Err(method_not_allowed("GET")),
                    },
                    [cast, ..] if cast.to_ascii_lowercase().starts_with("microsoft.graph.") => {
                        Err(unknown_segment(cast))
                    }
                    [id] => match m {
                        "GET" => self.get_deleted(id),
                        "DELETE" => self.purge_deleted(id),
                        _ => Err(method_not_allowed("GET, DELETE")),
                    },
                    [id, action] if action_name(action) == "restore" => match m {
                        "POST" => self.restore_deleted(id),
                        _ => Err(method_not_allowed("POST")),
                    },
                    [_, action, ..] => Err(unknown_segment(action)),
                }
            }
            "serviceprincipals" => {
                let (key, tail) = match pred {
                    Some((k, v)) if k.eq_ignore_ascii_case("appId") => (Key::AppId(v), &segs[1..]),
                    Some((k, v)) if k.is_empty() || k.eq_ignore_ascii_case("id") => {
                        (Key::Id(v), &segs[1..])
                    }
                    Some(_) => return Err(unknown_segment(first)),
                    None if segs.len() == 1 => {
                        return match m {
                            "GET" => self.list_sps(req),
                            "POST" => self.create_sp(req),
                            _ => Err(method_not_allowed("GET, POST")),
                        };
                    }
                    None => (Key::Id(segs[1].to_string()), &segs[2..]),
                };
                match tail {
                    [] => {}
                    [rel] if rel.eq_ignore_ascii_case("appRoleAssignedTo") => {
                        return match m {
                            "GET" => self.list_assignments(&key, false),
                            "POST" => self.assign_role(&key, req),
                            _ => Err(method_not_allowed("GET, POST")),
                        };
                    }
                    [rel] if rel.eq_ignore_ascii_case("appRoleAssignments") => {
                        return match m {
                            "GET" => self.list_assignments(&key, true),
                            _ => Err(method_not_allowed("GET")),
                        };
                    }
                    [rel, id] if rel.eq_ignore_ascii_case("appRoleAssignedTo") => {
                        return match m {
                            "DELETE" => self.delete_assignment(&key, id),
                            _ => Err(method_not_allowed("DELETE")),
                        };
                    }
                    [extra, ..] => return Err(unknown_segment(extra)),
                }
                match m {
                    "GET" => self.get_sp(&key, req),
                    "DELETE" => self.delete_sp(&key),
                    _ => Err(method_not_allowed("GET, DELETE")),
                }
            }
            "oauth2permissiongrants" if pred.is_none() => match &segs[1..] {
                [] => match m {
                    "GET" => self.list_grants(req),
                    "POST" => self.create_grant(req),
                    _ => Err(method_not_allowed("GET, POST")),
                },
                [id] => match m {
                    "GET" => self.get_grant(id, req),
                    "PATCH" => self.patch_grant(id, req),
                    "DELETE" => self.delete_grant(id),
                    _ => Err(method_not_allowed("GET, PATCH, DELETE")),
                },
                [_, more, ..] => Err(unknown_segment(more)),
            },
            _ => Err(unknown_segment(first)),
        }
    }
}

/// `addPassword`, `microsoft.graph.addPassword` → `addpassword`.
pub(super) fn action_name(seg: &str) -> String {
    let lower = seg.to_ascii_lowercase();
    lower
        .strip_prefix("microsoft.graph.")
        .map(str::to_string)
        .unwrap_or(lower)
}

pub(super) fn app_key(k: &str, v: String, seg: &str) -> Result<Key, GErr> {
    if k.is_empty() || k.eq_ignore_ascii_case("id") {
        Ok(Key::Id(v))
    } else if k.eq_ignore_ascii_case("appId") {
        Ok(Key::AppId(v))
    } else if k.eq_ignore_ascii_case("uniqueName") {
        Ok(Key::UniqueName(v))
    } else {
        Err(unknown_segment(seg))
    }
}

/// `name(key='value')`, `name('value')` or `name` → (name, predicate).
pub(super) fn split_segment(seg: &str) -> Option<(&str, Option<(String, String)>)> {
    let Some(open) = seg.find('(') else {
        return Some((seg, None));
    };
    let name = &seg[..open];
    let inner = seg[open + 1..].strip_suffix(')')?;
    let (k, v) = match inner.split_once('=') {
        Some((k, v)) if !k.trim_start().starts_with('\'') => (k.trim().to_string(), v.trim()),
        _ => (String::new(), inner.trim()),
    };
    let (value, rest) = parse_literal(v)?;
    if !rest.trim().is_empty() {
        return None;
    }
    Some((name, Some((k, value))))
}

/// An OData string literal at the start of `s` (`''` escapes a quote) → (value, rest).
pub(super) fn parse_literal(s: &str) -> Option<(String, &str)> {
    let s = s.strip_prefix('\'')?;
    let mut out = String::new();
    let mut chars = s.char_indices().peekable();
    while let Some((i, c)) = chars.next() {
        if c == '\'' {
            if chars.peek().is_some_and(|(_, n)| *n == '\'') {
                chars.next();
                out.push('\'');
            } else {
                return Some((out, &s[i + 1..]));
            }
        } else {
            out.push(c);
        }
    }
    None
}

pub(super) fn is_guid(v: &str) -> bool {
    uuid::Uuid::parse_str(v).is_ok()
}

pub(super) fn is_personal_audience(aud: &str) -> bool {
    aud == "AzureADandPersonalMicrosoftAccount" || aud == "PersonalMicrosoftAccount"
}

pub(super) fn is_personal(app: &Map<String, Value>) -> bool {
    app.get("signInAudience")
        .and_then(Value::as_str)
        .is_some_and(is_personal_audience)
}
