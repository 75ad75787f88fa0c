//! S3's object operations: put, get, head, copy, delete (one or many), listings (latest versions
//! and all versions) and tags.

use std::sync::Arc;

use eddy_core::buckets::BucketError;
use eddy_core::buckets::objects::{PutObject, Stored};
use s3s::dto::*;
use s3s::{S3Error, S3ErrorCode, S3Request, S3Response, S3Result};

use super::service::*;
use crate::App;

pub(super) async fn put_object(
    app: Arc<App>,
    req: S3Request<PutObjectInput>,
) -> S3Result<S3Response<PutObjectOutput>> {
    let u = unsigned(&req);
    let requester = who(&req, &app);
    let i = req.input;
    let (checksum, expected) = checksum_plan(
        header_checksum!(i),
        i.checksum_algorithm.as_ref(),
        &req.headers,
        &u,
    )?;
    let tags = header_tags(i.tagging.as_deref())?;
    let meta = meta_of!(i, tags);
    let put = PutObject {
        bucket: i.bucket.clone(),
        key: i.key.clone(),
        meta,
        content_md5: content_md5(i.content_md5.as_ref())?,
        checksum,
        expected_checksum: expected,
        payload_sha256: u.payload_sha256.clone(),
        if_none_match: matches!(i.if_none_match, Some(ETagCondition::Any)),
        if_match: i.if_match.as_ref().map(|c| match c {
            ETagCondition::ETag(e) => etag_text(e),
            ETagCondition::Any => "*".to_owned(),
        }),
    };
    let stored: Stored = app
        .put_object(put, body_stream(i.body), &requester)
        .await
        .map_err(err)?;
    let mut out = PutObjectOutput {
        e_tag: Some(etag(&stored.etag)),
        version_id: stored.version_id.clone(),
        checksum_type: stored.checksum_type.clone().map(ChecksumType::from),
        ..PutObjectOutput::default()
    };
    // S3 answers the checksum the client asked for (not the default one it computed).
    if checksum.is_some() {
        set_checksum!(out, &stored.checksum);
    }
    Ok(S3Response::new(out))
}

pub(super) async fn get_object(
    app: Arc<App>,
    req: S3Request<GetObjectInput>,
) -> S3Result<S3Response<GetObjectOutput>> {
    let i = &req.input;
    let (cond, range, part) = read_args!(i);
    let reading = app
        .get_object(
            &i.bucket,
            &i.key,
            i.version_id.as_deref(),
            &cond,
            range,
            part,
        )
        .await
        .map_err(err)?;
    let f = &reading.found;
    let len = reading.range.map_or(f.record.size, |(s, e)| e - s);
    let mut out = GetObjectOutput {
        accept_ranges: Some("bytes".to_owned()),
        body: Some(StreamingBlob::wrap(reading.body)),
        content_length: Some(len as i64),
        e_tag: Some(etag(&f.record.etag)),
        last_modified: Some(ts(f.record.modified_ms)),
        version_id: f.version_id.clone(),
        metadata: user_metadata(&f.meta),
        cache_control: i
            .response_cache_control
            .clone()
            .or(f.meta.cache_control.clone()),
        content_disposition: i
            .response_content_disposition
            .clone()
            .or(f.meta.content_disposition.clone()),
        content_encoding: i
            .response_content_encoding
            .clone()
            .or(f.meta.content_encoding.clone()),
        content_language: i
            .response_content_language
            .clone()
            .or(f.meta.content_language.clone()),
        content_type: i
            .response_content_type
            .clone()
            .or(f.meta.content_type.clone())
            .or(Some("binary/octet-stream".to_owned()))
            .and_then(|c| c.parse().ok()),
        expires: i.response_expires.clone().or(expires(&f.meta)),
        website_redirect_location: f.meta.website_redirect.clone(),
        tag_count: (!f.meta.tags.is_empty()).then_some(f.meta.tags.len() as i32),
        storage_class: f.meta.storage_class.clone().map(StorageClass::from),
        parts_count: (part.is_some() && !f.meta.parts.is_empty())
            .then_some(f.meta.parts.len() as i32),
        ..GetObjectOutput::default()
    };
    if let Some((s, e)) = reading.range {
        out.content_range = Some(format!(
            "bytes {}-{}/{}",
            s,
            e.saturating_sub(1),
            f.record.size
        ));
    }
    if i.checksum_mode
        .as_ref()
        .is_some_and(|m| m.as_str() == "ENABLED")
        && reading.range.is_none()
    {
        set_checksum!(out, &f.meta.checksum);
        out.checksum_type = f.meta.checksum_type.clone().map(ChecksumType::from);
    }
    let mut res = S3Response::new(out);
    if reading.range.is_some() {
        res.status = Some(axum::http::StatusCode::PARTIAL_CONTENT);
    }
    Ok(res)
}

pub(super) async fn head_object(
    app: Arc<App>,
    req: S3Request<HeadObjectInput>,
) -> S3Result<S3Response<HeadObjectOutput>> {
    let i = &req.input;
    let (cond, range, part) = read_args!(i);
    let (found, range) = app
        .object_range(
            &i.bucket,
            &i.key,
            i.version_id.as_deref(),
            &cond,
            range,
            part,
        )
        .await
        .map_err(err)?;
    let f = &found;
    let len = range.map_or(f.record.size, |(s, e)| e - s);
    let mut out = HeadObjectOutput {
        accept_ranges: Some("bytes".to_owned()),
        content_length: Some(len as i64),
        e_tag: Some(etag(&f.record.etag)),
        last_modified: Some(ts(f.record.modified_ms)),
        version_id: f.version_id.clone(),
        metadata: user_metadata(&f.meta),
        cache_control: f.meta.cache_control.clone(),
        content_disposition: f.meta.content_disposition.clone(),
        content_encoding: f.meta.content_encoding.clone(),
        content_language: f.meta.content_language.clone(),
        content_type: f
            .meta
            .content_type
            .clone()
            .or(Some("binary/octet-stream".to_owned()))
            .and_then(|c| c.parse().ok()),
        expires: expires(&f.meta),
        website_redirect_location: f.meta.website_redirect.clone(),
        storage_class: f.meta.storage_class.clone().map(StorageClass::from),
        parts_count: (part.is_some() && !f.meta.parts.is_empty())
            .then_some(f.meta.parts.len() as i32),
        ..HeadObjectOutput::default()
    };
    if let Some((s, e)) = range {
        out.content_range = Some(format!(
            "bytes {}-{}/{}",
            s,
            e.saturating_sub(1),
            f.record.size
        ));
    }
    if i.checksum_mode
        .as_ref()
        .is_some_and(|m| m.as_str() == "ENABLED")
    {
        set_checksum!(out, &f.meta.checksum);
        out.checksum_type = f.meta.checksum_type.clone().map(ChecksumType::from);
    }
    let mut res = S3Response::new(out);
    if range.is_some() {
        res.status = Some(axum::http::StatusCode::PARTIAL_CONTENT);
    }
    Ok(res)
}

pub(super) async fn delete_object(
    app: Arc<App>,
    req: S3Request<DeleteObjectInput>,
) -> S3Result<S3Response<DeleteObjectOutput>> {
    let requester = who(&req, &app);
    let i = &req.input;
    let d = app
        .delete_object(&i.bucket, &i.key, i.version_id.as_deref(), &requester)
        .await
        .map_err(err)?;
    Ok(S3Response::new(DeleteObjectOutput {
        delete_marker: d.delete_marker.then_some(true),
        version_id: d.version_id,
        request_charged: None,
    }))
}

pub(super) async fn delete_objects(
    app: Arc<App>,
    req: S3Request<DeleteObjectsInput>,
) -> S3Result<S3Response<DeleteObjectsOutput>> {
    let requester = who(&req, &app);
    let i = &req.input;
    if i.delete.objects.len() > 1000 {
        return Err(S3Error::with_message(
            S3ErrorCode::MalformedXML,
            "The XML you provided was not well-formed or did not validate against our published schema",
        ));
    }
    let quiet = i.delete.quiet.unwrap_or(false);
    let (mut deleted, mut errors) = (Vec::new(), Vec::new());
    for o in &i.delete.objects {
        match app
            .delete_object(&i.bucket, &o.key, o.version_id.as_deref(), &requester)
            .await
        {
            Ok(d) => {
                if !quiet {
                    let marker_vid = (d.delete_marker && o.version_id.is_none())
                        .then(|| d.version_id.clone())
                        .flatten();
                    deleted.push(DeletedObject {
                        key: Some(o.key.clone()),
                        version_id: o.version_id.clone(),
                        delete_marker: d.delete_marker.then_some(true),
                        delete_marker_version_id: marker_vid,
                    });
                }
            }
            Err(e @ BucketError::NoSuchBucket(_)) => return Err(err(e)),
            Err(e) => errors.push(Error {
                code: Some(e.code().to_owned()),
                key: Some(o.key.clone()),
                message: Some(e.to_string()),
                version_id: o.version_id.clone(),
            }),
        }
    }
    Ok(S3Response::new(DeleteObjectsOutput {
        deleted: Some(deleted),
        errors: (!errors.is_empty()).then_some(errors),
        request_charged: None,
    }))
}

pub(super) async fn copy_object(
    app: Arc<App>,
    req: S3Request<CopyObjectInput>,
) -> S3Result<S3Response<CopyObjectOutput>> {
    let requester = who(&req, &app);
    let i = &req.input;
    let (sb, sk, sv) = copy_source(&i.copy_source)?;
    let replace_meta = i
        .metadata_directive
        .as_ref()
        .is_some_and(|d| d.as_str() == "REPLACE")
        .then(|| meta_of!(i, Vec::new()));
    let replace_tags = if i
        .tagging_directive
        .as_ref()
        .is_some_and(|d| d.as_str() == "REPLACE")
    {
        Some(header_tags(i.tagging.as_deref())?)
    } else {
        None
    };
    let cond = conditions(
        i.copy_source_if_match.as_ref(),
        i.copy_source_if_none_match.as_ref(),
        i.copy_source_if_modified_since.as_ref(),
        i.copy_source_if_unmodified_since.as_ref(),
    );
    let (stored, source_version) = app
        .copy_object(
            (&sb, &sk, sv.as_deref()),
            &i.bucket,
            &i.key,
            replace_meta,
            replace_tags,
            &cond,
            &requester,
        )
        .await
        .map_err(err)?;
    let mut result = CopyObjectResult {
        e_tag: Some(etag(&stored.etag)),
        last_modified: Some(ts(stored.modified_ms)),
        ..CopyObjectResult::default()
    };
    set_checksum!(result, &stored.checksum);
    Ok(S3Response::new(CopyObjectOutput {
        copy_object_result: Some(result),
        copy_source_version_id: source_version,
        version_id: stored.version_id,
        ..CopyObjectOutput::default()
    }))
}

pub(super) async fn list_objects_v2(
    app: Arc<App>,
    req: S3Request<ListObjectsV2Input>,
) -> S3Result<S3Response<ListObjectsV2Output>> {
    let i = &req.input;
    let max = max_keys(i.max_keys)?;
    let prefix = i.prefix.clone().unwrap_or_default();
    let after = match from_continuation(i.continuation_token.as_ref())? {
        Some(t) => Some(t),
        None => i.start_after.clone().filter(|s| !s.is_empty()),
    };
    let listing = app
        .list_objects(&i.bucket, &prefix, i.delimiter.as_deref(), after, max)
        .await
        .map_err(err)?;
    let url = i
        .encoding_type
        .as_ref()
        .is_some_and(|e| e.as_str() == "url");
    let enc = |s: String| {
        if url {
            eddy_core::buckets::notify::record_key(&s).replace('+', "%20")
        } else {
            s
        }
    };
    let key_count = (listing.objects.len() + listing.prefixes.len()) as i32;
    let contents: Vec<Object> = listing
        .objects
        .iter()
        .map(|f| {
            let mut o = object_of(f);
            o.key = o.key.map(enc);
            if i.fetch_owner == Some(true) {
                o.owner = Some(Owner {
                    id: Some(app.config.account_id.clone()),
                    display_name: Some("eddy".to_owned()),
                });
            }
            o
        })
        .collect();
    Ok(S3Response::new(ListObjectsV2Output {
        name: Some(i.bucket.clone()),
        prefix: Some(enc(prefix)),
        max_keys: Some(i.max_keys.unwrap_or(1000)),
        key_count: Some(key_count),
        continuation_token: i.continuation_token.clone(),
        is_truncated: Some(listing.truncated),
        next_continuation_token: if listing.truncated {
            continuation(listing.next)
        } else {
            None
        },
        contents: Some(contents),
        common_prefixes: common_prefixes(&listing.prefixes, enc),
        delimiter: i.delimiter.clone(),
        encoding_type: i.encoding_type.clone(),
        start_after: i.start_after.clone(),
        request_charged: None,
    }))
}

pub(super) async fn list_objects(
    app: Arc<App>,
    req: S3Request<ListObjectsInput>,
) -> S3Result<S3Response<ListObjectsOutput>> {
    let i = &req.input;
    let max = max_keys(i.max_keys)?;
    let prefix = i.prefix.clone().unwrap_or_default();
    let listing = app
        .list_objects(
            &i.bucket,
            &prefix,
            i.delimiter.as_deref(),
            i.marker.clone().filter(|m| !m.is_empty()),
            max,
        )
        .await
        .map_err(err)?;
    let last = listing
        .objects
        .last()
        .map(|f| f.record.key.clone())
        .into_iter()
        .chain(listing.prefixes.last().cloned())
        .max();
    Ok(S3Response::new(ListObjectsOutput {
        name: Some(i.bucket.clone()),
        prefix: Some(prefix),
        marker: Some(i.marker.clone().unwrap_or_default()),
        max_keys: Some(i.max_keys.unwrap_or(1000)),
        is_truncated: Some(listing.truncated),
        contents: Some(listing.objects.iter().map(object_of).collect()),
        common_prefixes: common_prefixes(&listing.prefixes, |p| p),
        delimiter: i.delimiter.clone(),
        next_marker: (listing.truncated && i.delimiter.is_some())
            .then_some(last)
            .flatten(),
        encoding_type: i.encoding_type.clone(),
        request_charged: None,
    }))
}

pub(super) async fn list_object_versions(
    app: Arc<App>,
    req: S3Request<ListObjectVersionsInput>,
) -> S3Result<S3Response<ListObjectVersionsOutput>> {
    let i = &req.input;
    let max = max_keys(i.max_keys)?;
    let prefix = i.prefix.clone().unwrap_or_default();
    let after = i
        .key_marker
        .clone()
        .filter(|k| !k.is_empty())
        .map(|k| (k, i.version_id_marker.clone().filter(|v| !v.is_empty())));
    let listing = app
        .list_versions(&i.bucket, &prefix, i.delimiter.as_deref(), after, max)
        .await
        .map_err(err)?;
    let (mut versions, mut markers) = (Vec::new(), Vec::new());
    for f in &listing.versions {
        if f.record.delete_marker {
            markers.push(DeleteMarkerEntry {
                is_latest: Some(f.record.latest),
                key: Some(f.record.key.clone()),
                last_modified: Some(ts(f.record.modified_ms)),
                owner: None,
                version_id: f.version_id.clone(),
            });
        } else {
            versions.push(ObjectVersion {
                e_tag: Some(etag(&f.record.etag)),
                is_latest: Some(f.record.latest),
                key: Some(f.record.key.clone()),
                last_modified: Some(ts(f.record.modified_ms)),
                size: Some(f.record.size as i64),
                storage_class: Some(ObjectVersionStorageClass::from("STANDARD".to_owned())),
                version_id: f.version_id.clone(),
                ..ObjectVersion::default()
            });
        }
    }
    let (next_key, next_version) = match (listing.truncated, listing.next) {
        (true, Some((k, v))) => (Some(k), (!v.is_empty()).then_some(v)),
        _ => (None, None),
    };
    Ok(S3Response::new(ListObjectVersionsOutput {
        common_prefixes: common_prefixes(&listing.prefixes, |p| p),
        delete_markers: (!markers.is_empty()).then_some(markers),
        delimiter: i.delimiter.clone(),
        encoding_type: i.encoding_type.clone(),
        is_truncated: Some(listing.truncated),
        key_marker: Some(i.key_marker.clone().unwrap_or_default()),
        max_keys: Some(i.max_keys.unwrap_or(1000)),
        name: Some(i.bucket.clone()),
        next_key_marker: next_key,
        next_version_id_marker: next_version,
        prefix: Some(prefix),
        request_charged: None,
        version_id_marker: Some(i.version_id_marker.clone().unwrap_or_default()),
        versions: Some(versions),
    }))
}

pub(super) async fn get_object_tagging(
    app: Arc<App>,
    req: S3Request<GetObjectTaggingInput>,
) -> S3Result<S3Response<GetObjectTaggingOutput>> {
    let i = &req.input;
    let f = app
        .head_object(&i.bucket, &i.key, i.version_id.as_deref())
        .await
        .map_err(err)?;
    Ok(S3Response::new(GetObjectTaggingOutput {
        tag_set: tag_set(&f.meta.tags),
        version_id: f.version_id,
    }))
}

pub(super) async fn put_object_tagging(
    app: Arc<App>,
    req: S3Request<PutObjectTaggingInput>,
) -> S3Result<S3Response<PutObjectTaggingOutput>> {
    let requester = who(&req, &app);
    let i = req.input;
    let tags = from_tag_set(i.tagging.tag_set);
    let version = app
        .put_object_tags(
            &i.bucket,
            &i.key,
            i.version_id.as_deref(),
            Some(tags),
            &requester,
        )
        .await
        .map_err(err)?;
    Ok(S3Response::new(PutObjectTaggingOutput {
        version_id: version,
    }))
}

pub(super) async fn delete_object_tagging(
    app: Arc<App>,
    req: S3Request<DeleteObjectTaggingInput>,
) -> S3Result<S3Response<DeleteObjectTaggingOutput>> {
    let requester = who(&req, &app);
    let i = &req.input;
    let version = app
        .put_object_tags(&i.bucket, &i.key, i.version_id.as_deref(), None, &requester)
        .await
        .map_err(err)?;
    Ok(S3Response::new(DeleteObjectTaggingOutput {
        version_id: version,
    }))
}
