//! XML tests: responses against the shapes of AWS's documented examples, requests parsed from
//! AWS's documented request bodies, and hostile input.
// Test-only: compiled under #[cfg(test)], as the parent module declares it.
#![cfg(test)]

use super::*;

const DECL: &str = "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n";
const NS: &str = "xmlns=\"http://s3.amazonaws.com/doc/2006-03-01/\"";

fn render<T: Serialize>(root: &str, value: &T) -> String {
    let xml = to_xml(root, value).expect("serializes");
    let body = xml.strip_prefix(DECL).expect("declaration first");
    assert_well_formed(body);
    body.to_owned()
}

fn assert_well_formed(xml: &str) {
    let mut reader = quick_xml::Reader::from_str(xml);
    loop {
        match reader.read_event() {
            Ok(quick_xml::events::Event::Eof) => break,
            Ok(_) => {}
            Err(e) => panic!("not well-formed: {e}\n{xml}"),
        }
    }
}

fn owner() -> Owner {
    Owner {
        id: "75aa57f09aa0c8caeab4f8c24e99d10f8e7faeebf76c078efc7c6caea54ba06a".into(),
        display_name: Some("webfile".into()),
    }
}

#[test]
fn timestamps() {
    assert_eq!(
        format_timestamp(1_255_369_830_000),
        "2009-10-12T17:50:30.000Z"
    );
    assert_eq!(format_timestamp(0), "1970-01-01T00:00:00.000Z");
    assert_eq!(
        format_timestamp(1_700_000_000_123),
        "2023-11-14T22:13:20.123Z"
    );
    assert_eq!(format_timestamp(u64::MAX), "9999-12-31T23:59:59.999Z");
    assert_eq!(
        format_http_date(784_111_777_000),
        "Sun, 06 Nov 1994 08:49:37 GMT"
    );
    assert_eq!(
        format_http_date(784_111_777_999),
        "Sun, 06 Nov 1994 08:49:37 GMT"
    );
    assert_eq!(format_http_date(u64::MAX), "Fri, 31 Dec 9999 23:59:59 GMT");
}

#[test]
fn list_all_my_buckets_result() {
    let r = ListAllMyBucketsResult {
        owner: owner(),
        buckets: Buckets {
            bucket: vec![
                Bucket {
                    name: "quotes".into(),
                    creation_date: Timestamp(1_141_257_449_000),
                    bucket_region: None,
                },
                Bucket {
                    name: "samples".into(),
                    creation_date: Timestamp(1_141_257_449_000),
                    bucket_region: Some("us-east-1".into()),
                },
            ],
        },
        ..Default::default()
    };
    assert_eq!(
        render("ListAllMyBucketsResult", &r),
        format!(
            "<ListAllMyBucketsResult {NS}><Owner><ID>75aa57f09aa0c8caeab4f8c24e99d10f8e7faeebf76c078efc7c6caea54ba06a</ID>\
             <DisplayName>webfile</DisplayName></Owner><Buckets>\
             <Bucket><Name>quotes</Name><CreationDate>2006-03-01T23:57:29.000Z</CreationDate></Bucket>\
             <Bucket><Name>samples</Name><CreationDate>2006-03-01T23:57:29.000Z</CreationDate><BucketRegion>us-east-1</BucketRegion></Bucket>\
             </Buckets></ListAllMyBucketsResult>"
        )
    );
    let empty = render(
        "ListAllMyBucketsResult",
        &ListAllMyBucketsResult {
            owner: owner(),
            ..Default::default()
        },
    );
    assert!(empty.contains("<Buckets/>"), "{empty}");
}

#[test]
fn location_and_versioning() {
    assert_eq!(
        render("LocationConstraint", &LocationConstraint::default()),
        format!("<LocationConstraint {NS}/>")
    );
    assert_eq!(
        render(
            "LocationConstraint",
            &LocationConstraint {
                region: Some("eu-west-1".into()),
                ..Default::default()
            }
        ),
        format!("<LocationConstraint {NS}>eu-west-1</LocationConstraint>")
    );
    assert_eq!(
        render(
            "VersioningConfiguration",
            &VersioningConfiguration::default()
        ),
        format!("<VersioningConfiguration {NS}/>")
    );
    assert_eq!(
        render(
            "VersioningConfiguration",
            &VersioningConfiguration {
                status: Some("Enabled".into()),
                ..Default::default()
            }
        ),
        format!("<VersioningConfiguration {NS}><Status>Enabled</Status></VersioningConfiguration>")
    );
}

fn object(key: &str) -> Object {
    Object {
        key: key.into(),
        last_modified: Timestamp(1_255_369_830_000),
        etag: "\"fba9dede5f27731c9771645a39863328\"".into(),
        size: 434_234,
        storage_class: "STANDARD".into(),
        ..Default::default()
    }
}

#[test]
fn list_bucket_result_v1() {
    let r = ListBucketResultV1 {
        name: "bucket".into(),
        prefix: "".into(),
        marker: "".into(),
        max_keys: 1000,
        is_truncated: false,
        contents: vec![Object {
            owner: Some(owner()),
            ..object("my-image.jpg")
        }],
        ..Default::default()
    };
    assert_eq!(
        render("ListBucketResult", &r),
        format!(
            "<ListBucketResult {NS}><Name>bucket</Name><Prefix/><Marker/><MaxKeys>1000</MaxKeys>\
             <IsTruncated>false</IsTruncated><Contents><Key>my-image.jpg</Key>\
             <LastModified>2009-10-12T17:50:30.000Z</LastModified>\
             <ETag>\"fba9dede5f27731c9771645a39863328\"</ETag><Size>434234</Size>\
             <StorageClass>STANDARD</StorageClass><Owner><ID>75aa57f09aa0c8caeab4f8c24e99d10f8e7faeebf76c078efc7c6caea54ba06a</ID>\
             <DisplayName>webfile</DisplayName></Owner></Contents></ListBucketResult>"
        )
    );
    let r = ListBucketResultV1 {
        name: "example-bucket".into(),
        prefix: "photos/2006/".into(),
        marker: "".into(),
        next_marker: Some("photos/2006/January/".into()),
        max_keys: 1000,
        delimiter: Some("/".into()),
        is_truncated: true,
        encoding_type: Some("url".into()),
        common_prefixes: vec![
            CommonPrefix {
                prefix: "photos/2006/February/".into(),
            },
            CommonPrefix {
                prefix: "photos/2006/January/".into(),
            },
        ],
        ..Default::default()
    };
    assert_eq!(
        render("ListBucketResult", &r),
        format!(
            "<ListBucketResult {NS}><Name>example-bucket</Name><Prefix>photos/2006/</Prefix><Marker/>\
             <NextMarker>photos/2006/January/</NextMarker><MaxKeys>1000</MaxKeys><Delimiter>/</Delimiter>\
             <IsTruncated>true</IsTruncated><EncodingType>url</EncodingType>\
             <CommonPrefixes><Prefix>photos/2006/February/</Prefix></CommonPrefixes>\
             <CommonPrefixes><Prefix>photos/2006/January/</Prefix></CommonPrefixes></ListBucketResult>"
        )
    );
}

#[test]
fn list_bucket_result_v2() {
    let r = ListBucketResultV2 {
        name: "bucket".into(),
        prefix: "".into(),
        key_count: 2,
        max_keys: 2,
        is_truncated: true,
        continuation_token: Some("1ueGcxLPRx1Tr/XYExHnhbYLgveDs2J/wm36Hy4vbOwM=".into()),
        next_continuation_token: Some("1ueGcxLPRx1Tr/XYExHnhbYLgveDs2J/wm36Hy4vbOwM=".into()),
        start_after: Some("ExampleGuide.pdf".into()),
        contents: vec![
            Object {
                checksum_algorithm: Some("CRC32".into()),
                ..object("ExampleObject.txt")
            },
            object("x"),
        ],
        ..Default::default()
    };
    let xml = render("ListBucketResult", &r);
    for part in [
        "<Name>bucket</Name><Prefix/><KeyCount>2</KeyCount><MaxKeys>2</MaxKeys><IsTruncated>true</IsTruncated>",
        "<ContinuationToken>1ueGcxLPRx1Tr/XYExHnhbYLgveDs2J/wm36Hy4vbOwM=</ContinuationToken>",
        "<NextContinuationToken>1ueGcxLPRx1Tr/XYExHnhbYLgveDs2J/wm36Hy4vbOwM=</NextContinuationToken>",
        "<StartAfter>ExampleGuide.pdf</StartAfter>",
        "<ChecksumAlgorithm>CRC32</ChecksumAlgorithm><Size>434234</Size>",
        "</Contents><Contents><Key>x</Key>",
    ] {
        assert!(xml.contains(part), "{part}\n{xml}");
    }
    assert!(
        !xml.contains("<Owner>") && !xml.contains("Delimiter") && !xml.contains("CommonPrefixes")
    );
}

#[test]
fn list_versions_result_interleaves_versions_and_delete_markers() {
    let r = ListVersionsResult {
        name: "bucket".into(),
        prefix: "my".into(),
        key_marker: "".into(),
        version_id_marker: "".into(),
        max_keys: 5,
        is_truncated: false,
        entries: vec![
            VersionEntry::DeleteMarker(DeleteMarkerEntry {
                key: "my-image.jpg".into(),
                version_id: "03jpff543dhffds434rfdsFDN943fdsFkdmqnh892".into(),
                is_latest: true,
                last_modified: Timestamp(1_255_369_830_000),
                owner: Some(owner()),
            }),
            VersionEntry::Version(ObjectVersion {
                key: "my-image.jpg".into(),
                version_id: "null".into(),
                is_latest: false,
                last_modified: Timestamp(1_255_369_830_000),
                etag: "\"fba9dede5f27731c9771645a39863328\"".into(),
                size: 434_234,
                storage_class: "STANDARD".into(),
                owner: Some(owner()),
                ..Default::default()
            }),
            VersionEntry::DeleteMarker(DeleteMarkerEntry {
                key: "my-second-image.jpg".into(),
                version_id: "null".into(),
                ..Default::default()
            }),
        ],
        ..Default::default()
    };
    let xml = render("ListVersionsResult", &r);
    assert!(xml.starts_with(&format!(
        "<ListVersionsResult {NS}><Name>bucket</Name><Prefix>my</Prefix><KeyMarker/><VersionIdMarker/><MaxKeys>5</MaxKeys><IsTruncated>false</IsTruncated><DeleteMarker><Key>my-image.jpg</Key>"
    )), "{xml}");
    assert!(xml.contains(
        "</DeleteMarker><Version><Key>my-image.jpg</Key><VersionId>null</VersionId><IsLatest>false</IsLatest>\
         <LastModified>2009-10-12T17:50:30.000Z</LastModified><ETag>\"fba9dede5f27731c9771645a39863328\"</ETag>\
         <Size>434234</Size><StorageClass>STANDARD</StorageClass><Owner>"
    ), "{xml}");
    assert!(
        xml.contains(
            "</Version><DeleteMarker><Key>my-second-image.jpg</Key><VersionId>null</VersionId>"
        ),
        "{xml}"
    );
    let truncated = ListVersionsResult {
        next_key_marker: Some("k".into()),
        next_version_id_marker: Some("null".into()),
        common_prefixes: vec![CommonPrefix {
            prefix: "a/".into(),
        }],
        ..r
    };
    let xml = render("ListVersionsResult", &truncated);
    assert!(
        xml.contains(
            "<NextKeyMarker>k</NextKeyMarker><NextVersionIdMarker>null</NextVersionIdMarker>"
        ),
        "{xml}"
    );
    assert!(
        xml.ends_with("<CommonPrefixes><Prefix>a/</Prefix></CommonPrefixes></ListVersionsResult>"),
        "{xml}"
    );
}

#[test]
fn delete_request_from_aws_examples() {
    let d: Delete = parse_xml(
        br#"<?xml version="1.0" encoding="UTF-8"?>
<Delete xmlns="http://s3.amazonaws.com/doc/2006-03-01/">
    <Quiet>true</Quiet>
    <Object>
         <Key>sample1.txt</Key>
    </Object>
    <Object>
         <Key>sample2.txt</Key>
         <VersionId>OYcLXagmS.WaD..oyH4KRguB95_YhLs7</VersionId>
    </Object>
</Delete>"#,
    )
    .expect("parses");
    assert_eq!(d.quiet, Some(true));
    assert_eq!(
        d.objects,
        vec![
            ObjectIdentifier {
                key: "sample1.txt".into(),
                version_id: None
            },
            ObjectIdentifier {
                key: "sample2.txt".into(),
                version_id: Some("OYcLXagmS.WaD..oyH4KRguB95_YhLs7".into())
            },
        ]
    );
    // Quiet between and after objects (overlapped lists), no namespace, Quiet absent.
    let d: Delete = parse_xml(b"<Delete><Object><Key>a</Key></Object><Quiet>false</Quiet><Object><Key>b</Key></Object></Delete>").expect("parses");
    assert_eq!(d.quiet, Some(false));
    assert_eq!(d.objects.len(), 2);
    let d: Delete = parse_xml(b"<Delete><Object><Key>a</Key></Object></Delete>").expect("parses");
    assert_eq!(d.quiet, None);
    // Keys keep their spaces, escapes and character references.
    let d: Delete = parse_xml(
        "<Delete><Object><Key>  a &amp; b&#13;\u{65e5} </Key></Object></Delete>".as_bytes(),
    )
    .expect("parses");
    assert_eq!(d.objects[0].key, "  a & b\r\u{65e5} ");
    // An empty list is well-formed here; the handler answers it (AWS: MalformedXML).
    let d: Delete = parse_xml(b"<Delete/>").expect("parses");
    assert!(d.objects.is_empty());
}

#[test]
fn a_thousand_max_length_keys_fit_the_body_limit() {
    let key = "k".repeat(1024);
    let mut body = String::from(
        "<Delete xmlns=\"http://s3.amazonaws.com/doc/2006-03-01/\"><Quiet>true</Quiet>",
    );
    for _ in 0..MAX_DELETE_OBJECTS {
        body.push_str(&format!("<Object><Key>{key}</Key><VersionId>3/L4kqtJlcpXroDTDmJ+rmSpXd3dIbrHY+MTRCxf3vjVBH40Nr8X8gdRQBpUMLUo</VersionId></Object>"));
    }
    body.push_str("</Delete>");
    assert!(
        body.len() <= MAX_XML_BODY,
        "{} > {MAX_XML_BODY}",
        body.len()
    );
    let d: Delete = parse_xml(body.as_bytes()).expect("parses");
    assert_eq!(d.objects.len(), MAX_DELETE_OBJECTS);
}

#[test]
fn delete_result() {
    let r = DeleteResult {
        deleted: vec![
            DeletedObject {
                key: "sample1.txt".into(),
                ..Default::default()
            },
            DeletedObject {
                key: "sample2.txt".into(),
                version_id: Some("null".into()),
                delete_marker: true,
                delete_marker_version_id: Some("NeQt5xeFTfgPJD8B4CGWnkSLtluMr11s".into()),
            },
        ],
        errors: vec![DeleteError::from_error(
            "sample3.txt",
            None,
            &S3Error::from_code(S3ErrorCode::AccessDenied),
        )],
        ..Default::default()
    };
    assert_eq!(
        render("DeleteResult", &r),
        format!(
            "<DeleteResult {NS}><Deleted><Key>sample1.txt</Key></Deleted>\
             <Deleted><Key>sample2.txt</Key><VersionId>null</VersionId><DeleteMarker>true</DeleteMarker>\
             <DeleteMarkerVersionId>NeQt5xeFTfgPJD8B4CGWnkSLtluMr11s</DeleteMarkerVersionId></Deleted>\
             <Error><Key>sample3.txt</Key><Code>AccessDenied</Code><Message>Access Denied</Message></Error></DeleteResult>"
        )
    );
    assert_eq!(
        render("DeleteResult", &DeleteResult::default()),
        format!("<DeleteResult {NS}/>")
    );
}

#[test]
fn copy_object_result() {
    let r = CopyObjectResult {
        etag: "\"9b2cf535f27731c974343645a3985328\"".into(),
        last_modified: Timestamp(1_255_369_830_000),
        checksums: Checksums {
            crc32: Some("i9CxZg==".into()),
            ..Default::default()
        },
        ..Default::default()
    };
    assert_eq!(
        render("CopyObjectResult", &r),
        format!(
            "<CopyObjectResult {NS}><ETag>\"9b2cf535f27731c974343645a3985328\"</ETag>\
             <LastModified>2009-10-12T17:50:30.000Z</LastModified><ChecksumCRC32>i9CxZg==</ChecksumCRC32></CopyObjectResult>"
        )
    );
    assert!(render("CopyPartResult", &r).starts_with("<CopyPartResult "));
}

#[test]
fn multipart_documents() {
    let r = InitiateMultipartUploadResult {
        bucket: "example-bucket".into(),
        key: "example-object".into(),
        upload_id: "VXBsb2FkIElEIGZvciA2aWWpbmcncyBteS1tb3ZpZS5tMnRzIHVwbG9hZA".into(),
        ..Default::default()
    };
    assert_eq!(
        render("InitiateMultipartUploadResult", &r),
        format!(
            "<InitiateMultipartUploadResult {NS}><Bucket>example-bucket</Bucket><Key>example-object</Key>\
             <UploadId>VXBsb2FkIElEIGZvciA2aWWpbmcncyBteS1tb3ZpZS5tMnRzIHVwbG9hZA</UploadId></InitiateMultipartUploadResult>"
        )
    );

    let c: CompleteMultipartUpload = parse_xml(
        br#"<CompleteMultipartUpload xmlns="http://s3.amazonaws.com/doc/2006-03-01/">
  <Part>
    <PartNumber>1</PartNumber>
    <ETag>"a54357aff0632cce46d942af68356b38"</ETag>
  </Part>
  <Part>
    <ETag>&quot;0c78aef83f66abc1fa1e8477f296d394&quot;</ETag>
    <PartNumber>2</PartNumber>
    <ChecksumSHA256>Lr5k9xbhTsz2L0Ifq6AfN5EsW0qgZ2lxxbqZnz6G1Kw=</ChecksumSHA256>
  </Part>
</CompleteMultipartUpload>"#,
    )
    .expect("parses");
    assert_eq!(c.parts.len(), 2);
    assert_eq!(
        (c.parts[0].part_number, c.parts[0].etag.as_str()),
        (1, "\"a54357aff0632cce46d942af68356b38\"")
    );
    assert_eq!(
        (c.parts[1].part_number, c.parts[1].etag.as_str()),
        (2, "\"0c78aef83f66abc1fa1e8477f296d394\"")
    );
    assert_eq!(
        c.parts[1].checksum_sha256.as_deref(),
        Some("Lr5k9xbhTsz2L0Ifq6AfN5EsW0qgZ2lxxbqZnz6G1Kw=")
    );
    for bad in [
        "<CompleteMultipartUpload><Part><PartNumber>x</PartNumber><ETag>e</ETag></Part></CompleteMultipartUpload>",
        "<CompleteMultipartUpload><Part><PartNumber>-1</PartNumber><ETag>e</ETag></Part></CompleteMultipartUpload>",
        "<CompleteMultipartUpload><Part><ETag>e</ETag></Part></CompleteMultipartUpload>",
    ] {
        assert_eq!(
            parse_xml::<CompleteMultipartUpload>(bad.as_bytes())
                .map(|_| ())
                .map_err(|e| e.code),
            Err(S3ErrorCode::MalformedXML),
            "{bad}"
        );
    }

    let r = CompleteMultipartUploadResult {
        location: "http://example-bucket.localhost/example-object".into(),
        bucket: "example-bucket".into(),
        key: "example-object".into(),
        etag: "\"3858f62230ac3c915f300c664312c11f-9\"".into(),
        ..Default::default()
    };
    assert_eq!(
        render("CompleteMultipartUploadResult", &r),
        format!(
            "<CompleteMultipartUploadResult {NS}><Location>http://example-bucket.localhost/example-object</Location>\
             <Bucket>example-bucket</Bucket><Key>example-object</Key><ETag>\"3858f62230ac3c915f300c664312c11f-9\"</ETag>\
             </CompleteMultipartUploadResult>"
        )
    );

    let r = ListPartsResult {
        bucket: "example-bucket".into(),
        key: "example-object".into(),
        upload_id: "XXBsb2FkIElEIGZvciBlbHZpbmcncyVcdS1tb3ZpZS5tMnRzEEEwbG9hZA".into(),
        initiator: owner(),
        owner: owner(),
        storage_class: "STANDARD".into(),
        part_number_marker: 1,
        next_part_number_marker: Some(3),
        max_parts: 2,
        is_truncated: true,
        parts: vec![Part {
            part_number: 2,
            last_modified: Timestamp(1_255_369_830_000),
            etag: "\"7778aef83f66abc1fa1e8477f296d394\"".into(),
            size: 10_485_760,
            ..Default::default()
        }],
        ..Default::default()
    };
    let xml = render("ListPartsResult", &r);
    for part in [
        "<Bucket>example-bucket</Bucket><Key>example-object</Key><UploadId>",
        "<Initiator><ID>75aa57f09aa0c8caeab4f8c24e99d10f8e7faeebf76c078efc7c6caea54ba06a</ID><DisplayName>webfile</DisplayName></Initiator><Owner>",
        "<StorageClass>STANDARD</StorageClass><PartNumberMarker>1</PartNumberMarker><NextPartNumberMarker>3</NextPartNumberMarker>\
         <MaxParts>2</MaxParts><IsTruncated>true</IsTruncated>",
        "<Part><PartNumber>2</PartNumber><LastModified>2009-10-12T17:50:30.000Z</LastModified>\
         <ETag>\"7778aef83f66abc1fa1e8477f296d394\"</ETag><Size>10485760</Size></Part>",
    ] {
        assert!(xml.contains(part), "{part}\n{xml}");
    }

    let r = ListMultipartUploadsResult {
        bucket: "bucket".into(),
        key_marker: "".into(),
        upload_id_marker: "".into(),
        next_key_marker: Some("my-movie.m2ts".into()),
        next_upload_id_marker: Some("YW55IGlkZWEgd2h5IGVsdmluZydzIHVwbG9hZCBmYWlsZWQ".into()),
        max_uploads: 3,
        is_truncated: true,
        uploads: vec![MultipartUpload {
            key: "my-divisor".into(),
            upload_id: "XMgbGlrZSBlbHZpbmcncyBub3QgaGF2aW5nIG11Y2ggbHVjaw".into(),
            initiator: owner(),
            owner: owner(),
            storage_class: "STANDARD".into(),
            initiated: Timestamp(1_255_369_830_000),
            ..Default::default()
        }],
        common_prefixes: vec![CommonPrefix {
            prefix: "photos/".into(),
        }],
        ..Default::default()
    };
    let xml = render("ListMultipartUploadsResult", &r);
    for part in [
        "<Bucket>bucket</Bucket><KeyMarker/><UploadIdMarker/><NextKeyMarker>my-movie.m2ts</NextKeyMarker>",
        "<MaxUploads>3</MaxUploads><IsTruncated>true</IsTruncated><Upload><Key>my-divisor</Key>",
        "<StorageClass>STANDARD</StorageClass><Initiated>2009-10-12T17:50:30.000Z</Initiated></Upload>",
        "<CommonPrefixes><Prefix>photos/</Prefix></CommonPrefixes></ListMultipartUploadsResult>",
    ] {
        assert!(xml.contains(part), "{part}\n{xml}");
    }
}

#[test]
fn create_bucket_configuration() {
    let c: CreateBucketConfiguration = parse_xml(
        br#"<CreateBucketConfiguration xmlns="http://s3.amazonaws.com/doc/2006-03-01/">
  <LocationConstraint>Europe</LocationConstraint>
</CreateBucketConfiguration >"#,
    )
    .expect("parses");
    assert_eq!(c.location_constraint.as_deref(), Some("Europe"));
    let c: CreateBucketConfiguration = parse_xml(b"<CreateBucketConfiguration/>").expect("parses");
    assert_eq!(c.location_constraint, None);
}

#[test]
fn server_side_encryption_configuration_round_trip() {
    let body =
        br#"<ServerSideEncryptionConfiguration xmlns="http://s3.amazonaws.com/doc/2006-03-01/">
  <Rule>
    <ApplyServerSideEncryptionByDefault>
      <SSEAlgorithm>aws:kms</SSEAlgorithm>
      <KMSMasterKeyID>arn:aws:kms:us-east-1:1234/5678example</KMSMasterKeyID>
    </ApplyServerSideEncryptionByDefault>
    <BucketKeyEnabled>true</BucketKeyEnabled>
  </Rule>
</ServerSideEncryptionConfiguration>"#;
    let c: ServerSideEncryptionConfiguration = parse_xml(body).expect("parses");
    let expected = ServerSideEncryptionConfiguration {
        xmlns: Xmlns,
        rules: vec![ServerSideEncryptionRule {
            apply_server_side_encryption_by_default: Some(ServerSideEncryptionByDefault {
                sse_algorithm: "aws:kms".into(),
                kms_master_key_id: Some("arn:aws:kms:us-east-1:1234/5678example".into()),
            }),
            bucket_key_enabled: Some(true),
        }],
    };
    assert_eq!(c, expected);
    assert_eq!(
        render("ServerSideEncryptionConfiguration", &c),
        format!(
            "<ServerSideEncryptionConfiguration {NS}><Rule><ApplyServerSideEncryptionByDefault>\
             <SSEAlgorithm>aws:kms</SSEAlgorithm><KMSMasterKeyID>arn:aws:kms:us-east-1:1234/5678example</KMSMasterKeyID>\
             </ApplyServerSideEncryptionByDefault><BucketKeyEnabled>true</BucketKeyEnabled></Rule></ServerSideEncryptionConfiguration>"
        )
    );
    let c: ServerSideEncryptionConfiguration = parse_xml(
        b"<ServerSideEncryptionConfiguration><Rule><ApplyServerSideEncryptionByDefault><SSEAlgorithm>AES256</SSEAlgorithm></ApplyServerSideEncryptionByDefault></Rule></ServerSideEncryptionConfiguration>",
    )
    .expect("parses");
    assert_eq!(c.rules[0].bucket_key_enabled, None);
    assert_eq!(
        c.rules[0]
            .apply_server_side_encryption_by_default
            .as_ref()
            .map(|d| d.kms_master_key_id.clone()),
        Some(None)
    );
}

#[test]
fn text_is_escaped_and_control_characters_referenced() {
    let r = ListBucketResultV2 {
        contents: vec![object("a<b>&c\"d'\u{1}\r\n\tz")],
        ..Default::default()
    };
    let xml = render("ListBucketResult", &r);
    assert!(
        xml.contains("<Key>a&lt;b&gt;&amp;c\"d'&#x1;&#13;\n\tz</Key>"),
        "{xml}"
    );
}

fn malformed<T: DeserializeOwned + std::fmt::Debug>(body: &[u8]) {
    match parse_xml::<T>(body) {
        Err(e) => assert_eq!(
            e.code,
            S3ErrorCode::MalformedXML,
            "{}",
            String::from_utf8_lossy(body)
        ),
        Ok(v) => panic!("accepted {:?}: {v:?}", String::from_utf8_lossy(body)),
    }
}

#[test]
fn malformed_bodies_are_malformed_xml() {
    malformed::<Delete>(b"");
    malformed::<Delete>(b"not xml");
    malformed::<Delete>(b"<Delete><Object><Key>a</Key></Object>");
    malformed::<Delete>(b"<Delete><Object><Key>a</Key></Objec></Delete>");
    malformed::<Delete>(b"<Delete><Object></Object></Delete>"); // Key is required
    malformed::<Delete>(b"<Delete><Quiet>maybe</Quiet></Delete>");
    malformed::<Delete>(b"<Delete><Object><Key>\xff\xfe</Key></Object></Delete>");
    malformed::<Delete>(b"<Delete><Object><Key>&bogus;</Key></Object></Delete>");
    malformed::<CompleteMultipartUpload>(b"<CompleteMultipartUpload><Part><PartNumber>99999999999</PartNumber><ETag>e</ETag></Part></CompleteMultipartUpload>");
    malformed::<ServerSideEncryptionConfiguration>(b"<ServerSideEncryptionConfiguration><Rule><ApplyServerSideEncryptionByDefault/></Rule></ServerSideEncryptionConfiguration>");
}

#[test]
fn doctype_and_entities_are_refused() {
    malformed::<Delete>(
        br#"<?xml version="1.0"?><!DOCTYPE Delete [<!ENTITY x "expanded">]><Delete><Object><Key>&x;</Key></Object></Delete>"#,
    );
    malformed::<Delete>(
        br#"<!DOCTYPE Delete [<!ENTITY x SYSTEM "file:///etc/passwd">]><Delete><Object><Key>&x;</Key></Object></Delete>"#,
    );
    // Even a DOCTYPE that declares nothing.
    malformed::<Delete>(br#"<!DOCTYPE Delete><Delete><Object><Key>k</Key></Object></Delete>"#);
}

#[test]
fn utf8_bom_is_accepted() {
    let d: Delete =
        parse_xml(b"\xEF\xBB\xBF<Delete><Object><Key>k</Key></Object></Delete>").expect("parses");
    assert_eq!(d.objects[0].key, "k");
}

proptest::proptest! {
    /// Garbage never panics, whatever the target type.
    #[test]
    fn garbage_bytes_never_panic(body in proptest::collection::vec(proptest::num::u8::ANY, 0..256)) {
        let _ = parse_xml::<Delete>(&body);
        let _ = parse_xml::<CompleteMultipartUpload>(&body);
        let _ = parse_xml::<ServerSideEncryptionConfiguration>(&body);
        let _ = parse_xml::<CreateBucketConfiguration>(&body);
    }

    /// XML-shaped garbage (tags, entities, DOCTYPE fragments) never panics.
    #[test]
    fn xmlish_garbage_never_panics(
        body in "(<|>|/|&|;|=|\"|!|\\?|\\[|\\]|Delete|Object|Key|Quiet|Part|PartNumber|ETag|Rule|DOCTYPE|ENTITY|amp|#x|1|true| ){0,64}"
    ) {
        let _ = parse_xml::<Delete>(body.as_bytes());
        let _ = parse_xml::<CompleteMultipartUpload>(body.as_bytes());
        let _ = parse_xml::<ServerSideEncryptionConfiguration>(body.as_bytes());
    }

    /// Any key survives a trip through a Delete document written with our escaping.
    #[test]
    fn delete_keys_round_trip(key in "\\PC{1,64}") {
        let body = format!("<Delete><Object><Key>{}</Key></Object></Delete>", crate::api::s3::error::escape(&key));
        let d: Delete = parse_xml(body.as_bytes()).map_err(|e| proptest::test_runner::TestCaseError::fail(e.to_string()))?;
        proptest::prop_assert_eq!(&d.objects[0].key, &key);
    }
}
