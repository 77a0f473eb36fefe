//! The device authorization grant (RFC 8628) as Entra serves it: `POST
//! /{tenant}/oauth2/v2.0/devicecode` hands out a user code and a device code, the token
//! endpoint's device-code grant answers `authorization_pending` until someone has signed in, and
//! the emulator's own `/devicelogin` page (its `verification_uri`) is where a person enters the
//! code. This is what `mailreg verify --device-code` needs to run offline.
//!
//! A rehearsal needs nobody at that page: the *rehearsal mailbox* (the directory's first user
//! who may sign in, the one `mailreg emulator` seeds) signs in by itself while the first poll is
//! answered `authorization_pending`, as a person would be typing the code then, so the next poll
//! gets the tokens: the same tokens as the code flow's ([`super::signin`]), refresh token
//! included. Before that first poll, a person (or a test) may sign in as another user of the
//! directory or decline at `/devicelogin?otc=<user code>&login_hint=<user>` (`&decline=1`).
//!
//! The polls are timed in real time, as Entra times them: a client polling before `interval`
//! has passed gets `slow_down`, and the code's interval grows by 5 s (RFC 8628 §3.5).
//!
//! Shapes: the device authorization response (`user_code`, `device_code`, `verification_uri`,
//! `expires_in` 900, `interval` 5, `message`), AADSTS70016 (pending) and AADSTS70020 (expired)
//! in the token endpoint's JSON error, as Entra sends them. INFERRED: `slow_down` (Entra is not
//! known to send it; here it is RFC 8628's error with AADSTS70016's fields), the AADSTS codes of
//! `authorization_declined` (65004) and `bad_verification_code` (70000), the user code's
//! alphabet, and the HTML of `/devicelogin`.

use std::collections::HashMap;

use serde_json::{Value, json};
use time::{Duration, OffsetDateTime};

use super::GraphState;
use super::signin::Grant;
use crate::wire::{EmuRequest, EmuResponse};

/// The grant type of a device-code poll at the token endpoint.
pub(super) const GRANT_TYPE: &str = "urn:ietf:params:oauth:grant-type:device_code";
/// The emulator's verification page (Entra's is `https://microsoft.com/devicelogin`).
pub(super) const DEVICELOGIN_PATH: &str = "/devicelogin";
/// Entra's device codes live 15 minutes and are polled every 5 seconds.
const DEVICE_LIFE: Duration = Duration::minutes(15);
const DEFAULT_INTERVAL: Duration = Duration::seconds(5);
/// What `slow_down` adds to the interval (RFC 8628 §3.5).
const SLOW_DOWN_STEP: Duration = Duration::seconds(5);
/// Slack for timers and clocks: a poll this much early still counts as on time.
const POLL_GRACE: Duration = Duration::milliseconds(50);
/// User codes: nine capitals, as Entra's (`BPPVYQZMA`).
const USER_CODE_ALPHABET: &[u8] = b"ABCDEFGHJKLMNPQRSTUVWXYZ";

/// The device codes handed out, by device code.
pub(super) struct Devices {
    interval: Duration,
    codes: HashMap<String, Device>,
}

impl Default for Devices {
    fn default() -> Self {
        Devices {
            interval: DEFAULT_INTERVAL,
            codes: HashMap::new(),
        }
    }
}

struct Device {
    user_code: String,
    app_id: String,
    scopes: Vec<String>,
    expires_at: OffsetDateTime,
    /// The interval this code is polled at: the announced one, plus every `slow_down`'s step.
    interval: Duration,
    /// When the code was handed out or last polled: the next poll is due `interval` later.
    last: OffsetDateTime,
    polled: bool,
    outcome: Option<Outcome>,
}

enum Outcome {
    SignedIn(String),
    Declined,
}

/// (status, error, AADSTS code, text): the token endpoint's error, as `user_grant` returns it.
type GrantError = (u16, &'static str, u32, String);

/// `/{tenant}/oauth2/v2.0/devicecode` → tenant.
pub(super) fn devicecode_path_tenant(path: &str) -> Option<String> {
    let segs: Vec<&str> = path.trim_matches('/').split('/').collect();
    match segs.as_slice() {
        [tenant, a, b, c]
            if !tenant.is_empty()
                && a.eq_ignore_ascii_case("oauth2")
                && b.eq_ignore_ascii_case("v2.0")
                && c.eq_ignore_ascii_case("devicecode") =>
        {
            Some((*tenant).to_string())
        }
        _ => None,
    }
}

/// `text` as HTML text: the page shows names that came in with the request.
fn html(text: &str) -> String {
    text.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}

fn page(status: u16, title: &str, text: &str) -> EmuResponse {
    EmuResponse {
        status,
        headers: vec![("content-type".into(), "text/html; charset=utf-8".into())],
        body: format!("<html><body><h1>{title}</h1><p>{text}</p></body></html>").into_bytes(),
    }
}

impl GraphState {
    /// The interval the device endpoint announces (Entra: 5 s); tests shorten it.
    pub fn set_device_code_interval(&mut self, secs: u32) {
        self.devices.interval = Duration::seconds(i64::from(secs.max(1)));
    }

    fn known_tenant(&self, tenant: &str) -> bool {
        tenant.eq_ignore_ascii_case(&self.config.tenant_id)
            || tenant.eq_ignore_ascii_case(&self.config.tenant_domain)
            || tenant.eq_ignore_ascii_case("common")
            || tenant.eq_ignore_ascii_case("organizations")
    }

    /// The identity platform's JSON error for a device-code answer.
    fn aad_answer(&mut self, req: &EmuRequest, now: OffsetDateTime, e: GrantError) -> EmuResponse {
        let trace_id = self.uuid();
        let correlation_id = match req.header("client-request-id") {
            Some(c) => c.to_string(),
            None => self.uuid(),
        };
        super::token::aad_error(e, &trace_id, &correlation_id, now)
    }

    /// `POST /{tenant}/oauth2/v2.0/devicecode` (form `client_id`, `scope`).
    pub(super) fn devicecode(
        &mut self,
        req: &EmuRequest,
        tenant: &str,
        now: OffsetDateTime,
    ) -> EmuResponse {
        match self.new_device_code(req, tenant, now) {
            Ok(body) => EmuResponse::json(200, &body)
                .with_header("cache-control", "no-store, no-cache")
                .with_header("pragma", "no-cache"),
            Err(e) => self.aad_answer(req, now, e),
        }
    }

    fn new_device_code(
        &mut self,
        req: &EmuRequest,
        tenant: &str,
        now: OffsetDateTime,
    ) -> Result<Value, GrantError> {
        if req.method != "POST" {
            return Err((
                400,
                "invalid_request",
                900561,
                format!(
                    "The endpoint only accepts POST, OPTIONS requests. Received a {} request.",
                    req.method
                ),
            ));
        }
        if !self.known_tenant(tenant) {
            return Err((
                400,
                "invalid_request",
                90002,
                format!(
                    "Tenant '{tenant}' not found. Check to make sure you have the correct tenant ID and are signing into the correct cloud."
                ),
            ));
        }
        let form = req.form();
        let field = |name: &str| {
            form.iter()
                .find(|(k, _)| k == name)
                .map(|(_, v)| v.clone())
                .filter(|v| !v.is_empty())
        };
        let missing = |p: &str| {
            (
                400,
                "invalid_request",
                900144,
                format!("The request body must contain the following parameter: '{p}'."),
            )
        };
        let client_id = field("client_id").ok_or_else(|| missing("client_id"))?;
        let scope = field("scope").ok_or_else(|| missing("scope"))?;
        if self.app_by_app_id(&client_id).is_none() {
            return Err((
                400,
                "unauthorized_client",
                700016,
                format!(
                    "Application with identifier '{client_id}' was not found in the directory '{tenant}'."
                ),
            ));
        }
        let user_code: String = (0..9)
            .map(|_| USER_CODE_ALPHABET[self.rng.usize(..USER_CODE_ALPHABET.len())] as char)
            .collect();
        let device_code = format!("DAQABAAEAAA{}{}", self.secret_text(), self.secret_text());
        let interval = self.devices.interval;
        self.devices.codes.insert(
            device_code.clone(),
            Device {
                user_code: user_code.clone(),
                app_id: client_id,
                scopes: scope.split_whitespace().map(str::to_owned).collect(),
                expires_at: now + DEVICE_LIFE,
                interval,
                last: now,
                polled: false,
                outcome: None,
            },
        );
        let uri = format!("{}{DEVICELOGIN_PATH}", self.base());
        Ok(json!({
            "user_code": user_code,
            "device_code": device_code,
            "verification_uri": uri,
            "expires_in": DEVICE_LIFE.whole_seconds(),
            "interval": interval.whole_seconds(),
            "message": format!(
                "To sign in, use a web browser to open the page {uri} and enter the code {user_code} to authenticate."
            ),
        }))
    }

    /// A poll of the token endpoint with the device-code grant: the tokens once someone signed
    /// in, or the RFC 8628 error that says why not (see the module doc).
    pub(super) fn device_grant(
        &mut self,
        field: &dyn Fn(&str) -> Option<String>,
        basic: Option<&(String, String)>,
        now: OffsetDateTime,
    ) -> Result<Value, GrantError> {
        let client_id = field("client_id")
            .or_else(|| basic.map(|b| b.0.clone()))
            .unwrap_or_default();
        let secret = field("client_secret").or_else(|| basic.map(|b| b.1.clone()));
        let Some(app) = self.app_by_app_id(&client_id) else {
            return Err((
                400,
                "unauthorized_client",
                700016,
                format!(
                    "Application with identifier '{client_id}' was not found in the directory."
                ),
            ));
        };
        // A web (confidential) app authenticates; a public client flow needs no secret.
        let public = app["isFallbackPublicClient"] == json!(true);
        match secret.as_deref() {
            None if !public => {
                return Err((
                    401,
                    "invalid_client",
                    7000218,
                    "The request body must contain the following parameter: 'client_assertion' or 'client_secret'.".into(),
                ));
            }
            Some(s) if !self.secret_valid(&client_id, Some(s)) => {
                return Err((
                    401,
                    "invalid_client",
                    7000215,
                    "Invalid client secret provided. Ensure the secret being sent in the request is the client secret value, not the client secret ID.".into(),
                ));
            }
            _ => {}
        }
        let Some(code) = field("device_code") else {
            return Err((
                400,
                "invalid_request",
                900144,
                "The request body must contain the following parameter: 'device_code'.".into(),
            ));
        };
        let rehearsal = self.rehearsal_user();
        let device = match self.devices.codes.get_mut(&code) {
            Some(d) if d.app_id.eq_ignore_ascii_case(&client_id) => d,
            _ => {
                return Err((
                    400,
                    "bad_verification_code",
                    70000,
                    "The provided value for the input parameter 'device_code' is not valid.".into(),
                ));
            }
        };
        if now >= device.expires_at {
            self.devices.codes.remove(&code);
            return Err((
                400,
                "expired_token",
                70020,
                "The provided value for the input parameter 'device_code' is not valid. This device code has expired.".into(),
            ));
        }
        if matches!(device.outcome, Some(Outcome::Declined)) {
            self.devices.codes.remove(&code);
            return Err((
                400,
                "authorization_declined",
                65004,
                "User declined to consent to access the app.".into(),
            ));
        }
        if now + POLL_GRACE < device.last + device.interval {
            device.interval += SLOW_DOWN_STEP;
            device.last = now;
            return Err((
                400,
                "slow_down",
                70016,
                format!(
                    "OAuth 2.0 device flow error. Polling too often: wait {} seconds between requests.",
                    device.interval.whole_seconds()
                ),
            ));
        }
        device.last = now;
        if let Some(Outcome::SignedIn(user)) = &device.outcome {
            let grant = Grant {
                app_id: device.app_id.clone(),
                user: user.clone(),
                scopes: device.scopes.clone(),
            };
            self.devices.codes.remove(&code);
            return Ok(self.issue(grant, now));
        }
        if !device.polled {
            // The rehearsal mailbox signs in now, while this answer still says pending.
            device.polled = true;
            device.outcome = rehearsal.map(Outcome::SignedIn);
        }
        Err((
            400,
            "authorization_pending",
            70016,
            "OAuth 2.0 device flow error. Authorization is pending. Continue polling.".into(),
        ))
    }

    /// `/devicelogin`: the page where the code is entered. Without `otc` it asks for the code;
    /// with it (and `login_hint`, or the rehearsal mailbox) it signs in, or declines with
    /// `decline=1`. Query or form parameters, so a browser's form works too.
    pub(super) fn devicelogin(&mut self, req: &EmuRequest, now: OffsetDateTime) -> EmuResponse {
        let params = if req.method == "POST" {
            req.form()
        } else {
            req.query.clone()
        };
        let p = |k: &str| {
            params
                .iter()
                .find(|(n, _)| n == k)
                .map(|(_, v)| v.trim().to_owned())
                .unwrap_or_default()
        };
        let otc = p("otc");
        if otc.is_empty() {
            return page(
                200,
                "Enter code",
                "Enter the code displayed on your app or device. <form method=\"post\"><input name=\"otc\" placeholder=\"Code\"> <input name=\"login_hint\" placeholder=\"Sign-in name\"> <button>Next</button></form>",
            );
        }
        let hint = p("login_hint");
        let user = if hint.is_empty() {
            self.rehearsal_user()
        } else {
            self.has_user(&hint).then_some(hint.clone())
        };
        let Some(device) = self.devices.codes.values_mut().find(|d| {
            d.user_code.eq_ignore_ascii_case(&otc) && d.outcome.is_none() && now < d.expires_at
        }) else {
            return page(
                400,
                "Sign in",
                "AADSTS70000: The code you entered has expired or is not valid. Get a new code from the app and try again.",
            );
        };
        if p("decline") == "1" {
            device.outcome = Some(Outcome::Declined);
            return page(
                200,
                "Sign in",
                "You declined to sign in to the application on your device. You may now close this window.",
            );
        }
        let Some(user) = user else {
            return page(
                400,
                "Sign in",
                &format!(
                    "AADSTS50034: The user account {} does not exist in the directory.",
                    html(&hint)
                ),
            );
        };
        device.outcome = Some(Outcome::SignedIn(user.clone()));
        let app_id = device.app_id.clone();
        let name = self
            .app_by_app_id(&app_id)
            .and_then(|a| a["displayName"].as_str().map(str::to_owned))
            .unwrap_or(app_id);
        page(
            200,
            "Sign in",
            &format!(
                "{} signed in to the {} application on your device. You may now close this window.",
                html(&user),
                html(&name)
            ),
        )
    }
}

#[cfg(test)]
mod tests {
    use time::macros::datetime;

    use super::super::{GraphConfig, UserSeed};
    use super::*;

    const T0: OffsetDateTime = datetime!(2025-03-01 12:00:00 UTC);
    const USER: &str = "mailbox@contoso.onmicrosoft.com";
    const APP: &str = "0c6a1f2e-0000-4000-8000-00000000a991";
    const SECRET: &str = "device-test-secret";
    const SCOPES: &str = "https://outlook.office.com/IMAP.AccessAsUser.All offline_access";

    fn form(path: &str, pairs: &[(&str, &str)]) -> EmuRequest {
        EmuRequest {
            method: "POST".into(),
            path: path.into(),
            body: url::form_urlencoded::Serializer::new(String::new())
                .extend_pairs(pairs)
                .finish()
                .into_bytes(),
            ..Default::default()
        }
    }

    /// A directory with the rehearsal mailbox and one web app with a secret.
    fn directory() -> GraphState {
        let mut st = GraphState::new(GraphConfig::default());
        st.add_user(UserSeed {
            upn: USER.into(),
            account_enabled: true,
            licences: vec![],
        });
        st.insert_application(
            json!({"appId": APP, "displayName": "AgileApps mailbox",
                "passwordCredentials": [{"keyId": "k1", "displayName": "s"}]}),
            T0,
        );
        st.remember_secret(APP, "k1", SECRET);
        st
    }

    fn start(st: &mut GraphState) -> Value {
        let r = st
            .handle(
                &form(
                    "/common/oauth2/v2.0/devicecode",
                    &[("client_id", APP), ("scope", SCOPES)],
                ),
                T0,
            )
            .unwrap();
        assert_eq!(r.status, 200, "{r}");
        r.body_json().unwrap()
    }

    fn poll(st: &mut GraphState, device_code: &str, at: OffsetDateTime) -> (u16, Value) {
        let r = st
            .handle(
                &form(
                    "/common/oauth2/v2.0/token",
                    &[
                        ("grant_type", GRANT_TYPE),
                        ("client_id", APP),
                        ("client_secret", SECRET),
                        ("device_code", device_code),
                    ],
                ),
                at,
            )
            .unwrap();
        (r.status, r.body_json().unwrap())
    }

    fn error_of(answer: &(u16, Value)) -> (u16, String, Value) {
        (
            answer.0,
            answer.1["error"].as_str().unwrap_or_default().to_owned(),
            answer.1["error_codes"].clone(),
        )
    }

    #[test]
    fn the_device_endpoint_answers_as_entra() {
        let mut st = directory();
        let d = start(&mut st);
        let mut keys: Vec<&str> = d.as_object().unwrap().keys().map(String::as_str).collect();
        keys.sort_unstable();
        assert_eq!(
            keys,
            [
                "device_code",
                "expires_in",
                "interval",
                "message",
                "user_code",
                "verification_uri"
            ]
        );
        let code = d["user_code"].as_str().unwrap();
        assert_eq!(code.len(), 9);
        assert!(code.bytes().all(|b| b.is_ascii_uppercase()), "{code}");
        assert_eq!(
            d["verification_uri"],
            "https://graph.microsoft.com/devicelogin"
        );
        assert_eq!(
            (d["expires_in"].as_i64(), d["interval"].as_i64()),
            (Some(900), Some(5))
        );
        assert_eq!(
            d["message"],
            format!(
                "To sign in, use a web browser to open the page https://graph.microsoft.com/devicelogin and enter the code {code} to authenticate."
            )
        );
        // Entra's errors: an unknown app, a missing scope, a GET.
        let r = st
            .handle(
                &form(
                    "/common/oauth2/v2.0/devicecode",
                    &[("client_id", "nope"), ("scope", SCOPES)],
                ),
                T0,
            )
            .unwrap();
        let b = r.body_json().unwrap();
        assert_eq!(
            (r.status, b["error"].clone(), b["error_codes"].clone()),
            (400, json!("unauthorized_client"), json!([700016]))
        );
        let r = st
            .handle(
                &form("/common/oauth2/v2.0/devicecode", &[("client_id", APP)]),
                T0,
            )
            .unwrap();
        assert!(r.body_json().unwrap()["error_description"]
            .as_str()
            .unwrap()
            .starts_with("AADSTS900144: The request body must contain the following parameter: 'scope'.\r\nTrace ID: "));
        let mut get = form("/common/oauth2/v2.0/devicecode", &[]);
        get.method = "GET".into();
        assert_eq!(
            st.handle(&get, T0).unwrap().body_json().unwrap()["error_codes"],
            json!([900561])
        );
    }

    #[test]
    fn the_rehearsal_mailbox_signs_in_after_the_first_pending_poll() {
        let mut st = directory();
        let d = start(&mut st);
        let dc = d["device_code"].as_str().unwrap();
        let first = poll(&mut st, dc, T0 + Duration::seconds(5));
        assert_eq!(
            error_of(&first),
            (400, "authorization_pending".into(), json!([70016]))
        );
        let desc = first.1["error_description"].as_str().unwrap();
        assert!(
            desc.starts_with("AADSTS70016: OAuth 2.0 device flow error. Authorization is pending. Continue polling.\r\nTrace ID: "),
            "{desc}"
        );
        let mut fields: Vec<&str> = first
            .1
            .as_object()
            .unwrap()
            .keys()
            .map(String::as_str)
            .collect();
        fields.sort_unstable();
        assert_eq!(
            fields,
            [
                "correlation_id",
                "error",
                "error_codes",
                "error_description",
                "error_uri",
                "timestamp",
                "trace_id"
            ]
        );
        let (status, tokens) = poll(&mut st, dc, T0 + Duration::seconds(10));
        assert_eq!(status, 200, "{tokens}");
        assert_eq!(tokens["scope"], SCOPES);
        assert!(
            tokens["refresh_token"]
                .as_str()
                .unwrap()
                .starts_with("0.emu-refresh.")
        );
        // The code-flow's token: the mail responder knows whose it is.
        let access = tokens["access_token"].as_str().unwrap();
        let t = st.mail_token(access, T0 + Duration::seconds(11)).unwrap();
        assert_eq!((t.user.as_str(), t.app_id.as_str()), (USER, APP));
        assert_eq!(t.scopes, ["IMAP.AccessAsUser.All"]);
        // A device code is redeemed once.
        assert_eq!(
            error_of(&poll(&mut st, dc, T0 + Duration::seconds(20))),
            (400, "bad_verification_code".into(), json!([70000]))
        );
    }

    #[test]
    fn polling_too_fast_slows_down_and_an_old_code_expires() {
        let mut st = directory();
        let dc = start(&mut st)["device_code"].as_str().unwrap().to_owned();
        let fast = poll(&mut st, &dc, T0 + Duration::seconds(1));
        assert_eq!(error_of(&fast), (400, "slow_down".into(), json!([70016])));
        assert!(
            fast.1["error_description"]
                .as_str()
                .unwrap()
                .contains("wait 10 seconds")
        );
        // The interval is 10 s now: 6 s later is still too fast.
        assert_eq!(
            error_of(&poll(&mut st, &dc, T0 + Duration::seconds(7))).1,
            "slow_down"
        );
        assert_eq!(
            error_of(&poll(&mut st, &dc, T0 + Duration::seconds(22))).1,
            "authorization_pending"
        );
        let late = poll(&mut st, &dc, T0 + Duration::minutes(16));
        assert_eq!(
            error_of(&late),
            (400, "expired_token".into(), json!([70020]))
        );
    }

    #[test]
    fn the_device_page_signs_in_another_user_or_declines() {
        let mut st = directory();
        st.add_user(UserSeed {
            upn: "other@contoso.onmicrosoft.com".into(),
            account_enabled: true,
            licences: vec![],
        });
        let page_for = |st: &mut GraphState, query: &[(&str, &str)]| {
            let req = EmuRequest {
                method: "GET".into(),
                path: DEVICELOGIN_PATH.into(),
                query: query
                    .iter()
                    .map(|(k, v)| (k.to_string(), v.to_string()))
                    .collect(),
                ..Default::default()
            };
            let r = st.handle(&req, T0 + Duration::seconds(1)).unwrap();
            (r.status, String::from_utf8(r.body).unwrap())
        };
        assert_eq!(page_for(&mut st, &[]).0, 200);
        let d = start(&mut st);
        let (dc, uc) = (
            d["device_code"].as_str().unwrap(),
            d["user_code"].as_str().unwrap(),
        );
        let (status, html) = page_for(&mut st, &[("otc", uc), ("login_hint", "<b>nobody</b>")]);
        assert_eq!(status, 400);
        assert!(
            html.contains("AADSTS50034: The user account &lt;b&gt;nobody&lt;/b&gt; does not exist"),
            "{html}"
        );
        let (status, html) = page_for(
            &mut st,
            &[("otc", uc), ("login_hint", "other@contoso.onmicrosoft.com")],
        );
        assert_eq!(status, 200);
        assert!(
            html.contains(
                "other@contoso.onmicrosoft.com signed in to the AgileApps mailbox application"
            ),
            "{html}"
        );
        let (status, tokens) = poll(&mut st, dc, T0 + Duration::seconds(5));
        assert_eq!(status, 200, "{tokens}");
        let t = st
            .mail_token(tokens["access_token"].as_str().unwrap(), T0)
            .unwrap();
        assert_eq!(t.user, "other@contoso.onmicrosoft.com");

        let d = start(&mut st);
        let (dc, uc) = (
            d["device_code"].as_str().unwrap(),
            d["user_code"].as_str().unwrap(),
        );
        assert_eq!(page_for(&mut st, &[("otc", uc), ("decline", "1")]).0, 200);
        assert_eq!(
            error_of(&poll(&mut st, dc, T0 + Duration::seconds(5))),
            (400, "authorization_declined".into(), json!([65004]))
        );
        // The code is spent, and a code nobody handed out is refused at the page.
        assert_eq!(page_for(&mut st, &[("otc", uc)]).0, 400);
    }

    #[test]
    fn a_web_app_polls_with_its_secret() {
        let mut st = directory();
        let dc = start(&mut st)["device_code"].as_str().unwrap().to_owned();
        let without = |st: &mut GraphState, secret: Option<&str>| {
            let mut pairs = vec![
                ("grant_type", GRANT_TYPE),
                ("client_id", APP),
                ("device_code", dc.as_str()),
            ];
            if let Some(s) = secret {
                pairs.push(("client_secret", s));
            }
            let r = st
                .handle(
                    &form("/common/oauth2/v2.0/token", &pairs),
                    T0 + Duration::seconds(5),
                )
                .unwrap();
            let b = r.body_json().unwrap();
            (r.status, b["error"].clone(), b["error_codes"].clone())
        };
        assert_eq!(
            without(&mut st, None),
            (401, json!("invalid_client"), json!([7000218]))
        );
        assert_eq!(
            without(&mut st, Some("wrong")),
            (401, json!("invalid_client"), json!([7000215]))
        );
    }
}
