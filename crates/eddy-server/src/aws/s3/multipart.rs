//! S3's multipart uploads: create, upload and copy parts, complete, abort, list.

use std::sync::Arc;

use eddy_core::buckets::Algorithm;
use eddy_core::buckets::multipart::{CompletedPart as CorePart, PartUpload};
use s3s::dto::*;
use s3s::{S3Error, S3ErrorCode, S3Request, S3Response, S3Result};

use super::service::*;
use crate::App;

pub(super) async fn create_multipart_upload(
    app: Arc<App>,
    req: S3Request<CreateMultipartUploadInput>,
) -> S3Result<S3Response<CreateMultipartUploadOutput>> {
    let i = &req.input;
    let tags = header_tags(i.tagging.as_deref())?;
    let meta = meta_of!(i, tags);
    let algorithm = match &i.checksum_algorithm {
        Some(a) => Some(Algorithm::parse(a.as_str()).ok_or_else(|| {
            S3Error::with_message(
                S3ErrorCode::InvalidRequest,
                "Checksum algorithm provided is unsupported.",
            )
        })?),
        None => None,
    };
    let id = app
        .create_upload(
            &i.bucket,
            &i.key,
            meta,
            algorithm,
            i.checksum_type.as_ref().map(|t| t.as_str().to_owned()),
        )
        .await
        .map_err(err)?;
    let (_, m) = app.upload(&i.bucket, &i.key, &id).await.map_err(err)?;
    Ok(S3Response::new(CreateMultipartUploadOutput {
        bucket: Some(i.bucket.clone()),
        key: Some(i.key.clone()),
        upload_id: Some(id),
        checksum_algorithm: m
            .algorithm
            .map(|a| ChecksumAlgorithm::from(a.name().to_owned())),
        checksum_type: m.checksum_type.map(ChecksumType::from),
        ..CreateMultipartUploadOutput::default()
    }))
}

pub(super) async fn upload_part(
    app: Arc<App>,
    req: S3Request<UploadPartInput>,
) -> S3Result<S3Response<UploadPartOutput>> {
    let u = unsigned(&req);
    let i = req.input;
    let (checksum, expected) = checksum_plan(
        header_checksum!(i),
        i.checksum_algorithm.as_ref(),
        &req.headers,
        &u,
    )?;
    let part = PartUpload {
        bucket: i.bucket.clone(),
        key: i.key.clone(),
        upload_id: i.upload_id.clone(),
        number: i.part_number.max(0) as u32,
        content_md5: content_md5(i.content_md5.as_ref())?,
        checksum,
        expected_checksum: expected,
        payload_sha256: u.payload_sha256.clone(),
    };
    let (e, sum) = app
        .upload_part(part, body_stream(i.body))
        .await
        .map_err(err)?;
    let mut out = UploadPartOutput {
        e_tag: Some(etag(&e)),
        ..UploadPartOutput::default()
    };
    set_checksum!(out, &sum);
    Ok(S3Response::new(out))
}

pub(super) async fn upload_part_copy(
    app: Arc<App>,
    req: S3Request<UploadPartCopyInput>,
) -> S3Result<S3Response<UploadPartCopyOutput>> {
    let i = &req.input;
    let (sb, sk, sv) = copy_source(&i.copy_source)?;
    let range = match &i.copy_source_range {
        None => None,
        Some(r) => {
            let bad = || {
                S3Error::with_message(
                    S3ErrorCode::InvalidArgument,
                    "The x-amz-copy-source-range value must be of the form bytes=first-last where first and last are the zero-based offsets of the first and last bytes to copy",
                )
            };
            let spec = r.strip_prefix("bytes=").ok_or_else(bad)?;
            let (a, b) = spec.split_once('-').ok_or_else(bad)?;
            let (a, b) = (
                a.parse::<u64>().map_err(|_| bad())?,
                b.parse::<u64>().map_err(|_| bad())?,
            );
            if b < a {
                return Err(bad());
            }
            Some((a, b))
        }
    };
    let cond = conditions(
        i.copy_source_if_match.as_ref(),
        i.copy_source_if_none_match.as_ref(),
        i.copy_source_if_modified_since.as_ref(),
        i.copy_source_if_unmodified_since.as_ref(),
    );
    let (e, modified, source_version) = app
        .upload_part_copy(
            &i.bucket,
            &i.key,
            &i.upload_id,
            i.part_number.max(0) as u32,
            (&sb, &sk, sv.as_deref()),
            range,
            &cond,
        )
        .await
        .map_err(err)?;
    Ok(S3Response::new(UploadPartCopyOutput {
        copy_part_result: Some(CopyPartResult {
            e_tag: Some(etag(&e)),
            last_modified: Some(ts(modified)),
            ..CopyPartResult::default()
        }),
        copy_source_version_id: source_version,
        ..UploadPartCopyOutput::default()
    }))
}

pub(super) async fn complete_multipart_upload(
    app: Arc<App>,
    req: S3Request<CompleteMultipartUploadInput>,
) -> S3Result<S3Response<CompleteMultipartUploadOutput>> {
    let requester = who(&req, &app);
    let i = req.input;
    let parts = i
        .multipart_upload
        .and_then(|m| m.parts)
        .unwrap_or_default()
        .into_iter()
        .map(|p| CorePart {
            number: p.part_number.unwrap_or(0).max(0) as u32,
            etag: p.e_tag.as_ref().map(etag_text).unwrap_or_default(),
            checksum: header_checksum!(p).map(|(_, v)| v),
        })
        .collect();
    let stored = app
        .complete_upload(&i.bucket, &i.key, &i.upload_id, parts, &requester)
        .await
        .map_err(err)?;
    let mut out = CompleteMultipartUploadOutput {
        bucket: Some(i.bucket.clone()),
        key: Some(i.key.clone()),
        e_tag: Some(etag(&stored.etag)),
        version_id: stored.version_id.clone(),
        location: Some(format!("/{}/{}", i.bucket, i.key)),
        checksum_type: stored.checksum_type.clone().map(ChecksumType::from),
        ..CompleteMultipartUploadOutput::default()
    };
    set_checksum!(out, &stored.checksum);
    Ok(S3Response::new(out))
}

pub(super) async fn abort_multipart_upload(
    app: Arc<App>,
    req: S3Request<AbortMultipartUploadInput>,
) -> S3Result<S3Response<AbortMultipartUploadOutput>> {
    let i = &req.input;
    app.abort_upload(&i.bucket, &i.key, &i.upload_id)
        .await
        .map_err(err)?;
    let mut res = S3Response::new(AbortMultipartUploadOutput::default());
    res.status = Some(axum::http::StatusCode::NO_CONTENT);
    Ok(res)
}

pub(super) async fn list_parts(
    app: Arc<App>,
    req: S3Request<ListPartsInput>,
) -> S3Result<S3Response<ListPartsOutput>> {
    let i = &req.input;
    let after = i.part_number_marker.unwrap_or(0).max(0) as u32;
    let max = i.max_parts.map_or(1000, |m| m.clamp(0, 1000) as usize);
    let (_, meta, parts, truncated) = app
        .list_parts(&i.bucket, &i.key, &i.upload_id, after, max)
        .await
        .map_err(err)?;
    let next = parts.last().map(|(p, _)| p.part_number as i32);
    let parts = parts
        .into_iter()
        .map(|(p, m)| {
            let mut part = Part {
                e_tag: Some(etag(&p.etag)),
                last_modified: Some(ts(p.modified_ms)),
                part_number: Some(p.part_number as i32),
                size: Some(p.blob.size as i64),
                ..Part::default()
            };
            set_checksum!(part, &m.checksum);
            part
        })
        .collect();
    Ok(S3Response::new(ListPartsOutput {
        bucket: Some(i.bucket.clone()),
        key: Some(i.key.clone()),
        upload_id: Some(i.upload_id.clone()),
        is_truncated: Some(truncated),
        max_parts: Some(max as i32),
        next_part_number_marker: next,
        part_number_marker: i.part_number_marker,
        parts: Some(parts),
        checksum_algorithm: meta
            .algorithm
            .map(|a| ChecksumAlgorithm::from(a.name().to_owned())),
        checksum_type: meta.checksum_type.map(ChecksumType::from),
        storage_class: Some(StorageClass::from("STANDARD".to_owned())),
        ..ListPartsOutput::default()
    }))
}

pub(super) async fn list_multipart_uploads(
    app: Arc<App>,
    req: S3Request<ListMultipartUploadsInput>,
) -> S3Result<S3Response<ListMultipartUploadsOutput>> {
    let i = &req.input;
    let max = i.max_uploads.map_or(1000, |m| m.clamp(0, 1000) as usize);
    let after = i
        .key_marker
        .clone()
        .filter(|k| !k.is_empty())
        .map(|k| (k, i.upload_id_marker.clone().unwrap_or_default()));
    let (uploads, truncated) = app
        .list_uploads(&i.bucket, i.prefix.as_deref().unwrap_or(""), after, max)
        .await
        .map_err(err)?;
    let last = uploads.last().map(|u| (u.key.clone(), u.upload_id.clone()));
    let uploads = uploads
        .into_iter()
        .map(|u| MultipartUpload {
            initiated: Some(ts(u.initiated_ms)),
            key: Some(u.key),
            upload_id: Some(u.upload_id),
            storage_class: Some(StorageClass::from("STANDARD".to_owned())),
            ..MultipartUpload::default()
        })
        .collect();
    Ok(S3Response::new(ListMultipartUploadsOutput {
        bucket: Some(i.bucket.clone()),
        is_truncated: Some(truncated),
        key_marker: i.key_marker.clone(),
        upload_id_marker: i.upload_id_marker.clone(),
        max_uploads: Some(max as i32),
        next_key_marker: truncated.then(|| last.clone().map(|l| l.0)).flatten(),
        next_upload_id_marker: truncated.then(|| last.map(|l| l.1)).flatten(),
        prefix: i.prefix.clone(),
        delimiter: i.delimiter.clone(),
        uploads: Some(uploads),
        ..ListMultipartUploadsOutput::default()
    }))
}
