//! The IAM query API and STS GetCallerIdentity, on the S3 endpoint.
//!
//! Requests signed for service `iam` or `sts` (the credential scope says which; the server
//! routes on it) come here. [`IamApi::handle`] reads the form body whole up to
//! [`wire::MAX_FORM_LEN`], verifies SigV4 over the real body hash before anything reads the
//! body, parses the typed request ([`wire`]), authorizes it (`iam:<Action>` on the user or
//! policy ARN it names, decided by the caller's identity policies; an account root may do
//! everything in its account), runs it against [`Iam`] and renders AWS's XML. A change is
//! acknowledged only once it is durable, and every change and every denial is an audit line.
//! `GetCallerIdentity` needs no permission, as in AWS.
//!
//! Secrets: a new secret access key appears once, in the CreateAccessKey answer; it is in no
//! log line, audit line or error message.

pub mod wire;

use std::sync::Arc;
use std::time::Duration;

use http::{HeaderValue, Request, Response};
use http_body_util::BodyExt;
use hyper::body::Incoming;
use sha2::{Digest, Sha256};

use crate::api::auth::{self, AuthError, AuthRequest};
use crate::clock::SharedClock;
use crate::iam::policy::{self, Context};
use crate::iam::{Iam, IamError, Principal, PrincipalKind, policy_arn, user_arn};
use crate::kms::Kms;
use crate::transport::body::{self, ResBody};
use wire::{ErrorCode, IamRequest, IamResponse, Service, StsRequest, Truncation, WireError};

/// The IAM and STS front end: shared by every connection.
pub struct IamApi {
    pub iam: Arc<Iam>,
    /// For its audit log.
    pub kms: Arc<Kms>,
    pub region: String,
    pub clock: SharedClock,
    /// Longest stall allowed between two pieces of a request body.
    pub body_read_timeout: Duration,
}

/// What the request log line says about an IAM or STS request.
#[derive(Debug, Default)]
pub struct IamRequestInfo {
    pub service: &'static str,
    pub operation: &'static str,
    pub access_key: Option<String>,
    pub error: Option<&'static str>,
}

impl IamApi {
    pub async fn handle(
        &self,
        req: Request<Incoming>,
        request_id: &str,
    ) -> (Response<ResBody>, IamRequestInfo) {
        let service = match auth::signing_service(req.headers(), req.uri()) {
            Some("sts") => Service::Sts,
            _ => Service::Iam,
        };
        let mut info = IamRequestInfo {
            service: service.signing_name(),
            operation: "Unknown",
            ..Default::default()
        };
        let (status, text) = match self.handle_inner(req, service, request_id, &mut info).await {
            Ok(xml) => (http::StatusCode::OK, xml),
            Err(e) => {
                info.error = Some(e.code().as_str());
                if e.code() == ErrorCode::ServiceFailure {
                    tracing::error!(request_id, error = e.message(), "IAM failure");
                }
                let status = http::StatusCode::from_u16(e.status())
                    .unwrap_or(http::StatusCode::INTERNAL_SERVER_ERROR);
                (status, e.render(request_id, service))
            }
        };
        let mut resp = Response::new(body::full(text));
        *resp.status_mut() = status;
        let h = resp.headers_mut();
        h.insert(
            http::header::CONTENT_TYPE,
            HeaderValue::from_static(wire::CONTENT_TYPE),
        );
        if let Ok(v) = HeaderValue::from_str(request_id) {
            h.insert("x-amzn-requestid", v);
        }
        h.insert(http::header::SERVER, HeaderValue::from_static("Coffer"));
        (resp, info)
    }

    async fn handle_inner(
        &self,
        req: Request<Incoming>,
        service: Service,
        request_id: &str,
        info: &mut IamRequestInfo,
    ) -> Result<String, WireError> {
        let (parts, incoming) = req.into_parts();
        let bytes = read_body(incoming, self.body_read_timeout).await?;
        let digest = hex::encode(Sha256::digest(&bytes));
        let verified = auth::verify_with_body_hash(
            &AuthRequest {
                method: &parts.method,
                uri: &parts.uri,
                headers: &parts.headers,
            },
            self.iam.as_ref(),
            &self.region,
            service.signing_name(),
            self.clock.now(),
            &digest,
        )
        .map_err(auth_error)?;
        info.access_key = Some(verified.access_key_id.clone());
        crate::kms::audit::set_access_key(&verified.access_key_id);
        let (_, principal) = self
            .iam
            .authenticate(&verified.access_key_id)
            .ok_or_else(WireError::invalid_client_token_id)?;
        crate::kms::audit::set_principal(principal.clone());
        let mut params = wire::parse_form(&bytes)?;
        if let Some(q) = parts.uri.query() {
            params.extend_from_form(q.as_bytes())?;
        }
        match service {
            Service::Sts => {
                let StsRequest::GetCallerIdentity = wire::parse_sts(&params)?;
                info.operation = "GetCallerIdentity";
                Ok(wire::render_sts(
                    &wire::StsResponse::GetCallerIdentity(wire::CallerIdentity {
                        arn: &principal.arn,
                        user_id: &principal.user_id,
                        account: &principal.account,
                    }),
                    request_id,
                ))
            }
            Service::Iam => {
                let request = wire::parse_iam(&params)?;
                let action = request.action();
                info.operation = action.as_str();
                let mutating = is_mutating(&request);
                let r = self.run(&principal, request, request_id).await;
                if mutating
                    || r.as_ref()
                        .is_err_and(|e| e.code() == ErrorCode::AccessDenied)
                {
                    self.audit(action.as_str(), &params, r.as_ref().err());
                }
                r
            }
        }
    }

    /// One audit line for an IAM call: names and ids only.
    fn audit(&self, action: &str, params: &wire::Params, error: Option<&WireError>) {
        let Some(log) = self.kms.audit_log() else {
            return;
        };
        let mut rp = serde_json::Map::new();
        for (name, key) in [
            ("UserName", "userName"),
            ("PolicyName", "policyName"),
            ("PolicyArn", "policyArn"),
            ("AccessKeyId", "accessKeyId"),
            ("Status", "status"),
            ("Path", "path"),
        ] {
            if let Some(v) = params.get(name) {
                rp.insert(key.into(), v.into());
            }
        }
        log.record(
            self.clock.now(),
            &self.region,
            &crate::kms::audit::Event {
                event_source: "iam.amazonaws.com",
                event_name: action,
                invoked_by: None,
                resources: Vec::new(),
                request_parameters: crate::kms::audit::Params::Json(serde_json::Value::Object(rp)),
                error_code: error.map(|e| e.code().as_str()),
                error_message: error.map(WireError::message),
                recipient_account_id: None,
                service_event: false,
            },
        );
    }

    /// Authorizes and runs one IAM request.
    async fn run(
        &self,
        p: &Principal,
        request: IamRequest,
        request_id: &str,
    ) -> Result<String, WireError> {
        let account = p.account.as_str();
        let iam = &self.iam;
        let action = format!("iam:{}", request.action().as_str());
        let user_resource = |name: &str| {
            let path = iam
                .get_user(account, name)
                .map(|u| u.path)
                .unwrap_or_else(|_| "/".into());
            user_arn(account, &path, name)
        };
        // The user a key operation is about: the one named, or the caller itself.
        let key_owner = |named: &Option<wire::UserName>| -> Option<String> {
            match named {
                Some(n) => Some(n.as_str().to_string()),
                None => p.user_name.clone(),
            }
        };
        let resource = match &request {
            IamRequest::CreateUser(r) => user_arn(account, r.path.as_str(), r.user_name.as_str()),
            IamRequest::GetUser(r) => match &r.user_name {
                Some(n) => user_resource(n.as_str()),
                None => p.arn.clone(),
            },
            IamRequest::DeleteUser(r) => user_resource(r.user_name.as_str()),
            IamRequest::PutUserPolicy(r) => user_resource(r.user_name.as_str()),
            IamRequest::GetUserPolicy(r) => user_resource(r.user_name.as_str()),
            IamRequest::ListUserPolicies(r) => user_resource(r.user_name.as_str()),
            IamRequest::DeleteUserPolicy(r) => user_resource(r.user_name.as_str()),
            IamRequest::AttachUserPolicy(r) => user_resource(r.user_name.as_str()),
            IamRequest::DetachUserPolicy(r) => user_resource(r.user_name.as_str()),
            IamRequest::ListAttachedUserPolicies(r) => user_resource(r.user_name.as_str()),
            IamRequest::CreateAccessKey(r) => {
                key_owner(&r.user_name).map_or_else(|| p.arn.clone(), |u| user_resource(&u))
            }
            IamRequest::ListAccessKeys(r) => {
                key_owner(&r.user_name).map_or_else(|| p.arn.clone(), |u| user_resource(&u))
            }
            IamRequest::UpdateAccessKey(r) => {
                key_owner(&r.user_name).map_or_else(|| p.arn.clone(), |u| user_resource(&u))
            }
            IamRequest::DeleteAccessKey(r) => {
                key_owner(&r.user_name).map_or_else(|| p.arn.clone(), |u| user_resource(&u))
            }
            IamRequest::CreatePolicy(r) => {
                policy_arn(account, r.path.as_str(), r.policy_name.as_str())
            }
            IamRequest::GetPolicy(r) => r.policy_arn.as_str().to_string(),
            IamRequest::GetPolicyVersion(r) => r.policy_arn.as_str().to_string(),
            IamRequest::DeletePolicy(r) => r.policy_arn.as_str().to_string(),
            IamRequest::ListUsers(_) | IamRequest::ListPolicies(_) => "*".to_string(),
        };
        self.authorize(p, &action, &resource)?;
        let ts = |ms: u64| wire::Timestamp::from_unix(i64::try_from(ms / 1000).unwrap_or(0));
        let out = match request {
            IamRequest::CreateUser(r) => {
                let tags = r
                    .tags
                    .iter()
                    .map(|t| (t.key.as_str().to_string(), t.value.as_str().to_string()))
                    .collect();
                let u = iam
                    .create_user(account, r.user_name.as_str(), r.path.as_str(), tags)
                    .map_err(store_error)?;
                iam.flush().await.map_err(store_error)?;
                wire::render(&IamResponse::CreateUser(user_view(&u, &ts)), request_id)
            }
            IamRequest::GetUser(r) => match r.user_name {
                Some(n) => {
                    let u = iam.get_user(account, n.as_str()).map_err(store_error)?;
                    wire::render(&IamResponse::GetUser(user_view(&u, &ts)), request_id)
                }
                None => {
                    let me = caller_as_user(iam, p)?;
                    wire::render(&IamResponse::GetUser(user_view(&me, &ts)), request_id)
                }
            },
            IamRequest::ListUsers(r) => {
                let all = iam.list_users(account, r.path_prefix.as_str());
                let (page, next) = paginate(&all, |u| &u.name, &r.pagination)?;
                let users = page.iter().map(|u| list_user_view(u, &ts)).collect();
                wire::render(
                    &IamResponse::ListUsers {
                        users,
                        truncation: truncation(next),
                    },
                    request_id,
                )
            }
            IamRequest::DeleteUser(r) => {
                iam.delete_user(account, r.user_name.as_str())
                    .map_err(store_error)?;
                iam.flush().await.map_err(store_error)?;
                wire::render(&IamResponse::DeleteUser, request_id)
            }
            IamRequest::CreateAccessKey(r) => {
                let owner = key_owner(&r.user_name);
                let (k, secret) = iam
                    .create_access_key(account, owner.as_deref())
                    .map_err(store_error)?;
                iam.flush().await.map_err(store_error)?;
                wire::render(
                    &IamResponse::CreateAccessKey(wire::AccessKey {
                        user_name: k.user_name.as_deref().unwrap_or(""),
                        access_key_id: &k.access_key_id,
                        status: wire::AccessKeyStatus::Active,
                        secret_access_key: secret.expose(),
                        create_date: ts(k.created_ms),
                    }),
                    request_id,
                )
            }
            IamRequest::ListAccessKeys(r) => {
                let owner = key_owner(&r.user_name);
                let all = iam
                    .list_access_keys(account, owner.as_deref())
                    .map_err(store_error)?;
                let (page, next) = paginate(&all, |k| &k.access_key_id, &r.pagination)?;
                let keys = page
                    .iter()
                    .map(|k| wire::AccessKeyMetadata {
                        user_name: k.user_name.as_deref().unwrap_or(""),
                        access_key_id: &k.access_key_id,
                        status: status(k.active),
                        create_date: ts(k.created_ms),
                    })
                    .collect();
                wire::render(
                    &IamResponse::ListAccessKeys {
                        keys,
                        truncation: truncation(next),
                    },
                    request_id,
                )
            }
            IamRequest::UpdateAccessKey(r) => {
                let owner = key_owner(&r.user_name);
                let active = matches!(r.status, wire::AccessKeyStatus::Active);
                iam.update_access_key(account, owner.as_deref(), r.access_key_id.as_str(), active)
                    .map_err(store_error)?;
                iam.flush().await.map_err(store_error)?;
                wire::render(&IamResponse::UpdateAccessKey, request_id)
            }
            IamRequest::DeleteAccessKey(r) => {
                let owner = key_owner(&r.user_name);
                iam.delete_access_key(account, owner.as_deref(), r.access_key_id.as_str())
                    .map_err(store_error)?;
                iam.flush().await.map_err(store_error)?;
                wire::render(&IamResponse::DeleteAccessKey, request_id)
            }
            IamRequest::PutUserPolicy(r) => {
                iam.put_user_policy(
                    account,
                    r.user_name.as_str(),
                    r.policy_name.as_str(),
                    r.policy_document.as_str(),
                )
                .map_err(store_error)?;
                iam.flush().await.map_err(store_error)?;
                wire::render(&IamResponse::PutUserPolicy, request_id)
            }
            IamRequest::GetUserPolicy(r) => {
                let doc = iam
                    .get_user_policy(account, r.user_name.as_str(), r.policy_name.as_str())
                    .map_err(store_error)?;
                wire::render(
                    &IamResponse::GetUserPolicy {
                        user_name: r.user_name.as_str(),
                        policy_name: r.policy_name.as_str(),
                        policy_document: &doc,
                    },
                    request_id,
                )
            }
            IamRequest::ListUserPolicies(r) => {
                let all = iam
                    .list_user_policies(account, r.user_name.as_str())
                    .map_err(store_error)?;
                let (page, next) = paginate(&all, |n| n, &r.pagination)?;
                wire::render(
                    &IamResponse::ListUserPolicies {
                        policy_names: page.iter().map(String::as_str).collect(),
                        truncation: truncation(next),
                    },
                    request_id,
                )
            }
            IamRequest::DeleteUserPolicy(r) => {
                iam.delete_user_policy(account, r.user_name.as_str(), r.policy_name.as_str())
                    .map_err(store_error)?;
                iam.flush().await.map_err(store_error)?;
                wire::render(&IamResponse::DeleteUserPolicy, request_id)
            }
            IamRequest::CreatePolicy(r) => {
                let tags = r
                    .tags
                    .iter()
                    .map(|t| (t.key.as_str().to_string(), t.value.as_str().to_string()))
                    .collect();
                let m = iam
                    .create_policy(
                        account,
                        r.policy_name.as_str(),
                        r.path.as_str(),
                        r.policy_document.as_str(),
                        r.description.as_ref().map_or("", |d| d.as_str()),
                        tags,
                    )
                    .map_err(store_error)?;
                iam.flush().await.map_err(store_error)?;
                wire::render(&IamResponse::CreatePolicy(policy_view(&m, &ts)), request_id)
            }
            IamRequest::GetPolicy(r) => {
                let m = iam
                    .get_policy(account, r.policy_arn.as_str())
                    .map_err(store_error)?;
                wire::render(&IamResponse::GetPolicy(policy_view(&m, &ts)), request_id)
            }
            IamRequest::GetPolicyVersion(r) => {
                let m = iam
                    .get_policy(account, r.policy_arn.as_str())
                    .map_err(store_error)?;
                // Coffer keeps one version of a managed policy: v1.
                if r.version_id.as_str() != DEFAULT_VERSION {
                    return Err(WireError::no_such_policy_version(
                        r.policy_arn.as_str(),
                        r.version_id.as_str(),
                    ));
                }
                wire::render(
                    &IamResponse::GetPolicyVersion(wire::PolicyVersion {
                        document: &m.document,
                        version_id: DEFAULT_VERSION,
                        is_default_version: true,
                        create_date: ts(m.created_ms),
                    }),
                    request_id,
                )
            }
            IamRequest::ListPolicies(r) => {
                let scope = match r.scope {
                    wire::PolicyScope::All => "All",
                    wire::PolicyScope::Aws => "AWS",
                    wire::PolicyScope::Local => "Local",
                };
                let all =
                    iam.list_policies(account, scope, r.only_attached, r.path_prefix.as_str());
                let (page, next) = paginate(&all, |m| &m.arn, &r.pagination)?;
                let policies = page.iter().map(|m| policy_view(m, &ts)).collect();
                wire::render(
                    &IamResponse::ListPolicies {
                        policies,
                        truncation: truncation(next),
                    },
                    request_id,
                )
            }
            IamRequest::DeletePolicy(r) => {
                iam.delete_policy(account, r.policy_arn.as_str())
                    .map_err(store_error)?;
                iam.flush().await.map_err(store_error)?;
                wire::render(&IamResponse::DeletePolicy, request_id)
            }
            IamRequest::AttachUserPolicy(r) => {
                iam.attach_user_policy(account, r.user_name.as_str(), r.policy_arn.as_str())
                    .map_err(store_error)?;
                iam.flush().await.map_err(store_error)?;
                wire::render(&IamResponse::AttachUserPolicy, request_id)
            }
            IamRequest::DetachUserPolicy(r) => {
                iam.detach_user_policy(account, r.user_name.as_str(), r.policy_arn.as_str())
                    .map_err(store_error)?;
                iam.flush().await.map_err(store_error)?;
                wire::render(&IamResponse::DetachUserPolicy, request_id)
            }
            IamRequest::ListAttachedUserPolicies(r) => {
                let all = iam
                    .list_attached_user_policies(account, r.user_name.as_str())
                    .map_err(store_error)?;
                let all: Vec<(String, String)> = all
                    .into_iter()
                    .filter(|(_, arn)| {
                        arn_path(arn).is_some_and(|p| p.starts_with(r.path_prefix.as_str()))
                    })
                    .collect();
                let (page, next) = paginate(&all, |(_, arn)| arn, &r.pagination)?;
                let policies = page
                    .iter()
                    .map(|(name, arn)| wire::AttachedPolicy {
                        policy_name: name,
                        policy_arn: arn,
                    })
                    .collect();
                wire::render(
                    &IamResponse::ListAttachedUserPolicies {
                        policies,
                        truncation: truncation(next),
                    },
                    request_id,
                )
            }
        };
        Ok(out)
    }

    /// Identity policies decide IAM actions; an account root may do anything in its account.
    fn authorize(&self, p: &Principal, action: &str, resource: &str) -> Result<(), WireError> {
        let mut ctx = Context::new();
        crate::iam::keys::fill_time(&mut ctx, self.clock.now());
        let who = p.as_policy();
        let req = policy::Request {
            principal: &who,
            action,
            resource,
            context: &ctx,
        };
        let identity: Vec<&policy::Policy> = p.policies.iter().collect();
        let d = policy::decide(&req, &identity, None, &p.account, policy::Service::Iam);
        if d.allowed {
            Ok(())
        } else {
            Err(WireError::access_denied(&p.arn, action, resource))
        }
    }
}

/// The one version a Coffer managed policy has.
const DEFAULT_VERSION: &str = "v1";

fn is_mutating(r: &IamRequest) -> bool {
    !matches!(
        r,
        IamRequest::GetUser(_)
            | IamRequest::ListUsers(_)
            | IamRequest::ListAccessKeys(_)
            | IamRequest::GetUserPolicy(_)
            | IamRequest::ListUserPolicies(_)
            | IamRequest::GetPolicy(_)
            | IamRequest::GetPolicyVersion(_)
            | IamRequest::ListPolicies(_)
            | IamRequest::ListAttachedUserPolicies(_)
    )
}

fn status(active: bool) -> wire::AccessKeyStatus {
    if active {
        wire::AccessKeyStatus::Active
    } else {
        wire::AccessKeyStatus::Inactive
    }
}

/// The path of a policy ARN (`arn:aws:iam::ACCOUNT:policy/PATH/NAME` -> `/PATH/`).
fn arn_path(arn: &str) -> Option<&str> {
    let rest = arn.split_once(":policy")?.1;
    let end = rest.rfind('/')?;
    rest.get(..=end)
}

fn truncation(next: Option<&str>) -> Truncation<'_> {
    match next {
        Some(marker) => Truncation::Truncated { marker },
        None => Truncation::Complete,
    }
}

/// One page of `items` (sorted by `key`) after the marker, and the marker of the next page.
/// The marker is the key of the first item not returned.
fn paginate<'a, T>(
    items: &'a [T],
    key: impl Fn(&'a T) -> &'a str,
    p: &wire::Pagination,
) -> Result<(&'a [T], Option<&'a str>), WireError> {
    let start = match &p.marker {
        Some(m) => items
            .iter()
            .position(|i| key(i) >= m.as_str())
            .unwrap_or(items.len()),
        None => 0,
    };
    let rest = items.get(start..).unwrap_or_default();
    let n = p.max_items.get().min(rest.len());
    let page = rest.get(..n).unwrap_or_default();
    let next = rest.get(n).map(key);
    Ok((page, next))
}

fn user_view<'a>(
    u: &'a crate::iam::UserInfo,
    ts: &impl Fn(u64) -> wire::Timestamp,
) -> wire::User<'a> {
    wire::User {
        path: &u.path,
        user_name: &u.name,
        user_id: &u.user_id,
        arn: &u.arn,
        create_date: ts(u.created_ms),
        password_last_used: None,
        permissions_boundary: None,
        tags: u
            .tags
            .iter()
            .map(|(k, v)| wire::TagRef { key: k, value: v })
            .collect(),
    }
}

fn list_user_view<'a>(
    u: &'a crate::iam::UserInfo,
    ts: &impl Fn(u64) -> wire::Timestamp,
) -> wire::User<'a> {
    user_view(u, ts)
}

fn policy_view<'a>(
    m: &'a crate::iam::ManagedPolicyInfo,
    ts: &impl Fn(u64) -> wire::Timestamp,
) -> wire::ManagedPolicy<'a> {
    wire::ManagedPolicy {
        policy_name: &m.name,
        policy_id: &m.policy_id,
        arn: &m.arn,
        path: &m.path,
        default_version_id: DEFAULT_VERSION,
        attachment_count: m.attachment_count as u64,
        permissions_boundary_usage_count: 0,
        is_attachable: true,
        description: (!m.description.is_empty()).then_some(m.description.as_str()),
        create_date: ts(m.created_ms),
        update_date: ts(m.updated_ms),
        tags: Vec::new(),
    }
}

/// GetUser without a name: the caller itself (for the root: the account, as AWS shows it).
fn caller_as_user(iam: &Iam, p: &Principal) -> Result<crate::iam::UserInfo, WireError> {
    match (p.kind, &p.user_name) {
        (PrincipalKind::User, Some(name)) => iam.get_user(&p.account, name).map_err(store_error),
        _ => Ok(crate::iam::UserInfo {
            name: String::new(),
            user_id: p.user_id.clone(),
            path: "/".into(),
            arn: p.arn.clone(),
            created_ms: 0,
            tags: Vec::new(),
        }),
    }
}

fn store_error(e: IamError) -> WireError {
    if let IamError::Unavailable(m) = &e {
        tracing::warn!(error = %m, "IAM store unavailable");
        return WireError::new(
            ErrorCode::ServiceUnavailable,
            "The request has failed due to a temporary failure of the server.",
        );
    }
    let code = match &e {
        IamError::NoSuchEntity(_) => ErrorCode::NoSuchEntity,
        IamError::EntityAlreadyExists(_) => ErrorCode::EntityAlreadyExists,
        IamError::DeleteConflict(_) => ErrorCode::DeleteConflict,
        IamError::LimitExceeded(_) => ErrorCode::LimitExceeded,
        IamError::MalformedPolicyDocument(_) => ErrorCode::MalformedPolicyDocument,
        IamError::InvalidInput(_) => ErrorCode::InvalidInput,
        IamError::UnmodifiableEntity(_) => ErrorCode::UnmodifiableEntity,
        IamError::Internal(_) | IamError::Unavailable(_) => ErrorCode::ServiceFailure,
    };
    WireError::new(code, e.to_string())
}

fn auth_error(e: AuthError) -> WireError {
    match e {
        AuthError::Anonymous => WireError::missing_authentication_token(),
        AuthError::InvalidAccessKeyId => WireError::invalid_client_token_id(),
        AuthError::SignatureDoesNotMatch => WireError::signature_does_not_match(),
        AuthError::RequestTimeTooSkewed => WireError::new(
            ErrorCode::SignatureDoesNotMatch,
            "Signature expired: the request time is too far from the server time.",
        ),
        AuthError::Expired => WireError::new(ErrorCode::RequestExpired, "Request has expired."),
        AuthError::HeaderMalformed(m)
        | AuthError::QueryMalformed(m)
        | AuthError::InvalidArgument(m)
        | AuthError::AccessDenied(m) => WireError::new(ErrorCode::IncompleteSignature, m),
    }
}

/// Reads the form body whole, refusing more than [`wire::MAX_FORM_LEN`] bytes or a stall
/// longer than `timeout` between pieces.
async fn read_body(mut incoming: Incoming, timeout: Duration) -> Result<Vec<u8>, WireError> {
    let mut out = Vec::new();
    loop {
        let frame = match tokio::time::timeout(timeout, incoming.frame()).await {
            Err(_) => {
                return Err(WireError::new(
                    ErrorCode::InvalidQueryParameter,
                    "timed out waiting for the request body",
                ));
            }
            Ok(None) => return Ok(out),
            Ok(Some(Err(e))) => {
                return Err(WireError::new(
                    ErrorCode::InvalidQueryParameter,
                    format!("cannot read the request body: {e}"),
                ));
            }
            Ok(Some(Ok(f))) => f,
        };
        if let Ok(data) = frame.into_data() {
            if out.len() + data.len() > wire::MAX_FORM_LEN {
                return Err(WireError::new(
                    ErrorCode::InvalidQueryParameter,
                    format!(
                        "The request body is larger than the maximum of {} bytes.",
                        wire::MAX_FORM_LEN
                    ),
                ));
            }
            out.extend_from_slice(&data);
        }
    }
}
