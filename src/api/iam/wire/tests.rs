//! Codec tests: the forms botocore sends, every constraint broken once with AWS's code and
//! message, golden documents for every response and error (each also read back with
//! quick-xml), and property tests that no input panics.

use proptest::prelude::*;

use super::*;

const REQ: &str = "7a62c49f-347e-4fc4-9331-6e8eEXAMPLE";
const IAM_NS: &str = "https://iam.amazonaws.com/doc/2010-05-08/";
/// 2013-10-02T17:01:44Z
const T1: Timestamp = Timestamp(1_380_733_304);
/// 2014-09-15T17:36:14Z
const T2: Timestamp = Timestamp(1_410_802_574);

fn form(s: &str) -> Params {
    parse_form(s.as_bytes()).unwrap()
}

fn iam(s: &str) -> Result<IamRequest, WireError> {
    parse_iam(&form(s))
}

fn iam_ok(s: &str) -> IamRequest {
    match iam(s) {
        Ok(r) => r,
        Err(e) => panic!("{s}: {e}"),
    }
}

fn iam_err(s: &str) -> WireError {
    match iam(s) {
        Ok(r) => panic!("{s}: parsed as {r:?}"),
        Err(e) => e,
    }
}

/// The request must fail with one ValidationError of exactly this text.
fn assert_validation(body: &str, expected: &str) {
    let e = iam_err(body);
    assert_eq!(e.code(), ErrorCode::ValidationError, "{body}: {e}");
    assert_eq!(
        e.message(),
        format!("1 validation error detected: {expected}"),
        "{body}"
    );
    assert_eq!(e.status(), 400);
}

fn assert_well_formed(xml: &str) {
    let mut reader = quick_xml::Reader::from_str(xml);
    let mut depth = 0usize;
    let mut roots = 0usize;
    loop {
        match reader.read_event() {
            Ok(quick_xml::events::Event::Eof) => break,
            Ok(quick_xml::events::Event::Start(_)) => {
                if depth == 0 {
                    roots += 1;
                }
                depth += 1;
            }
            Ok(quick_xml::events::Event::End(_)) => depth -= 1,
            Ok(quick_xml::events::Event::Empty(_)) if depth == 0 => roots += 1,
            Ok(_) => {}
            Err(e) => panic!("not well-formed: {e}\n{xml}"),
        }
    }
    assert_eq!(depth, 0, "{xml}");
    assert_eq!(roots, 1, "{xml}");
}

/// The unescaped text of the first `<name>` element.
fn text_of(xml: &str, name: &str) -> Option<String> {
    use quick_xml::events::Event;
    let mut reader = quick_xml::Reader::from_str(xml);
    let mut inside = false;
    let mut out = String::new();
    loop {
        match reader.read_event().unwrap() {
            Event::Start(e) if e.name().as_ref() == name => inside = true,
            Event::End(e) if inside && e.name().as_ref() == name => return Some(out),
            Event::Text(t) if inside => out.push_str(&t.xml10_content()),
            Event::GeneralRef(r) if inside => {
                if let Some(c) = r.resolve_char_ref().unwrap() {
                    out.push(c);
                } else {
                    out.push(match r.xml10_content().as_ref() {
                        "amp" => '&',
                        "lt" => '<',
                        "gt" => '>',
                        "quot" => '"',
                        "apos" => '\'',
                        other => panic!("entity {other}"),
                    });
                }
            }
            Event::Eof => return None,
            _ => {}
        }
    }
}

/// A rendered document, checked well-formed.
fn doc(resp: &IamResponse<'_>) -> String {
    let xml = render(resp, REQ);
    assert_well_formed(&xml);
    xml
}

fn wrap(action: &str, result: &str) -> String {
    let result = if result.is_empty() {
        String::new()
    } else {
        format!("<{action}Result>{result}</{action}Result>")
    };
    format!(
        "<{action}Response xmlns=\"{IAM_NS}\">{result}<ResponseMetadata><RequestId>{REQ}\
         </RequestId></ResponseMetadata></{action}Response>"
    )
}

fn bob<'a>(tags: Vec<TagRef<'a>>) -> User<'a> {
    User {
        path: "/division_abc/subdivision_xyz/",
        user_name: "Bob",
        user_id: "AIDACKCEVSQ6C2EXAMPLE",
        arn: "arn:aws:iam::123456789012:user/division_abc/subdivision_xyz/Bob",
        create_date: T1,
        password_last_used: None,
        permissions_boundary: None,
        tags,
    }
}

const BOB_XML: &str = "<Path>/division_abc/subdivision_xyz/</Path><UserName>Bob</UserName>\
    <UserId>AIDACKCEVSQ6C2EXAMPLE</UserId>\
    <Arn>arn:aws:iam::123456789012:user/division_abc/subdivision_xyz/Bob</Arn>\
    <CreateDate>2013-10-02T17:01:44Z</CreateDate>";

fn policy<'a>(tags: Vec<TagRef<'a>>) -> ManagedPolicy<'a> {
    ManagedPolicy {
        policy_name: "S3-read-only-example-bucket",
        policy_id: "AGPACKCEVSQ6C2EXAMPLE",
        arn: "arn:aws:iam::123456789012:policy/S3-read-only-example-bucket",
        path: "/",
        default_version_id: "v1",
        attachment_count: 0,
        permissions_boundary_usage_count: 0,
        is_attachable: true,
        description: Some("Read-only access to example-bucket"),
        create_date: T2,
        update_date: T2,
        tags,
    }
}

const POLICY_HEAD: &str = "<PolicyName>S3-read-only-example-bucket</PolicyName>\
    <PolicyId>AGPACKCEVSQ6C2EXAMPLE</PolicyId>\
    <Arn>arn:aws:iam::123456789012:policy/S3-read-only-example-bucket</Arn><Path>/</Path>\
    <DefaultVersionId>v1</DefaultVersionId><AttachmentCount>0</AttachmentCount>\
    <PermissionsBoundaryUsageCount>0</PermissionsBoundaryUsageCount>\
    <IsAttachable>true</IsAttachable>";
const POLICY_DATES: &str =
    "<CreateDate>2014-09-15T17:36:14Z</CreateDate><UpdateDate>2014-09-15T17:36:14Z</UpdateDate>";

const DOCUMENT: &str = "{\"Version\": \"2012-10-17\", \"Statement\": [{\"Effect\": \"Allow\", \
    \"Action\": \"s3:*\", \"Resource\": \"*\"}]}\n é~";
/// `urllib.parse.quote(DOCUMENT, safe='-._~')`.
const DOCUMENT_ENCODED: &str = "%7B%22Version%22%3A%20%222012-10-17%22%2C%20%22Statement%22%3A%20\
    %5B%7B%22Effect%22%3A%20%22Allow%22%2C%20%22Action%22%3A%20%22s3%3A%2A%22%2C%20%22Resource\
    %22%3A%20%22%2A%22%7D%5D%7D%0A%20%C3%A9~";

// ---------------------------------------------------------------- form

#[test]
fn form_decodes_plus_and_percent() {
    let p = form("Action=CreateUser&Version=2010-05-08&UserName=alice&Path=%2Fteam%2F&X=a+b%20c");
    assert_eq!(p.get("Action"), Some("CreateUser"));
    assert_eq!(p.get("Path"), Some("/team/"));
    assert_eq!(p.get("X"), Some("a b c"));
    assert_eq!(p.len(), 5);
}

#[test]
fn form_edge_shapes() {
    let p = form("&&A=1&&B&C=&D=x=y&");
    assert_eq!(p.get("A"), Some("1"));
    assert_eq!(p.get("B"), Some(""));
    assert_eq!(p.get("C"), Some(""));
    assert_eq!(p.get("D"), Some("x=y"));
    assert!(form("").is_empty());
    // Percent-decoding applies to names too, and yields UTF-8.
    let p = form("%41ction=%C3%A9");
    assert_eq!(p.get("Action"), Some("é"));
}

#[test]
fn form_rejects_bad_percent_encoding() {
    for body in ["A=%", "A=%4", "A=%zz", "A=%4g", "%=1"] {
        let e = parse_form(body.as_bytes()).unwrap_err();
        assert_eq!(e.code(), ErrorCode::MalformedQueryString, "{body}");
        assert_eq!(e.status(), 404);
    }
}

#[test]
fn form_rejects_invalid_utf8() {
    for body in [&b"A=%FF"[..], b"A=%C3", b"A=\xff", b"%80=1"] {
        let e = parse_form(body).unwrap_err();
        assert_eq!(e.code(), ErrorCode::MalformedQueryString);
        assert_eq!(e.message(), "The request parameters are not valid UTF-8.");
    }
}

#[test]
fn form_rejects_duplicates_and_empty_names() {
    let e = parse_form(b"UserName=a&UserName=b").unwrap_err();
    assert_eq!(e.code(), ErrorCode::InvalidQueryParameter);
    assert_eq!(
        e.message(),
        "The parameter UserName appears more than once."
    );
    // Duplicates are found after decoding.
    assert!(parse_form(b"UserName=a&User%4Eame=b").is_err());
    let e = parse_form(b"=x").unwrap_err();
    assert_eq!(e.code(), ErrorCode::MalformedQueryString);
}

#[test]
fn form_max_params() {
    let body = (0..MAX_PARAMS)
        .map(|i| format!("P{i}=v"))
        .collect::<Vec<_>>()
        .join("&");
    assert_eq!(form(&body).len(), MAX_PARAMS);
    let over = format!("{body}&Extra=1");
    let e = parse_form(over.as_bytes()).unwrap_err();
    assert_eq!(e.code(), ErrorCode::InvalidQueryParameter);
    assert_eq!(
        e.message(),
        format!("The request has more than {MAX_PARAMS} parameters.")
    );
    // The bound holds across merged forms too.
    let mut p = form(&body);
    assert!(p.extend_from_form(b"Extra=1").is_err());
}

#[test]
fn form_max_len() {
    let mut body = String::from("A=");
    body.push_str(&"x".repeat(MAX_FORM_LEN - 2));
    assert_eq!(form(&body).get("A").map(str::len), Some(MAX_FORM_LEN - 2));
    body.push('x');
    let e = parse_form(body.as_bytes()).unwrap_err();
    assert_eq!(e.code(), ErrorCode::InvalidQueryParameter);
}

#[test]
fn form_merges_query_and_body() {
    let mut p = form("Action=ListUsers&Version=2010-05-08");
    p.extend_from_form(b"MaxItems=5").unwrap();
    assert_eq!(p.get("MaxItems"), Some("5"));
    assert!(p.extend_from_form(b"Action=GetUser").is_err());
}

#[test]
fn params_debug_hides_values() {
    let p = form("Action=GetCallerIdentity&X-Amz-Security-Token=SECRETTOKEN");
    let dbg = format!("{p:?}");
    assert!(dbg.contains("X-Amz-Security-Token"));
    assert!(!dbg.contains("SECRETTOKEN"));
}

// ---------------------------------------------------------------- action and version

#[test]
fn missing_action() {
    for body in ["Version=2010-05-08", "Action=&Version=2010-05-08"] {
        let e = iam_err(body);
        assert_eq!(e.code(), ErrorCode::MissingAction);
        assert_eq!(e.status(), 400);
    }
    assert_eq!(
        parse_sts(&form("")).unwrap_err().code(),
        ErrorCode::MissingAction
    );
}

#[test]
fn unknown_action() {
    let e = iam_err("Action=CreateRole&Version=2010-05-08");
    assert_eq!(e.code(), ErrorCode::InvalidAction);
    assert_eq!(
        e.message(),
        "Could not find operation CreateRole for version 2010-05-08"
    );
    assert_eq!(e.status(), 400);
    // Names are case-sensitive.
    assert_eq!(
        iam_err("Action=createuser").code(),
        ErrorCode::InvalidAction
    );
    // An STS action is unknown to IAM and the reverse.
    assert_eq!(
        iam_err("Action=GetCallerIdentity&Version=2010-05-08").message(),
        "Could not find operation GetCallerIdentity for version 2010-05-08"
    );
    let e = parse_sts(&form("Action=GetUser&Version=2011-06-15")).unwrap_err();
    assert_eq!(
        e.message(),
        "Could not find operation GetUser for version 2011-06-15"
    );
}

#[test]
fn wrong_version() {
    let e = iam_err("Action=CreateUser&Version=2011-06-15&UserName=bob");
    assert_eq!(e.code(), ErrorCode::InvalidAction);
    assert_eq!(
        e.message(),
        "Could not find operation CreateUser for version 2011-06-15"
    );
    let e = parse_sts(&form("Action=GetCallerIdentity&Version=2010-05-08")).unwrap_err();
    assert_eq!(
        e.message(),
        "Could not find operation GetCallerIdentity for version 2010-05-08"
    );
    // Absent Version is accepted.
    assert!(iam("Action=ListUsers").is_ok());
    assert_eq!(
        parse_sts(&form("Action=GetCallerIdentity")).unwrap(),
        StsRequest::GetCallerIdentity
    );
}

#[test]
fn sts_get_caller_identity() {
    let r = parse_sts(&form("Action=GetCallerIdentity&Version=2011-06-15")).unwrap();
    assert_eq!(r, StsRequest::GetCallerIdentity);
    assert_eq!(r.action().as_str(), "GetCallerIdentity");
}

#[test]
fn service_detection() {
    assert_eq!(
        Service::detect(&form("Action=GetCallerIdentity&Version=2011-06-15")),
        Service::Sts
    );
    assert_eq!(
        Service::detect(&form("Action=GetCallerIdentity")),
        Service::Sts
    );
    assert_eq!(
        Service::detect(&form("Action=ListUsers&Version=2010-05-08")),
        Service::Iam
    );
    assert_eq!(Service::detect(&form("Action=ListUsers")), Service::Iam);
    assert_eq!(Service::detect(&form("")), Service::Iam);
    assert_eq!(Service::Sts.signing_name(), "sts");
    assert_eq!(Service::Iam.version(), IAM_VERSION);
}

#[test]
fn action_names_round_trip() {
    assert_eq!(IamAction::ALL.len(), 20);
    for a in IamAction::ALL {
        assert_eq!(IamAction::from_name(a.as_str()), Some(*a));
    }
    for a in StsAction::ALL {
        assert_eq!(StsAction::from_name(a.as_str()), Some(*a));
    }
}

// ---------------------------------------------------------------- requests botocore sends

#[test]
fn parse_create_user() {
    let r = iam_ok("Action=CreateUser&Version=2010-05-08&UserName=alice&Path=%2Fteam%2F");
    let IamRequest::CreateUser(c) = &r else {
        panic!("{r:?}")
    };
    assert_eq!(c.user_name.as_str(), "alice");
    assert_eq!(c.path.as_str(), "/team/");
    assert_eq!(c.permissions_boundary, None);
    assert!(c.tags.is_empty());
    assert_eq!(r.action(), IamAction::CreateUser);

    let r = iam_ok("Action=CreateUser&Version=2010-05-08&UserName=bob");
    let IamRequest::CreateUser(c) = r else {
        panic!()
    };
    assert_eq!(c.path, UserPath::root());
}

#[test]
fn parse_create_user_with_tags_and_boundary() {
    let r = iam_ok(
        "Action=CreateUser&Version=2010-05-08&UserName=carol\
         &PermissionsBoundary=arn%3Aaws%3Aiam%3A%3A123456789012%3Apolicy%2Fbound\
         &Tags.member.2.Key=team&Tags.member.2.Value=storage\
         &Tags.member.1.Key=Cost+Center&Tags.member.1.Value=\
         &Tags.member.10.Key=z&Tags.member.10.Value=%C3%A9t%C3%A9",
    );
    let IamRequest::CreateUser(c) = r else {
        panic!()
    };
    assert_eq!(
        c.permissions_boundary.as_ref().map(PolicyArn::as_str),
        Some("arn:aws:iam::123456789012:policy/bound")
    );
    let tags: Vec<(&str, &str)> = c
        .tags
        .iter()
        .map(|t| (t.key.as_str(), t.value.as_str()))
        .collect();
    // In the order of N, numerically.
    assert_eq!(
        tags,
        [("Cost Center", ""), ("team", "storage"), ("z", "été")]
    );
    // botocore sends an empty list as `Tags=`.
    let IamRequest::CreateUser(c) = iam_ok("Action=CreateUser&UserName=d&Tags=") else {
        panic!()
    };
    assert!(c.tags.is_empty());
}

#[test]
fn parse_user_operations() {
    assert_eq!(
        iam_ok("Action=GetUser&Version=2010-05-08"),
        IamRequest::GetUser(GetUser { user_name: None })
    );
    assert_eq!(
        iam_ok("Action=GetUser&Version=2010-05-08&UserName=Bob"),
        IamRequest::GetUser(GetUser {
            user_name: Some(UserName::parse("Bob").unwrap())
        })
    );
    assert_eq!(
        iam_ok("Action=DeleteUser&Version=2010-05-08&UserName=Bob"),
        IamRequest::DeleteUser(DeleteUser {
            user_name: UserName::parse("Bob").unwrap()
        })
    );
    let IamRequest::ListUsers(l) = iam_ok("Action=ListUsers&Version=2010-05-08") else {
        panic!()
    };
    assert_eq!(l.path_prefix.as_str(), "/");
    assert_eq!(l.pagination.marker, None);
    assert_eq!(l.pagination.max_items.get(), usize::from(MAX_ITEMS_DEFAULT));
    let IamRequest::ListUsers(l) = iam_ok(
        "Action=ListUsers&Version=2010-05-08&PathPrefix=%2Fdivision_abc%2F&Marker=abc%20def&MaxItems=2",
    ) else {
        panic!()
    };
    assert_eq!(l.path_prefix.as_str(), "/division_abc/");
    assert_eq!(
        l.pagination.marker.as_ref().map(Marker::as_str),
        Some("abc def")
    );
    assert_eq!(l.pagination.max_items.get(), 2);
}

#[test]
fn parse_access_key_operations() {
    assert_eq!(
        iam_ok("Action=CreateAccessKey&Version=2010-05-08"),
        IamRequest::CreateAccessKey(CreateAccessKey { user_name: None })
    );
    let IamRequest::CreateAccessKey(c) = iam_ok("Action=CreateAccessKey&UserName=Bob") else {
        panic!()
    };
    assert_eq!(c.user_name.unwrap().as_str(), "Bob");
    let IamRequest::ListAccessKeys(l) =
        iam_ok("Action=ListAccessKeys&Version=2010-05-08&MaxItems=1000")
    else {
        panic!()
    };
    assert_eq!(l.user_name, None);
    assert_eq!(l.pagination.max_items.get(), 1000);
    let r = iam_ok(
        "Action=UpdateAccessKey&Version=2010-05-08&AccessKeyId=AKIAIOSFODNN7EXAMPLE&Status=Inactive&UserName=Bob",
    );
    assert_eq!(
        r,
        IamRequest::UpdateAccessKey(UpdateAccessKey {
            user_name: Some(UserName::parse("Bob").unwrap()),
            access_key_id: AccessKeyId::parse("AKIAIOSFODNN7EXAMPLE").unwrap(),
            status: AccessKeyStatus::Inactive,
        })
    );
    let IamRequest::UpdateAccessKey(u) =
        iam_ok("Action=UpdateAccessKey&AccessKeyId=AKIAIOSFODNN7EXAMPLE&Status=Active")
    else {
        panic!()
    };
    assert_eq!(u.status, AccessKeyStatus::Active);
    assert_eq!(
        iam_ok("Action=DeleteAccessKey&Version=2010-05-08&AccessKeyId=AKIAIOSFODNN7EXAMPLE"),
        IamRequest::DeleteAccessKey(DeleteAccessKey {
            user_name: None,
            access_key_id: AccessKeyId::parse("AKIAIOSFODNN7EXAMPLE").unwrap(),
        })
    );
}

#[test]
fn parse_inline_policy_operations() {
    // botocore's serialization of `--policy-document file://p.json`.
    let body = "Action=PutUserPolicy&Version=2010-05-08&UserName=Bob&PolicyName=AllAccessPolicy\
                &PolicyDocument=%7B%22Version%22%3A%222012-10-17%22%2C%22Statement%22%3A%7B%22Effect\
                %22%3A%22Allow%22%2C%22Action%22%3A%22*%22%2C%22Resource%22%3A%22*%22%7D%7D%0A";
    let IamRequest::PutUserPolicy(p) = iam_ok(body) else {
        panic!()
    };
    assert_eq!(p.user_name.as_str(), "Bob");
    assert_eq!(p.policy_name.as_str(), "AllAccessPolicy");
    assert_eq!(
        p.policy_document.as_str(),
        "{\"Version\":\"2012-10-17\",\"Statement\":{\"Effect\":\"Allow\",\"Action\":\"*\",\"Resource\":\"*\"}}\n"
    );
    let IamRequest::GetUserPolicy(g) =
        iam_ok("Action=GetUserPolicy&Version=2010-05-08&UserName=Bob&PolicyName=AllAccessPolicy")
    else {
        panic!()
    };
    assert_eq!(
        (g.user_name.as_str(), g.policy_name.as_str()),
        ("Bob", "AllAccessPolicy")
    );
    let IamRequest::ListUserPolicies(l) =
        iam_ok("Action=ListUserPolicies&Version=2010-05-08&UserName=Bob&Marker=m")
    else {
        panic!()
    };
    assert_eq!(l.pagination.marker.unwrap().as_str(), "m");
    assert!(matches!(
        iam_ok("Action=DeleteUserPolicy&Version=2010-05-08&UserName=Bob&PolicyName=P"),
        IamRequest::DeleteUserPolicy(_)
    ));
}

#[test]
fn parse_managed_policy_operations() {
    let IamRequest::CreatePolicy(c) = iam_ok(
        "Action=CreatePolicy&Version=2010-05-08&PolicyName=S3-read-only-example-bucket\
         &PolicyDocument=%7B%7D&Path=%2Fteam%2Fstorage%2F&Description=Read+only\
         &Tags.member.1.Key=k&Tags.member.1.Value=v",
    ) else {
        panic!()
    };
    assert_eq!(c.policy_name.as_str(), "S3-read-only-example-bucket");
    assert_eq!(c.path.as_str(), "/team/storage/");
    assert_eq!(c.policy_document.as_str(), "{}");
    assert_eq!(c.description.unwrap().as_str(), "Read only");
    assert_eq!(c.tags.len(), 1);
    let IamRequest::CreatePolicy(c) =
        iam_ok("Action=CreatePolicy&PolicyName=p&PolicyDocument=%7B%7D")
    else {
        panic!()
    };
    assert_eq!(c.path, PolicyPath::root());
    assert_eq!(c.description, None);

    let arn = "arn%3Aaws%3Aiam%3A%3A123456789012%3Apolicy%2FS3-read-only-example-bucket";
    let IamRequest::GetPolicy(g) = iam_ok(&format!(
        "Action=GetPolicy&Version=2010-05-08&PolicyArn={arn}"
    )) else {
        panic!()
    };
    assert_eq!(
        g.policy_arn.as_str(),
        "arn:aws:iam::123456789012:policy/S3-read-only-example-bucket"
    );
    let IamRequest::GetPolicyVersion(v) = iam_ok(&format!(
        "Action=GetPolicyVersion&Version=2010-05-08&PolicyArn={arn}&VersionId=v2"
    )) else {
        panic!()
    };
    assert_eq!(v.version_id.as_str(), "v2");
    assert!(matches!(
        iam_ok(&format!(
            "Action=DeletePolicy&Version=2010-05-08&PolicyArn={arn}"
        )),
        IamRequest::DeletePolicy(_)
    ));
    let IamRequest::AttachUserPolicy(a) = iam_ok(&format!(
        "Action=AttachUserPolicy&Version=2010-05-08&UserName=Bob&PolicyArn={arn}"
    )) else {
        panic!()
    };
    assert_eq!(a.user_name.as_str(), "Bob");
    assert!(matches!(
        iam_ok(&format!(
            "Action=DetachUserPolicy&Version=2010-05-08&UserName=Bob&PolicyArn={arn}"
        )),
        IamRequest::DetachUserPolicy(_)
    ));
    let IamRequest::ListAttachedUserPolicies(l) = iam_ok(
        "Action=ListAttachedUserPolicies&Version=2010-05-08&UserName=Bob&PathPrefix=%2Fteam%2F",
    ) else {
        panic!()
    };
    assert_eq!(l.path_prefix.as_str(), "/team/");
}

#[test]
fn parse_list_policies() {
    let IamRequest::ListPolicies(l) = iam_ok("Action=ListPolicies&Version=2010-05-08") else {
        panic!()
    };
    assert_eq!(l.scope, PolicyScope::All);
    assert!(!l.only_attached);
    assert_eq!(l.path_prefix, PolicyPath::root());
    assert_eq!(l.policy_usage_filter, None);
    let IamRequest::ListPolicies(l) = iam_ok(
        "Action=ListPolicies&Version=2010-05-08&Scope=Local&OnlyAttached=true\
         &PolicyUsageFilter=PermissionsBoundary&MaxItems=10&PathPrefix=%2Fa%2F",
    ) else {
        panic!()
    };
    assert_eq!(l.scope, PolicyScope::Local);
    assert!(l.only_attached);
    assert_eq!(
        l.policy_usage_filter,
        Some(PolicyUsage::PermissionsBoundary)
    );
    assert_eq!(l.pagination.max_items.get(), 10);
    let IamRequest::ListPolicies(l) = iam_ok(
        "Action=ListPolicies&Scope=AWS&OnlyAttached=FALSE&PolicyUsageFilter=PermissionsPolicy",
    ) else {
        panic!()
    };
    assert_eq!(l.scope, PolicyScope::Aws);
    assert!(!l.only_attached);
    assert_eq!(l.policy_usage_filter, Some(PolicyUsage::PermissionsPolicy));
}

#[test]
fn unknown_parameters_are_ignored() {
    let r = iam_ok(
        "Action=GetUser&Version=2010-05-08&X-Amz-Algorithm=AWS4-HMAC-SHA256&X-Amz-Signature=abc&Foo=bar",
    );
    assert_eq!(r, IamRequest::GetUser(GetUser { user_name: None }));
}

// ---------------------------------------------------------------- every constraint broken once

#[test]
fn missing_required_members() {
    assert_validation(
        "Action=CreateUser&Version=2010-05-08",
        "Value null at 'userName' failed to satisfy constraint: Member must not be null",
    );
    for (action, member) in [
        ("DeleteUser", "userName"),
        ("ListUserPolicies", "userName"),
        ("GetPolicy", "policyArn"),
        ("DeletePolicy", "policyArn"),
    ] {
        assert_validation(
            &format!("Action={action}"),
            &format!(
                "Value null at '{member}' failed to satisfy constraint: Member must not be null"
            ),
        );
    }
    // Several missing members: one error listing each, in the shape's order.
    let e = iam_err("Action=PutUserPolicy&Version=2010-05-08");
    assert_eq!(e.code(), ErrorCode::ValidationError);
    assert_eq!(
        e.message(),
        "3 validation errors detected: \
         Value null at 'userName' failed to satisfy constraint: Member must not be null; \
         Value null at 'policyName' failed to satisfy constraint: Member must not be null; \
         Value null at 'policyDocument' failed to satisfy constraint: Member must not be null"
    );
    let e = iam_err("Action=UpdateAccessKey");
    assert!(
        e.message()
            .starts_with("2 validation errors detected: Value null at 'accessKeyId'")
    );
    assert!(
        e.message().ends_with(
            "Value null at 'status' failed to satisfy constraint: Member must not be null"
        )
    );
    let e = iam_err("Action=GetPolicyVersion&PolicyArn=arn:aws:iam::123456789012:policy/p");
    assert_eq!(
        e.message(),
        "1 validation error detected: Value null at 'versionId' failed to satisfy constraint: Member must not be null"
    );
    for body in [
        "Action=GetUserPolicy&UserName=a",
        "Action=DeleteUserPolicy&UserName=a",
        "Action=CreatePolicy&PolicyName=a",
        "Action=AttachUserPolicy&UserName=a",
        "Action=DetachUserPolicy&PolicyArn=arn:aws:iam::123456789012:policy/p",
        "Action=ListAttachedUserPolicies",
        "Action=DeleteAccessKey",
    ] {
        assert_eq!(iam_err(body).code(), ErrorCode::ValidationError, "{body}");
    }
}

#[test]
fn user_name_pattern() {
    assert_validation(
        "Action=CreateUser&UserName=a+b",
        r"Value 'a b' at 'userName' failed to satisfy constraint: Member must satisfy regular expression pattern: [\w+=,.@-]+",
    );
    // `\w` is ASCII only.
    assert_validation(
        "Action=GetUser&UserName=%C3%A9",
        r"Value 'é' at 'userName' failed to satisfy constraint: Member must satisfy regular expression pattern: [\w+=,.@-]+",
    );
    // Every allowed punctuation character passes.
    assert!(iam("Action=CreateUser&UserName=a_b%2B%3D%2C.%40-Z9").is_ok());
}

#[test]
fn user_name_length() {
    assert_validation(
        "Action=CreateUser&UserName=",
        "Value '' at 'userName' failed to satisfy constraint: Member must have length greater than or equal to 1",
    );
    let max = "a".repeat(USER_NAME_MAX_LEN);
    assert!(iam(&format!("Action=CreateUser&UserName={max}")).is_ok());
    let long = "a".repeat(USER_NAME_MAX_LEN + 1);
    assert_validation(
        &format!("Action=CreateUser&UserName={long}"),
        &format!(
            "Value '{long}' at 'userName' failed to satisfy constraint: Member must have length less than or equal to 64"
        ),
    );
    for action in [
        "AttachUserPolicy",
        "DetachUserPolicy",
        "ListAttachedUserPolicies",
    ] {
        let e = iam_err(&format!(
            "Action={action}&UserName={long}&PolicyArn=arn:aws:iam::123456789012:policy/p"
        ));
        assert!(
            e.message().contains("less than or equal to 64"),
            "{action}: {e}"
        );
    }
}

#[test]
fn existing_user_name_length() {
    // Operations on an existing user take names up to 128 characters (existingUserNameType).
    let name = "a".repeat(EXISTING_USER_NAME_MAX_LEN);
    for action in [
        "GetUser",
        "DeleteUser",
        "CreateAccessKey",
        "ListAccessKeys",
        "ListUserPolicies",
    ] {
        assert!(
            iam(&format!("Action={action}&UserName={name}")).is_ok(),
            "{action}"
        );
    }
    let long = "a".repeat(EXISTING_USER_NAME_MAX_LEN + 1);
    assert_validation(
        &format!("Action=GetUser&UserName={long}"),
        &format!(
            "Value '{long}' at 'userName' failed to satisfy constraint: Member must have length less than or equal to 128"
        ),
    );
    assert_eq!(UserName::parse(&name).unwrap().as_str(), name);
    assert!(UserName::parse(&long).is_err());
}

#[test]
fn pattern_and_length_together() {
    let long = format!("{} x", "a".repeat(USER_NAME_MAX_LEN));
    let e = iam_err(&format!(
        "Action=CreateUser&UserName={}",
        long.replace(' ', "+")
    ));
    assert_eq!(
        e.message(),
        format!(
            "2 validation errors detected: Value '{long}' at 'userName' failed to satisfy constraint: \
             Member must satisfy regular expression pattern: [\\w+=,.@-]+; Value '{long}' at 'userName' \
             failed to satisfy constraint: Member must have length less than or equal to 64"
        )
    );
}

#[test]
fn policy_name_constraints() {
    let max = "p".repeat(POLICY_NAME_MAX_LEN);
    assert!(iam(&format!("Action=GetUserPolicy&UserName=u&PolicyName={max}")).is_ok());
    let long = "p".repeat(POLICY_NAME_MAX_LEN + 1);
    assert_validation(
        &format!("Action=GetUserPolicy&UserName=u&PolicyName={long}"),
        &format!(
            "Value '{long}' at 'policyName' failed to satisfy constraint: Member must have length less than or equal to 128"
        ),
    );
    assert_validation(
        "Action=DeleteUserPolicy&UserName=u&PolicyName=a%2Fb",
        r"Value 'a/b' at 'policyName' failed to satisfy constraint: Member must satisfy regular expression pattern: [\w+=,.@-]+",
    );
    assert_validation(
        "Action=CreatePolicy&PolicyName=&PolicyDocument=%7B%7D",
        "Value '' at 'policyName' failed to satisfy constraint: Member must have length greater than or equal to 1",
    );
}

#[test]
fn user_path_constraints() {
    for ok in ["/", "/a/", "/a/b/", "/!~/", "///"] {
        assert!(UserPath::parse(ok).is_ok(), "{ok}");
    }
    let pattern =
        r"Member must satisfy regular expression pattern: (\u002F)|(\u002F[\u0021-\u007E]+\u002F)";
    for bad in ["a", "/a", "a/", "//", "/a b/", "/\u{7f}/", "/é/"] {
        let e = UserPath::parse(bad).unwrap_err();
        assert_eq!(
            e.message(),
            format!(
                "1 validation error detected: Value '{bad}' at 'path' failed to satisfy constraint: {pattern}"
            ),
            "{bad:?}"
        );
    }
    assert_validation(
        "Action=CreateUser&UserName=u&Path=team",
        &format!("Value 'team' at 'path' failed to satisfy constraint: {pattern}"),
    );
    let max = format!("/{}/", "a".repeat(PATH_MAX_LEN - 2));
    assert!(UserPath::parse(&max).is_ok());
    let long = format!("/{}/", "a".repeat(PATH_MAX_LEN - 1));
    assert_validation(
        &format!("Action=CreateUser&UserName=u&Path={long}"),
        &format!(
            "Value '{long}' at 'path' failed to satisfy constraint: Member must have length less than or equal to 512"
        ),
    );
    assert_validation(
        "Action=CreateUser&UserName=u&Path=",
        "Value '' at 'path' failed to satisfy constraint: Member must have length greater than or equal to 1",
    );
}

#[test]
fn user_path_prefix_constraints() {
    for ok in ["/", "/a", "/a/b", "/\u{7f}"] {
        assert!(UserPathPrefix::parse(ok).is_ok(), "{ok:?}");
    }
    assert_validation(
        "Action=ListUsers&PathPrefix=a%2F",
        r"Value 'a/' at 'pathPrefix' failed to satisfy constraint: Member must satisfy regular expression pattern: \u002F[\u0021-\u007F]*",
    );
    let long = format!("/{}", "a".repeat(PATH_MAX_LEN));
    assert_validation(
        &format!("Action=ListUsers&PathPrefix={long}"),
        &format!(
            "Value '{long}' at 'pathPrefix' failed to satisfy constraint: Member must have length less than or equal to 512"
        ),
    );
}

#[test]
fn policy_path_constraints() {
    for ok in ["/", "/a/", "/a.b,c+d@e=f_g-h/", "/A/9/"] {
        assert!(PolicyPath::parse(ok).is_ok(), "{ok}");
    }
    let pattern = r"Member must satisfy regular expression pattern: ((/[A-Za-z0-9\.,\+@=_-]+)*)/";
    for bad in ["a/", "/a", "//", "/a//", "/a!/", "/a b/"] {
        assert!(PolicyPath::parse(bad).is_err(), "{bad}");
    }
    assert_validation(
        "Action=CreatePolicy&PolicyName=p&PolicyDocument=%7B%7D&Path=%2Fa%21%2F",
        &format!("Value '/a!/' at 'path' failed to satisfy constraint: {pattern}"),
    );
    assert_validation(
        "Action=ListPolicies&PathPrefix=%2Fa",
        &format!("Value '/a' at 'pathPrefix' failed to satisfy constraint: {pattern}"),
    );
    assert_validation(
        "Action=ListAttachedUserPolicies&UserName=u&PathPrefix=x",
        &format!("Value 'x' at 'pathPrefix' failed to satisfy constraint: {pattern}"),
    );
}

#[test]
fn policy_arn_length() {
    let min = "a".repeat(ARN_MIN_LEN);
    assert!(iam(&format!("Action=GetPolicy&PolicyArn={min}")).is_ok());
    let short = "a".repeat(ARN_MIN_LEN - 1);
    assert_validation(
        &format!("Action=GetPolicy&PolicyArn={short}"),
        &format!(
            "Value '{short}' at 'policyArn' failed to satisfy constraint: Member must have length greater than or equal to 20"
        ),
    );
    let max = "a".repeat(ARN_MAX_LEN);
    assert!(iam(&format!("Action=DeletePolicy&PolicyArn={max}")).is_ok());
    let long = "a".repeat(ARN_MAX_LEN + 1);
    assert_validation(
        &format!("Action=DeletePolicy&PolicyArn={long}"),
        &format!(
            "Value '{long}' at 'policyArn' failed to satisfy constraint: Member must have length less than or equal to 2048"
        ),
    );
    assert_validation(
        &format!("Action=CreateUser&UserName=u&PermissionsBoundary={short}"),
        &format!(
            "Value '{short}' at 'permissionsBoundary' failed to satisfy constraint: Member must have length greater than or equal to 20"
        ),
    );
}

#[test]
fn access_key_id_constraints() {
    let min = "A".repeat(ACCESS_KEY_ID_MIN_LEN);
    assert!(iam(&format!("Action=DeleteAccessKey&AccessKeyId={min}")).is_ok());
    let short = "A".repeat(ACCESS_KEY_ID_MIN_LEN - 1);
    assert_validation(
        &format!("Action=DeleteAccessKey&AccessKeyId={short}"),
        &format!(
            "Value '{short}' at 'accessKeyId' failed to satisfy constraint: Member must have length greater than or equal to 16"
        ),
    );
    let max = "A".repeat(ACCESS_KEY_ID_MAX_LEN);
    assert!(AccessKeyId::parse(&max).is_ok());
    let long = "A".repeat(ACCESS_KEY_ID_MAX_LEN + 1);
    assert_validation(
        &format!("Action=DeleteAccessKey&AccessKeyId={long}"),
        &format!(
            "Value '{long}' at 'accessKeyId' failed to satisfy constraint: Member must have length less than or equal to 128"
        ),
    );
    assert_validation(
        "Action=UpdateAccessKey&AccessKeyId=AKIAIOSFODNN7EXAMP-E&Status=Active",
        r"Value 'AKIAIOSFODNN7EXAMP-E' at 'accessKeyId' failed to satisfy constraint: Member must satisfy regular expression pattern: [\w]+",
    );
}

#[test]
fn status_enum() {
    assert_validation(
        "Action=UpdateAccessKey&AccessKeyId=AKIAIOSFODNN7EXAMPLE&Status=active",
        "Value 'active' at 'status' failed to satisfy constraint: Member must satisfy enum value set: [Active, Inactive, Expired]",
    );
    assert_eq!(STATUS_VALUES, ["Active", "Inactive", "Expired"]);
    let e = iam_err("Action=UpdateAccessKey&AccessKeyId=AKIAIOSFODNN7EXAMPLE&Status=Expired");
    assert_eq!(e.code(), ErrorCode::InvalidInput);
    assert_eq!(
        e.message(),
        "The status Expired cannot be set; use Active or Inactive."
    );
    // A violation elsewhere is reported first.
    let e = iam_err("Action=UpdateAccessKey&AccessKeyId=short&Status=Expired");
    assert_eq!(e.code(), ErrorCode::ValidationError);
}

#[test]
fn scope_and_usage_enums() {
    assert_validation(
        "Action=ListPolicies&Scope=local",
        "Value 'local' at 'scope' failed to satisfy constraint: Member must satisfy enum value set: [All, AWS, Local]",
    );
    assert_eq!(SCOPE_VALUES.len(), 3);
    assert_validation(
        "Action=ListPolicies&PolicyUsageFilter=Both",
        "Value 'Both' at 'policyUsageFilter' failed to satisfy constraint: Member must satisfy enum value set: [PermissionsPolicy, PermissionsBoundary]",
    );
    assert_eq!(POLICY_USAGE_VALUES.len(), 2);
}

#[test]
fn only_attached_boolean() {
    let e = iam_err("Action=ListPolicies&OnlyAttached=yes");
    assert_eq!(e.code(), ErrorCode::InvalidParameterValue);
    assert_eq!(
        e.message(),
        "Value 'yes' for parameter OnlyAttached is invalid. It must be true or false."
    );
    assert_eq!(e.status(), 400);
}

#[test]
fn marker_constraints() {
    let max = "m".repeat(MARKER_MAX_LEN);
    assert!(iam(&format!("Action=ListUsers&Marker={max}")).is_ok());
    let long = "m".repeat(MARKER_MAX_LEN + 1);
    assert_validation(
        &format!("Action=ListUsers&Marker={long}"),
        &format!(
            "Value '{long}' at 'marker' failed to satisfy constraint: Member must have length less than or equal to 320"
        ),
    );
    assert_validation(
        "Action=ListAccessKeys&Marker=",
        "Value '' at 'marker' failed to satisfy constraint: Member must have length greater than or equal to 1",
    );
    assert_validation(
        "Action=ListUserPolicies&UserName=u&Marker=%0A",
        "Value '\n' at 'marker' failed to satisfy constraint: Member must satisfy regular expression pattern: [\\u0020-\\u00FF]+",
    );
    assert!(Marker::parse("\u{ff}").is_ok());
    assert!(Marker::parse("\u{100}").is_err());
}

#[test]
fn max_items_range() {
    assert_validation(
        &format!("Action=ListUsers&MaxItems={}", MAX_ITEMS_MIN - 1),
        "Value '0' at 'maxItems' failed to satisfy constraint: Member must have value greater than or equal to 1",
    );
    assert_validation(
        &format!("Action=ListPolicies&MaxItems={}", MAX_ITEMS_MAX + 1),
        "Value '1001' at 'maxItems' failed to satisfy constraint: Member must have value less than or equal to 1000",
    );
    assert_validation(
        "Action=ListAttachedUserPolicies&UserName=u&MaxItems=-5",
        "Value '-5' at 'maxItems' failed to satisfy constraint: Member must have value greater than or equal to 1",
    );
    let IamRequest::ListUsers(l) = iam_ok(&format!("Action=ListUsers&MaxItems={MAX_ITEMS_MIN}"))
    else {
        panic!()
    };
    assert_eq!(l.pagination.max_items.get(), 1);
    assert_eq!(MaxItems::default().get(), 100);
    for bad in ["abc", "", "1.5", "99999999999"] {
        let e = iam_err(&format!("Action=ListUsers&MaxItems={bad}"));
        assert_eq!(e.code(), ErrorCode::InvalidParameterValue, "{bad}");
        assert_eq!(
            e.message(),
            format!("Value '{bad}' for parameter MaxItems is invalid. It must be an integer.")
        );
    }
}

#[test]
fn unreadable_value_wins_over_violations() {
    let e = iam_err("Action=ListUsers&PathPrefix=x&MaxItems=abc");
    assert_eq!(e.code(), ErrorCode::InvalidParameterValue);
}

#[test]
fn policy_document_constraints() {
    let max = "x".repeat(POLICY_DOCUMENT_MAX_LEN);
    let ok = iam_ok(&format!(
        "Action=PutUserPolicy&UserName=u&PolicyName=p&PolicyDocument={max}"
    ));
    let IamRequest::PutUserPolicy(p) = ok else {
        panic!()
    };
    assert_eq!(p.policy_document.as_str().len(), POLICY_DOCUMENT_MAX_LEN);
    // Characters, not bytes: 131,072 Latin-1 characters are 262,144 bytes of UTF-8.
    let latin = "%C3%A9".repeat(POLICY_DOCUMENT_MAX_LEN);
    assert!(
        iam(&format!(
            "Action=CreatePolicy&PolicyName=p&PolicyDocument={latin}"
        ))
        .is_ok()
    );
    let long = "x".repeat(POLICY_DOCUMENT_MAX_LEN + 1);
    assert_validation(
        &format!("Action=PutUserPolicy&UserName=u&PolicyName=p&PolicyDocument={long}"),
        &format!(
            "Value '{long}' at 'policyDocument' failed to satisfy constraint: Member must have length less than or equal to 131072"
        ),
    );
    assert_validation(
        "Action=PutUserPolicy&UserName=u&PolicyName=p&PolicyDocument=",
        "Value '' at 'policyDocument' failed to satisfy constraint: Member must have length greater than or equal to 1",
    );
    // Beyond Latin-1 (a curly quote, as editors insert).
    assert_validation(
        "Action=CreatePolicy&PolicyName=p&PolicyDocument=%E2%80%9C",
        "Value '\u{201c}' at 'policyDocument' failed to satisfy constraint: Member must satisfy regular expression pattern: [\\u0009\\u000A\\u000D\\u0020-\\u00FF]+",
    );
    assert!(PolicyDocument::parse("{\t\r\n}").is_ok());
    assert!(PolicyDocument::parse("\u{1}").is_err());
}

#[test]
fn description_length() {
    let max = "d".repeat(DESCRIPTION_MAX_LEN);
    assert!(
        iam(&format!(
            "Action=CreatePolicy&PolicyName=p&PolicyDocument=%7B%7D&Description={max}"
        ))
        .is_ok()
    );
    // May be empty.
    let IamRequest::CreatePolicy(c) =
        iam_ok("Action=CreatePolicy&PolicyName=p&PolicyDocument=%7B%7D&Description=")
    else {
        panic!()
    };
    assert_eq!(c.description.unwrap().as_str(), "");
    let long = "d".repeat(DESCRIPTION_MAX_LEN + 1);
    assert_validation(
        &format!("Action=CreatePolicy&PolicyName=p&PolicyDocument=%7B%7D&Description={long}"),
        &format!(
            "Value '{long}' at 'description' failed to satisfy constraint: Member must have length less than or equal to 1000"
        ),
    );
}

#[test]
fn version_id_pattern() {
    for ok in ["v1", "v10", "v2.a-B", "v3."] {
        assert!(PolicyVersionId::parse(ok).is_ok(), "{ok}");
    }
    for bad in ["", "1", "v0", "v01", "V1", "v1.a_b", "v"] {
        assert!(PolicyVersionId::parse(bad).is_err(), "{bad}");
    }
    assert_validation(
        "Action=GetPolicyVersion&PolicyArn=arn:aws:iam::123456789012:policy/p&VersionId=v0",
        r"Value 'v0' at 'versionId' failed to satisfy constraint: Member must satisfy regular expression pattern: v[1-9][0-9]*(\.[A-Za-z0-9-]*)?",
    );
}

fn tags_form(n: usize) -> String {
    (1..=n)
        .map(|i| format!("&Tags.member.{i}.Key=k{i}&Tags.member.{i}.Value=v"))
        .collect()
}

#[test]
fn max_tags() {
    let IamRequest::CreateUser(c) = iam_ok(&format!(
        "Action=CreateUser&UserName=u{}",
        tags_form(MAX_TAGS)
    )) else {
        panic!()
    };
    assert_eq!(c.tags.len(), MAX_TAGS);
    assert_validation(
        &format!(
            "Action=CreatePolicy&PolicyName=p&PolicyDocument=%7B%7D{}",
            tags_form(MAX_TAGS + 1)
        ),
        "Value at 'tags' failed to satisfy constraint: Member must have length less than or equal to 50",
    );
}

#[test]
fn tag_key_constraints() {
    let max = "k".repeat(TAG_KEY_MAX_LEN);
    assert!(
        iam(&format!(
            "Action=CreateUser&UserName=u&Tags.member.1.Key={max}&Tags.member.1.Value=v"
        ))
        .is_ok()
    );
    let long = "k".repeat(TAG_KEY_MAX_LEN + 1);
    assert_validation(
        &format!("Action=CreateUser&UserName=u&Tags.member.1.Key={long}&Tags.member.1.Value=v"),
        &format!(
            "Value '{long}' at 'tags.1.member.key' failed to satisfy constraint: Member must have length less than or equal to 128"
        ),
    );
    assert_validation(
        "Action=CreateUser&UserName=u&Tags.member.1.Key=&Tags.member.1.Value=v",
        "Value '' at 'tags.1.member.key' failed to satisfy constraint: Member must have length greater than or equal to 1",
    );
    assert_validation(
        "Action=CreateUser&UserName=u&Tags.member.1.Key=a&Tags.member.1.Value=v&Tags.member.2.Key=b%28c%29&Tags.member.2.Value=v",
        r"Value 'b(c)' at 'tags.2.member.key' failed to satisfy constraint: Member must satisfy regular expression pattern: [\p{L}\p{Z}\p{N}_.:/=+\-@]+",
    );
    assert_validation(
        "Action=CreateUser&UserName=u&Tags.member.1.Value=v",
        "Value null at 'tags.1.member.key' failed to satisfy constraint: Member must not be null",
    );
    // Letters, digits and separators of any script.
    assert!(TagKey::parse("Größe 名前 ٣\u{a0}_.:/=+-@").is_ok());
}

#[test]
fn tag_value_constraints() {
    let max = "v".repeat(TAG_VALUE_MAX_LEN);
    assert!(
        iam(&format!(
            "Action=CreateUser&UserName=u&Tags.member.1.Key=k&Tags.member.1.Value={max}"
        ))
        .is_ok()
    );
    let long = "v".repeat(TAG_VALUE_MAX_LEN + 1);
    assert_validation(
        &format!("Action=CreateUser&UserName=u&Tags.member.1.Key=k&Tags.member.1.Value={long}"),
        &format!(
            "Value '{long}' at 'tags.1.member.value' failed to satisfy constraint: Member must have length less than or equal to 256"
        ),
    );
    assert_validation(
        "Action=CreatePolicy&PolicyName=p&PolicyDocument=%7B%7D&Tags.member.1.Key=k&Tags.member.1.Value=a%2Cb",
        r"Value 'a,b' at 'tags.1.member.value' failed to satisfy constraint: Member must satisfy regular expression pattern: [\p{L}\p{Z}\p{N}_.:/=+\-@]*",
    );
    assert_validation(
        "Action=CreateUser&UserName=u&Tags.member.1.Key=k",
        "Value null at 'tags.1.member.value' failed to satisfy constraint: Member must not be null",
    );
}

#[test]
fn duplicate_tag_keys() {
    let e = iam_err(
        "Action=CreateUser&UserName=u&Tags.member.1.Key=Team&Tags.member.1.Value=a&Tags.member.2.Key=team&Tags.member.2.Value=b",
    );
    assert_eq!(e.code(), ErrorCode::InvalidInput);
    assert_eq!(
        e.message(),
        "Duplicate tag keys found. Please note that Tag keys are case insensitive."
    );
}

#[test]
fn malformed_tag_parameters() {
    for body in [
        "Action=CreateUser&UserName=u&Tags.member.0.Key=k",
        "Action=CreateUser&UserName=u&Tags.member.01.Key=k",
        "Action=CreateUser&UserName=u&Tags.member.x.Key=k",
        "Action=CreateUser&UserName=u&Tags.member.1.Name=k",
        "Action=CreateUser&UserName=u&Tags.member.99999999999.Key=k",
        "Action=CreateUser&UserName=u&Tags.1.Key=k",
        "Action=CreateUser&UserName=u&Tags=k",
    ] {
        assert_eq!(
            iam_err(body).code(),
            ErrorCode::InvalidParameterValue,
            "{body}"
        );
    }
    // Actions without tags ignore such parameters.
    assert!(iam("Action=GetUser&Tags.member.0.Key=k").is_ok());
}

#[test]
fn violations_across_members_in_shape_order() {
    let e = iam_err("Action=CreateUser&Path=x&UserName=a+b");
    assert_eq!(
        e.message(),
        "2 validation errors detected: Value 'x' at 'path' failed to satisfy constraint: Member must \
         satisfy regular expression pattern: (\\u002F)|(\\u002F[\\u0021-\\u007E]+\\u002F); Value 'a b' \
         at 'userName' failed to satisfy constraint: Member must satisfy regular expression pattern: \
         [\\w+=,.@-]+"
    );
}

#[test]
fn newtype_parse_matches_request_parse() {
    assert!(UserName::parse("a b").is_err());
    assert_eq!(PolicyName::parse("p").unwrap().to_string(), "p");
    assert!(PolicyArn::parse("short").is_err());
    assert!(Description::parse("").is_ok());
    assert!(TagValue::parse("").is_ok());
    assert!(TagKey::parse("").is_err());
    assert_eq!(UserPathPrefix::default().as_str(), "/");
    assert_eq!(UserPath::default().into_string(), "/");
    assert_eq!(PolicyPath::default().as_ref(), "/");
}

// ---------------------------------------------------------------- golden responses

#[test]
fn golden_create_and_get_user() {
    let xml = doc(&IamResponse::CreateUser(bob(vec![])));
    assert_eq!(xml, wrap("CreateUser", &format!("<User>{BOB_XML}</User>")));

    let mut user = bob(vec![TagRef {
        key: "team",
        value: "a&b",
    }]);
    user.password_last_used = Some(Timestamp(1_412_951_871));
    user.permissions_boundary = Some("arn:aws:iam::123456789012:policy/bound");
    let xml = doc(&IamResponse::GetUser(user));
    assert_eq!(
        xml,
        wrap(
            "GetUser",
            &format!(
                "<User>{BOB_XML}<PasswordLastUsed>2014-10-10T14:37:51Z</PasswordLastUsed>\
                 <PermissionsBoundary><PermissionsBoundaryType>PermissionsBoundaryPolicy\
                 </PermissionsBoundaryType><PermissionsBoundaryArn>arn:aws:iam::123456789012:policy/bound\
                 </PermissionsBoundaryArn></PermissionsBoundary><Tags><member><Key>team</Key>\
                 <Value>a&amp;b</Value></member></Tags></User>"
            )
        )
    );
    assert_eq!(text_of(&xml, "Value").as_deref(), Some("a&b"));
}

#[test]
fn golden_list_users() {
    let mut user = bob(vec![TagRef {
        key: "k",
        value: "v",
    }]);
    user.permissions_boundary = Some("arn:aws:iam::123456789012:policy/bound");
    let xml = doc(&IamResponse::ListUsers {
        users: vec![user, bob(vec![])],
        truncation: Truncation::Truncated {
            marker: "next page",
        },
    });
    // Listings leave tags and boundaries out.
    assert_eq!(
        xml,
        wrap(
            "ListUsers",
            &format!(
                "<Users><member>{BOB_XML}</member><member>{BOB_XML}</member></Users>\
                 <IsTruncated>true</IsTruncated><Marker>next page</Marker>"
            )
        )
    );
    let xml = doc(&IamResponse::ListUsers {
        users: vec![],
        truncation: Truncation::Complete,
    });
    assert_eq!(
        xml,
        wrap("ListUsers", "<Users/><IsTruncated>false</IsTruncated>")
    );
}

#[test]
fn golden_empty_results() {
    for (resp, action) in [
        (IamResponse::DeleteUser, "DeleteUser"),
        (IamResponse::UpdateAccessKey, "UpdateAccessKey"),
        (IamResponse::DeleteAccessKey, "DeleteAccessKey"),
        (IamResponse::PutUserPolicy, "PutUserPolicy"),
        (IamResponse::DeleteUserPolicy, "DeleteUserPolicy"),
        (IamResponse::DeletePolicy, "DeletePolicy"),
        (IamResponse::AttachUserPolicy, "AttachUserPolicy"),
        (IamResponse::DetachUserPolicy, "DetachUserPolicy"),
    ] {
        let xml = doc(&resp);
        assert_eq!(
            xml,
            format!(
                "<{action}Response xmlns=\"https://iam.amazonaws.com/doc/2010-05-08/\">\
                 <ResponseMetadata><RequestId>7a62c49f-347e-4fc4-9331-6e8eEXAMPLE</RequestId>\
                 </ResponseMetadata></{action}Response>"
            )
        );
        assert_eq!(resp.action().as_str(), action);
    }
}

#[test]
fn golden_create_access_key() {
    let key = AccessKey {
        user_name: "Bob",
        access_key_id: "AKIAIOSFODNN7EXAMPLE",
        status: AccessKeyStatus::Active,
        secret_access_key: "wJalrXUtnFEMI/K7MDENG/bPxRfiCYzEXAMPLEKEY",
        create_date: T1,
    };
    let dbg = format!("{:?}", IamResponse::CreateAccessKey(key.clone()));
    assert!(!dbg.contains("wJalrXUtnFEMI"), "{dbg}");
    assert!(dbg.contains("<redacted>"));
    let xml = doc(&IamResponse::CreateAccessKey(key));
    assert_eq!(
        xml,
        wrap(
            "CreateAccessKey",
            "<AccessKey><UserName>Bob</UserName><AccessKeyId>AKIAIOSFODNN7EXAMPLE</AccessKeyId>\
             <Status>Active</Status><SecretAccessKey>wJalrXUtnFEMI/K7MDENG/bPxRfiCYzEXAMPLEKEY\
             </SecretAccessKey><CreateDate>2013-10-02T17:01:44Z</CreateDate></AccessKey>"
        )
    );
}

#[test]
fn golden_list_access_keys() {
    let xml = doc(&IamResponse::ListAccessKeys {
        keys: vec![
            AccessKeyMetadata {
                user_name: "Bob",
                access_key_id: "AKIA1111111111EXAMPLE",
                status: AccessKeyStatus::Active,
                create_date: T1,
            },
            AccessKeyMetadata {
                user_name: "Bob",
                access_key_id: "AKIA2222222222EXAMPLE",
                status: AccessKeyStatus::Inactive,
                create_date: T2,
            },
        ],
        truncation: Truncation::Complete,
    });
    assert_eq!(
        xml,
        wrap(
            "ListAccessKeys",
            "<AccessKeyMetadata><member><UserName>Bob</UserName><AccessKeyId>AKIA1111111111EXAMPLE\
             </AccessKeyId><Status>Active</Status><CreateDate>2013-10-02T17:01:44Z</CreateDate>\
             </member><member><UserName>Bob</UserName><AccessKeyId>AKIA2222222222EXAMPLE\
             </AccessKeyId><Status>Inactive</Status><CreateDate>2014-09-15T17:36:14Z</CreateDate>\
             </member></AccessKeyMetadata><IsTruncated>false</IsTruncated>"
        )
    );
    let xml = doc(&IamResponse::ListAccessKeys {
        keys: vec![],
        truncation: Truncation::Complete,
    });
    assert_eq!(
        xml,
        wrap(
            "ListAccessKeys",
            "<AccessKeyMetadata/><IsTruncated>false</IsTruncated>"
        )
    );
}

#[test]
fn golden_get_user_policy() {
    let xml = doc(&IamResponse::GetUserPolicy {
        user_name: "Bob",
        policy_name: "AllAccessPolicy",
        policy_document: DOCUMENT,
    });
    assert_eq!(
        xml,
        wrap(
            "GetUserPolicy",
            &format!(
                "<UserName>Bob</UserName><PolicyName>AllAccessPolicy</PolicyName>\
                 <PolicyDocument>{DOCUMENT_ENCODED}</PolicyDocument>"
            )
        )
    );
    // What botocore does with it: unquote, then json.loads.
    let encoded = text_of(&xml, "PolicyDocument").unwrap();
    assert_eq!(percent_decode(&encoded), DOCUMENT);
}

/// What an XML reader gets back for `s`: characters XML 1.0 cannot carry are U+FFFD.
fn xml_safe(s: &str) -> String {
    s.chars()
        .map(|c| match c {
            '\t' | '\n' | '\r' => c,
            c if (c as u32) < 0x20 || c == '\u{fffe}' || c == '\u{ffff}' => '\u{fffd}',
            c => c,
        })
        .collect()
}

fn percent_decode(s: &str) -> String {
    percent_encoding::percent_decode_str(s)
        .decode_utf8()
        .unwrap()
        .into_owned()
}

#[test]
fn golden_list_user_policies() {
    let xml = doc(&IamResponse::ListUserPolicies {
        policy_names: vec!["AllAccessPolicy", "KeyPolicy"],
        truncation: Truncation::Truncated { marker: "m<1>" },
    });
    assert_eq!(
        xml,
        wrap(
            "ListUserPolicies",
            "<PolicyNames><member>AllAccessPolicy</member><member>KeyPolicy</member></PolicyNames>\
             <IsTruncated>true</IsTruncated><Marker>m&lt;1&gt;</Marker>"
        )
    );
    let xml = doc(&IamResponse::ListUserPolicies {
        policy_names: vec![],
        truncation: Truncation::Complete,
    });
    assert_eq!(
        xml,
        wrap(
            "ListUserPolicies",
            "<PolicyNames/><IsTruncated>false</IsTruncated>"
        )
    );
}

#[test]
fn golden_create_policy() {
    // CreatePolicy never returns the description; tags only when there are some.
    let xml = doc(&IamResponse::CreatePolicy(policy(vec![])));
    assert_eq!(
        xml,
        wrap(
            "CreatePolicy",
            &format!("<Policy>{POLICY_HEAD}{POLICY_DATES}</Policy>")
        )
    );
    let xml = doc(&IamResponse::CreatePolicy(policy(vec![TagRef {
        key: "k",
        value: "",
    }])));
    assert_eq!(
        xml,
        wrap(
            "CreatePolicy",
            &format!(
                "<Policy>{POLICY_HEAD}{POLICY_DATES}<Tags><member><Key>k</Key><Value></Value>\
                 </member></Tags></Policy>"
            )
        )
    );
}

#[test]
fn golden_get_policy() {
    let xml = doc(&IamResponse::GetPolicy(policy(vec![TagRef {
        key: "k",
        value: "v",
    }])));
    assert_eq!(
        xml,
        wrap(
            "GetPolicy",
            &format!(
                "<Policy>{POLICY_HEAD}<Description>Read-only access to example-bucket</Description>\
                 {POLICY_DATES}<Tags><member><Key>k</Key><Value>v</Value></member></Tags></Policy>"
            )
        )
    );
    // An empty or absent description is left out.
    for description in [None, Some("")] {
        let mut p = policy(vec![]);
        p.description = description;
        let xml = doc(&IamResponse::GetPolicy(p));
        assert_eq!(
            xml,
            wrap(
                "GetPolicy",
                &format!("<Policy>{POLICY_HEAD}{POLICY_DATES}</Policy>")
            )
        );
    }
}

#[test]
fn golden_get_policy_version() {
    let xml = doc(&IamResponse::GetPolicyVersion(PolicyVersion {
        document: DOCUMENT,
        version_id: "v1",
        is_default_version: true,
        create_date: T2,
    }));
    assert_eq!(
        xml,
        wrap(
            "GetPolicyVersion",
            &format!(
                "<PolicyVersion><Document>{DOCUMENT_ENCODED}</Document><VersionId>v1</VersionId>\
                 <IsDefaultVersion>true</IsDefaultVersion><CreateDate>2014-09-15T17:36:14Z\
                 </CreateDate></PolicyVersion>"
            )
        )
    );
    assert_eq!(
        percent_decode(&text_of(&xml, "Document").unwrap()),
        DOCUMENT
    );
}

#[test]
fn golden_list_policies() {
    let mut second = policy(vec![TagRef {
        key: "k",
        value: "v",
    }]);
    second.attachment_count = 3;
    second.is_attachable = false;
    let xml = doc(&IamResponse::ListPolicies {
        policies: vec![policy(vec![]), second],
        truncation: Truncation::Truncated {
            marker: "EXAMPLEkakv9BCuUNFDtxWSyfzetYwEx2ADc8dnzfvERF5S",
        },
    });
    let second_head = POLICY_HEAD
        .replace("<AttachmentCount>0<", "<AttachmentCount>3<")
        .replace("<IsAttachable>true<", "<IsAttachable>false<");
    // Listings leave descriptions and tags out.
    assert_eq!(
        xml,
        wrap(
            "ListPolicies",
            &format!(
                "<Policies><member>{POLICY_HEAD}{POLICY_DATES}</member><member>{second_head}\
                 {POLICY_DATES}</member></Policies><IsTruncated>true</IsTruncated>\
                 <Marker>EXAMPLEkakv9BCuUNFDtxWSyfzetYwEx2ADc8dnzfvERF5S</Marker>"
            )
        )
    );
    let xml = doc(&IamResponse::ListPolicies {
        policies: vec![],
        truncation: Truncation::Complete,
    });
    assert_eq!(
        xml,
        wrap(
            "ListPolicies",
            "<Policies/><IsTruncated>false</IsTruncated>"
        )
    );
}

#[test]
fn golden_list_attached_user_policies() {
    let xml = doc(&IamResponse::ListAttachedUserPolicies {
        policies: vec![AttachedPolicy {
            policy_name: "AdministratorAccess",
            policy_arn: "arn:aws:iam::aws:policy/AdministratorAccess",
        }],
        truncation: Truncation::Complete,
    });
    assert_eq!(
        xml,
        wrap(
            "ListAttachedUserPolicies",
            "<AttachedPolicies><member><PolicyName>AdministratorAccess</PolicyName>\
             <PolicyArn>arn:aws:iam::aws:policy/AdministratorAccess</PolicyArn></member>\
             </AttachedPolicies><IsTruncated>false</IsTruncated>"
        )
    );
    let xml = doc(&IamResponse::ListAttachedUserPolicies {
        policies: vec![],
        truncation: Truncation::Complete,
    });
    assert_eq!(
        xml,
        wrap(
            "ListAttachedUserPolicies",
            "<AttachedPolicies/><IsTruncated>false</IsTruncated>"
        )
    );
}

#[test]
fn golden_get_caller_identity() {
    let resp = StsResponse::GetCallerIdentity(CallerIdentity {
        arn: "arn:aws:iam::123456789012:user/Alice",
        user_id: "AKIAI44QH8DHBEXAMPLE",
        account: "123456789012",
    });
    let xml = render_sts(&resp, "01234567-89ab-cdef-0123-456789abcdef");
    assert_well_formed(&xml);
    assert_eq!(
        xml,
        "<GetCallerIdentityResponse xmlns=\"https://sts.amazonaws.com/doc/2011-06-15/\">\
         <GetCallerIdentityResult><Arn>arn:aws:iam::123456789012:user/Alice</Arn>\
         <UserId>AKIAI44QH8DHBEXAMPLE</UserId><Account>123456789012</Account>\
         </GetCallerIdentityResult><ResponseMetadata><RequestId>01234567-89ab-cdef-0123-456789abcdef\
         </RequestId></ResponseMetadata></GetCallerIdentityResponse>"
    );
    assert_eq!(resp.action(), StsAction::GetCallerIdentity);
}

#[test]
fn every_action_has_a_rendering() {
    // One response per action, each well-formed and named after its action.
    let user = bob(vec![]);
    let responses = [
        IamResponse::CreateUser(user.clone()),
        IamResponse::GetUser(user.clone()),
        IamResponse::ListUsers {
            users: vec![user],
            truncation: Truncation::Complete,
        },
        IamResponse::DeleteUser,
        IamResponse::CreateAccessKey(AccessKey {
            user_name: "u",
            access_key_id: "AKIAIOSFODNN7EXAMPLE",
            status: AccessKeyStatus::Active,
            secret_access_key: "s",
            create_date: T1,
        }),
        IamResponse::ListAccessKeys {
            keys: vec![],
            truncation: Truncation::Complete,
        },
        IamResponse::UpdateAccessKey,
        IamResponse::DeleteAccessKey,
        IamResponse::PutUserPolicy,
        IamResponse::GetUserPolicy {
            user_name: "u",
            policy_name: "p",
            policy_document: "{}",
        },
        IamResponse::ListUserPolicies {
            policy_names: vec![],
            truncation: Truncation::Complete,
        },
        IamResponse::DeleteUserPolicy,
        IamResponse::CreatePolicy(policy(vec![])),
        IamResponse::GetPolicy(policy(vec![])),
        IamResponse::GetPolicyVersion(PolicyVersion {
            document: "{}",
            version_id: "v1",
            is_default_version: true,
            create_date: T1,
        }),
        IamResponse::ListPolicies {
            policies: vec![],
            truncation: Truncation::Complete,
        },
        IamResponse::DeletePolicy,
        IamResponse::AttachUserPolicy,
        IamResponse::DetachUserPolicy,
        IamResponse::ListAttachedUserPolicies {
            policies: vec![],
            truncation: Truncation::Complete,
        },
    ];
    let actions: Vec<IamAction> = responses.iter().map(IamResponse::action).collect();
    assert_eq!(actions, IamAction::ALL);
    for r in &responses {
        let xml = doc(r);
        let root = format!("<{}Response xmlns=\"{IAM_NS}\">", r.action());
        assert!(xml.starts_with(&root), "{xml}");
        assert_eq!(text_of(&xml, "RequestId").as_deref(), Some(REQ));
    }
}

// ---------------------------------------------------------------- errors

#[test]
fn golden_errors() {
    let xml = render_error(
        ErrorCode::NoSuchEntity,
        "The user with name bob cannot be found.",
        "4ab1fc2a-0000-4d9e-8c5a-EXAMPLE",
        Service::Iam,
    );
    assert_well_formed(&xml);
    assert_eq!(
        xml,
        "<ErrorResponse xmlns=\"https://iam.amazonaws.com/doc/2010-05-08/\"><Error><Type>Sender</Type>\
         <Code>NoSuchEntity</Code><Message>The user with name bob cannot be found.</Message></Error>\
         <RequestId>4ab1fc2a-0000-4d9e-8c5a-EXAMPLE</RequestId></ErrorResponse>"
    );
    let e = WireError::new(ErrorCode::ServiceFailure, "boom <&>");
    let xml = e.render("r", Service::Sts);
    assert_well_formed(&xml);
    assert_eq!(
        xml,
        "<ErrorResponse xmlns=\"https://sts.amazonaws.com/doc/2011-06-15/\"><Error><Type>Receiver</Type>\
         <Code>ServiceFailure</Code><Message>boom &lt;&amp;&gt;</Message></Error>\
         <RequestId>r</RequestId></ErrorResponse>"
    );
    assert_eq!(e.status(), 500);
}

#[test]
fn validation_error_document_quotes_the_value_safely() {
    let e = iam_err("Action=CreateUser&UserName=%3C%2FMessage%3E%01%0D");
    let xml = e.render(REQ, Service::Iam);
    assert_well_formed(&xml);
    // XML 1.0 cannot carry U+0001 in any form; it reads back as U+FFFD.
    assert_eq!(
        text_of(&xml, "Message"),
        Some(e.message().replace('\u{1}', "\u{fffd}"))
    );
    assert!(
        xml.contains("Value '&lt;/Message&gt;\u{fffd}&#xD;' at 'userName'"),
        "{xml}"
    );
}

#[test]
fn error_code_table() {
    use ErrorCode::*;
    let expected: &[(ErrorCode, u16, Fault)] = &[
        (NoSuchEntity, 404, Fault::Sender),
        (EntityAlreadyExists, 409, Fault::Sender),
        (DeleteConflict, 409, Fault::Sender),
        (LimitExceeded, 409, Fault::Sender),
        (MalformedPolicyDocument, 400, Fault::Sender),
        (InvalidInput, 400, Fault::Sender),
        (ConcurrentModification, 409, Fault::Sender),
        (PolicyNotAttachable, 400, Fault::Sender),
        (UnmodifiableEntity, 400, Fault::Sender),
        (EntityTemporarilyUnmodifiable, 409, Fault::Sender),
        (ServiceFailure, 500, Fault::Receiver),
        (AccessDenied, 403, Fault::Sender),
        (IncompleteSignature, 400, Fault::Sender),
        (InternalFailure, 500, Fault::Receiver),
        (InvalidAction, 400, Fault::Sender),
        (InvalidClientTokenId, 403, Fault::Sender),
        (InvalidParameterCombination, 400, Fault::Sender),
        (InvalidParameterValue, 400, Fault::Sender),
        (InvalidQueryParameter, 400, Fault::Sender),
        (MalformedQueryString, 404, Fault::Sender),
        (MissingAction, 400, Fault::Sender),
        (MissingAuthenticationToken, 403, Fault::Sender),
        (MissingParameter, 400, Fault::Sender),
        (OptInRequired, 403, Fault::Sender),
        (RequestExpired, 400, Fault::Sender),
        (SignatureDoesNotMatch, 403, Fault::Sender),
        (ExpiredToken, 403, Fault::Sender),
        (ServiceUnavailable, 503, Fault::Receiver),
        (Throttling, 400, Fault::Sender),
        (ValidationError, 400, Fault::Sender),
    ];
    assert_eq!(expected.len(), ErrorCode::ALL.len());
    for (&(code, status, fault), &listed) in expected.iter().zip(ErrorCode::ALL.iter()) {
        assert_eq!(code, listed);
        assert_eq!(code.status(), status, "{code}");
        assert_eq!(code.fault(), fault, "{code}");
        assert_eq!(code.to_string(), format!("{code:?}"));
        let xml = render_error(code, "m", "r", Service::Iam);
        assert_eq!(text_of(&xml, "Code").as_deref(), Some(code.as_str()));
        assert_eq!(text_of(&xml, "Type").as_deref(), Some(fault.as_str()));
    }
}

#[test]
fn error_helpers_use_aws_wording() {
    let cases = [
        (
            WireError::no_such_user("bob"),
            ErrorCode::NoSuchEntity,
            "The user with name bob cannot be found.",
        ),
        (
            WireError::user_already_exists("bob"),
            ErrorCode::EntityAlreadyExists,
            "User with name bob already exists.",
        ),
        (
            WireError::no_such_access_key("AKIAIOSFODNN7EXAMPLE"),
            ErrorCode::NoSuchEntity,
            "The Access Key with id AKIAIOSFODNN7EXAMPLE cannot be found.",
        ),
        (
            WireError::no_such_user_policy("p"),
            ErrorCode::NoSuchEntity,
            "The user policy with name p cannot be found.",
        ),
        (
            WireError::no_such_policy("arn:p"),
            ErrorCode::NoSuchEntity,
            "Policy arn:p was not found.",
        ),
        (
            WireError::policy_already_exists("p"),
            ErrorCode::EntityAlreadyExists,
            "A policy called p already exists. Duplicate names are not allowed.",
        ),
        (
            WireError::user_has_access_keys(),
            ErrorCode::DeleteConflict,
            "Cannot delete entity, must delete access keys first.",
        ),
        (
            WireError::access_keys_quota(2),
            ErrorCode::LimitExceeded,
            "Cannot exceed quota for AccessKeysPerUser: 2",
        ),
        (
            WireError::inline_policy_size("bob", 2048),
            ErrorCode::LimitExceeded,
            "Maximum policy size of 2048 bytes exceeded for user bob",
        ),
        (
            WireError::managed_policy_size(6144),
            ErrorCode::LimitExceeded,
            "Cannot exceed quota for PolicySize: 6144",
        ),
        (
            WireError::invalid_client_token_id(),
            ErrorCode::InvalidClientTokenId,
            "The security token included in the request is invalid.",
        ),
    ];
    for (e, code, message) in cases {
        assert_eq!(e.code(), code);
        assert_eq!(e.message(), message);
    }
    for e in [
        WireError::no_such_policy_version("arn:p", "v9"),
        WireError::policy_not_attachable("arn:p"),
        WireError::user_has_inline_policies(),
        WireError::user_has_attached_policies(),
        WireError::policy_attached(),
        WireError::access_denied(
            "arn:aws:iam::1:user/u",
            "iam:CreateUser",
            "arn:aws:iam::1:user/v",
        ),
        WireError::signature_does_not_match(),
        WireError::missing_authentication_token(),
        WireError::service_failure(),
    ] {
        assert!(!e.message().is_empty());
        assert_well_formed(&e.render("r", Service::Iam));
    }
    assert_eq!(
        WireError::no_such_user("x").to_string(),
        "NoSuchEntity: The user with name x cannot be found."
    );
}

// ---------------------------------------------------------------- text pieces

#[test]
fn timestamps() {
    assert_eq!(T1.to_iso8601(), "2013-10-02T17:01:44Z");
    assert_eq!(Timestamp(0).to_iso8601(), "1970-01-01T00:00:00Z");
    assert_eq!(
        Timestamp(MAX_TIMESTAMP).to_iso8601(),
        "9999-12-31T23:59:59Z"
    );
    assert_eq!(Timestamp(i64::MAX).to_iso8601(), "9999-12-31T23:59:59Z");
    assert_eq!(
        Timestamp(MIN_TIMESTAMP).to_iso8601(),
        "0000-01-01T00:00:00Z"
    );
    assert_eq!(Timestamp(i64::MIN).to_iso8601(), "0000-01-01T00:00:00Z");
    let t = time::macros::datetime!(2013-10-02 17:01:44.673 UTC);
    assert_eq!(Timestamp::from(t), T1);
    assert_eq!(Timestamp::from_unix(5).0, 5);
}

#[test]
fn policy_url_encoding_is_rfc3986() {
    assert_eq!(url_encode_policy("AZaz09-._~"), "AZaz09-._~");
    assert_eq!(url_encode_policy(" +*/:"), "%20%2B%2A%2F%3A");
    assert_eq!(url_encode_policy("é\u{1F600}"), "%C3%A9%F0%9F%98%80");
    assert_eq!(url_encode_policy(DOCUMENT), DOCUMENT_ENCODED);
}

// ---------------------------------------------------------------- properties

fn arb_form() -> impl Strategy<Value = Vec<u8>> {
    let names = prop::sample::select(vec![
        "Action",
        "Version",
        "UserName",
        "Path",
        "PathPrefix",
        "PolicyName",
        "PolicyDocument",
        "PolicyArn",
        "AccessKeyId",
        "Status",
        "Scope",
        "OnlyAttached",
        "Marker",
        "MaxItems",
        "Description",
        "VersionId",
        "PolicyUsageFilter",
        "PermissionsBoundary",
        "Tags",
        "Tags.member.1.Key",
        "Tags.member.1.Value",
        "Tags.member.2.Key",
        "Tags.member.0.Value",
    ]);
    let actions = prop::sample::select(
        IamAction::ALL
            .iter()
            .map(|a| a.as_str())
            .chain(["GetCallerIdentity", "Nope"])
            .collect::<Vec<_>>(),
    );
    let value = prop_oneof![
        "[ -~]{0,40}",
        "(%[0-9A-Fa-f]{2}|[a-zA-Z0-9/+=]){0,20}",
        prop::collection::vec(any::<char>(), 0..20).prop_map(|v| v.into_iter().collect::<String>()),
        Just("2010-05-08".to_owned()),
        Just("Active".to_owned()),
        Just("0".to_owned()),
    ];
    (actions, prop::collection::vec((names, value), 0..12)).prop_map(|(action, pairs)| {
        let mut body = format!("Action={action}");
        for (n, v) in pairs {
            body.push('&');
            body.push_str(n);
            body.push('=');
            body.push_str(&v);
        }
        body.into_bytes()
    })
}

proptest! {
    #[test]
    fn random_bytes_never_panic(body in prop::collection::vec(any::<u8>(), 0..512)) {
        if let Ok(p) = parse_form(&body) {
            let _ = parse_iam(&p);
            let _ = parse_sts(&p);
            let _ = Service::detect(&p);
        }
    }

    #[test]
    fn random_forms_never_panic(body in arb_form()) {
        if let Ok(p) = parse_form(&body) {
            match parse_iam(&p) {
                Ok(r) => { let _ = r.action(); }
                Err(e) => {
                    let xml = e.render(REQ, Service::Iam);
                    assert_well_formed(&xml);
                    prop_assert_eq!(text_of(&xml, "Message"), Some(xml_safe(e.message())));
                }
            }
            let _ = parse_sts(&p);
        }
    }

    #[test]
    fn rendered_text_survives(s in prop::collection::vec(any::<char>(), 0..64)
        .prop_map(|v| v.into_iter().collect::<String>())) {
        // Any text reads back as written, but for what XML 1.0 cannot carry.
        let xml = render(
            &IamResponse::ListUserPolicies { policy_names: vec![&s], truncation: Truncation::Truncated { marker: &s } },
            &s,
        );
        assert_well_formed(&xml);
        prop_assert_eq!(text_of(&xml, "member"), Some(xml_safe(&s)));
        prop_assert_eq!(text_of(&xml, "Marker"), Some(xml_safe(&s)));
        let encoded = url_encode_policy(&s);
        prop_assert!(encoded.bytes().all(|b| b.is_ascii_alphanumeric() || b"-._~%".contains(&b)));
        prop_assert_eq!(percent_decode(&encoded), s);
    }

    #[test]
    fn accepted_values_satisfy_their_patterns(name in "[A-Za-z0-9_+=,.@-]{1,64}", path in "/([!-~]{1,20}/)?") {
        let body = format!(
            "Action=CreateUser&UserName={}&Path={}",
            url_encode_policy(&name),
            url_encode_policy(&path)
        );
        let r = parse_iam(&parse_form(body.as_bytes()).unwrap());
        match r {
            Ok(IamRequest::CreateUser(c)) => {
                prop_assert_eq!(c.user_name.as_str(), name.as_str());
                prop_assert_eq!(c.path.as_str(), path.as_str());
            }
            other => prop_assert!(false, "{:?}", other),
        }
    }
}
