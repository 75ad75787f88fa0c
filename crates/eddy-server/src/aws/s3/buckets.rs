//! S3's bucket operations: create, delete, list, location, and the bucket's configurations
//! (versioning, CORS, policy, tags, notifications).

use std::sync::Arc;

use eddy_core::buckets::{BucketError, CorsRule, DestinationKind, Notification};
use s3s::dto::*;
use s3s::{S3Error, S3ErrorCode, S3Request, S3Response, S3Result};

use super::service::*;
use crate::App;

pub(super) async fn create_bucket(
    app: Arc<App>,
    req: S3Request<CreateBucketInput>,
) -> S3Result<S3Response<CreateBucketOutput>> {
    let region = req
        .input
        .create_bucket_configuration
        .as_ref()
        .and_then(|c| c.location_constraint.as_ref())
        .map(|l| l.as_str().to_owned())
        .filter(|l| !l.is_empty())
        .unwrap_or_else(|| region(&req, &app));
    app.buckets
        .create(&req.input.bucket, &region)
        .await
        .map_err(err)?;
    Ok(S3Response::new(CreateBucketOutput {
        location: Some(format!("/{}", req.input.bucket)),
    }))
}

pub(super) async fn head_bucket(
    app: Arc<App>,
    req: S3Request<HeadBucketInput>,
) -> S3Result<S3Response<HeadBucketOutput>> {
    let b = app.buckets.get(&req.input.bucket).ok_or_else(|| {
        let mut e = S3Error::new(S3ErrorCode::NoSuchBucket);
        e.set_status_code(axum::http::StatusCode::NOT_FOUND);
        e
    })?;
    Ok(S3Response::new(HeadBucketOutput {
        bucket_region: Some(b.region),
        ..HeadBucketOutput::default()
    }))
}

pub(super) async fn delete_bucket(
    app: Arc<App>,
    req: S3Request<DeleteBucketInput>,
) -> S3Result<S3Response<DeleteBucketOutput>> {
    app.buckets.delete(&req.input.bucket).await.map_err(err)?;
    Ok(S3Response::new(DeleteBucketOutput::default()))
}

pub(super) async fn list_buckets(
    app: Arc<App>,
    req: S3Request<ListBucketsInput>,
) -> S3Result<S3Response<ListBucketsOutput>> {
    let prefix = req.input.prefix.clone().unwrap_or_default();
    let buckets: Vec<Bucket> = app
        .buckets
        .list()
        .into_iter()
        .filter(|b| b.name.starts_with(&prefix))
        .filter(|b| {
            req.input
                .bucket_region
                .as_ref()
                .is_none_or(|r| r == &b.region)
        })
        .map(|b| Bucket {
            name: Some(b.name.clone()),
            creation_date: Some(ts(b.created_ms)),
            bucket_region: Some(b.region.clone()),
        })
        .collect();
    Ok(S3Response::new(ListBucketsOutput {
        buckets: Some(buckets),
        owner: Some(Owner {
            id: Some(app.config.account_id.clone()),
            display_name: Some("eddy".to_owned()),
        }),
        prefix: req.input.prefix.clone(),
        continuation_token: None,
    }))
}

pub(super) async fn get_bucket_location(
    app: Arc<App>,
    req: S3Request<GetBucketLocationInput>,
) -> S3Result<S3Response<GetBucketLocationOutput>> {
    let b = app.buckets.need_bucket(&req.input.bucket).map_err(err)?;
    let location = (b.region != "us-east-1").then(|| BucketLocationConstraint::from(b.region));
    Ok(S3Response::new(GetBucketLocationOutput {
        location_constraint: location,
    }))
}

pub(super) async fn get_bucket_versioning(
    app: Arc<App>,
    req: S3Request<GetBucketVersioningInput>,
) -> S3Result<S3Response<GetBucketVersioningOutput>> {
    let b = app.buckets.need_bucket(&req.input.bucket).map_err(err)?;
    let status = b.versioning.map(|on| {
        BucketVersioningStatus::from(if on { "Enabled" } else { "Suspended" }.to_owned())
    });
    Ok(S3Response::new(GetBucketVersioningOutput {
        status,
        mfa_delete: None,
    }))
}

pub(super) async fn put_bucket_versioning(
    app: Arc<App>,
    req: S3Request<PutBucketVersioningInput>,
) -> S3Result<S3Response<PutBucketVersioningOutput>> {
    let status = req
        .input
        .versioning_configuration
        .status
        .as_ref()
        .map(|s| s.as_str().to_owned());
    let on = match status.as_deref() {
        Some("Enabled") => Some(true),
        Some("Suspended") => Some(false),
        None => None,
        Some(_) => {
            return Err(S3Error::with_message(
                S3ErrorCode::MalformedXML,
                "The XML you provided was not well-formed or did not validate against our published schema",
            ));
        }
    };
    app.buckets
        .update(&req.input.bucket, |b| {
            if let Some(on) = on {
                b.versioning = Some(on);
            }
            Ok(())
        })
        .await
        .map_err(err)?;
    Ok(S3Response::new(PutBucketVersioningOutput::default()))
}

pub(super) async fn get_bucket_cors(
    app: Arc<App>,
    req: S3Request<GetBucketCorsInput>,
) -> S3Result<S3Response<GetBucketCorsOutput>> {
    let b = app.buckets.need_bucket(&req.input.bucket).map_err(err)?;
    let rules = b
        .cors
        .ok_or_else(|| err(BucketError::NoSuchConfiguration("NoSuchCORSConfiguration")))?;
    let rules = rules
        .into_iter()
        .map(|r| CORSRule {
            allowed_headers: (!r.allowed_headers.is_empty()).then_some(r.allowed_headers),
            allowed_methods: r.allowed_methods,
            allowed_origins: r.allowed_origins,
            expose_headers: (!r.expose_headers.is_empty()).then_some(r.expose_headers),
            id: r.id,
            max_age_seconds: r.max_age_seconds,
        })
        .collect();
    Ok(S3Response::new(GetBucketCorsOutput {
        cors_rules: Some(rules),
    }))
}

pub(super) async fn put_bucket_cors(
    app: Arc<App>,
    req: S3Request<PutBucketCorsInput>,
) -> S3Result<S3Response<PutBucketCorsOutput>> {
    let mut rules = Vec::new();
    for r in req.input.cors_configuration.cors_rules {
        for m in &r.allowed_methods {
            if !["GET", "PUT", "POST", "DELETE", "HEAD"].contains(&m.as_str()) {
                return Err(S3Error::with_message(
                    S3ErrorCode::InvalidRequest,
                    format!(
                        "Found unsupported HTTP method in CORS config. Unsupported method is {m}"
                    ),
                ));
            }
        }
        rules.push(CorsRule {
            id: r.id,
            allowed_origins: r.allowed_origins,
            allowed_methods: r.allowed_methods,
            allowed_headers: r.allowed_headers.unwrap_or_default(),
            expose_headers: r.expose_headers.unwrap_or_default(),
            max_age_seconds: r.max_age_seconds,
        });
    }
    app.buckets
        .update(&req.input.bucket, |b| {
            b.cors = Some(rules);
            Ok(())
        })
        .await
        .map_err(err)?;
    Ok(S3Response::new(PutBucketCorsOutput::default()))
}

pub(super) async fn delete_bucket_cors(
    app: Arc<App>,
    req: S3Request<DeleteBucketCorsInput>,
) -> S3Result<S3Response<DeleteBucketCorsOutput>> {
    app.buckets
        .update(&req.input.bucket, |b| {
            b.cors = None;
            Ok(())
        })
        .await
        .map_err(err)?;
    Ok(S3Response::new(DeleteBucketCorsOutput::default()))
}

pub(super) async fn get_bucket_policy(
    app: Arc<App>,
    req: S3Request<GetBucketPolicyInput>,
) -> S3Result<S3Response<GetBucketPolicyOutput>> {
    let b = app.buckets.need_bucket(&req.input.bucket).map_err(err)?;
    let policy = b
        .policy
        .ok_or_else(|| err(BucketError::NoSuchConfiguration("NoSuchBucketPolicy")))?;
    Ok(S3Response::new(GetBucketPolicyOutput {
        policy: Some(policy),
    }))
}

pub(super) async fn put_bucket_policy(
    app: Arc<App>,
    req: S3Request<PutBucketPolicyInput>,
) -> S3Result<S3Response<PutBucketPolicyOutput>> {
    let policy = req.input.policy.clone();
    let valid = serde_json::from_str::<serde_json::Value>(&policy)
        .ok()
        .is_some_and(|v| v.get("Statement").is_some());
    if !valid {
        return Err(S3Error::with_message(
            S3ErrorCode::MalformedPolicy,
            "Policies must be valid JSON and the first byte must be '{'",
        ));
    }
    app.buckets
        .update(&req.input.bucket, |b| {
            b.policy = Some(policy);
            Ok(())
        })
        .await
        .map_err(err)?;
    Ok(S3Response::new(PutBucketPolicyOutput::default()))
}

pub(super) async fn delete_bucket_policy(
    app: Arc<App>,
    req: S3Request<DeleteBucketPolicyInput>,
) -> S3Result<S3Response<DeleteBucketPolicyOutput>> {
    app.buckets
        .update(&req.input.bucket, |b| {
            b.policy = None;
            Ok(())
        })
        .await
        .map_err(err)?;
    Ok(S3Response::new(DeleteBucketPolicyOutput::default()))
}

pub(super) async fn get_bucket_tagging(
    app: Arc<App>,
    req: S3Request<GetBucketTaggingInput>,
) -> S3Result<S3Response<GetBucketTaggingOutput>> {
    let b = app.buckets.need_bucket(&req.input.bucket).map_err(err)?;
    let tags = b
        .tags
        .ok_or_else(|| err(BucketError::NoSuchConfiguration("NoSuchTagSet")))?;
    Ok(S3Response::new(GetBucketTaggingOutput {
        tag_set: tag_set(&tags),
    }))
}

pub(super) async fn put_bucket_tagging(
    app: Arc<App>,
    req: S3Request<PutBucketTaggingInput>,
) -> S3Result<S3Response<PutBucketTaggingOutput>> {
    let tags = from_tag_set(req.input.tagging.tag_set);
    eddy_core::buckets::definition::check_tags(
        &tags,
        eddy_core::buckets::definition::MAX_BUCKET_TAGS,
    )
    .map_err(err)?;
    app.buckets
        .update(&req.input.bucket, |b| {
            b.tags = Some(tags);
            Ok(())
        })
        .await
        .map_err(err)?;
    Ok(S3Response::new(PutBucketTaggingOutput::default()))
}

pub(super) async fn delete_bucket_tagging(
    app: Arc<App>,
    req: S3Request<DeleteBucketTaggingInput>,
) -> S3Result<S3Response<DeleteBucketTaggingOutput>> {
    app.buckets
        .update(&req.input.bucket, |b| {
            b.tags = None;
            Ok(())
        })
        .await
        .map_err(err)?;
    Ok(S3Response::new(DeleteBucketTaggingOutput::default()))
}

pub(super) async fn get_bucket_notification_configuration(
    app: Arc<App>,
    req: S3Request<GetBucketNotificationConfigurationInput>,
) -> S3Result<S3Response<GetBucketNotificationConfigurationOutput>> {
    let b = app.buckets.need_bucket(&req.input.bucket).map_err(err)?;
    let n = notification_of(&b.notification);
    Ok(S3Response::new(GetBucketNotificationConfigurationOutput {
        event_bridge_configuration: n.event_bridge_configuration,
        lambda_function_configurations: n.lambda_function_configurations,
        queue_configurations: n.queue_configurations,
        topic_configurations: n.topic_configurations,
    }))
}

pub(super) async fn put_bucket_notification_configuration(
    app: Arc<App>,
    req: S3Request<PutBucketNotificationConfigurationInput>,
) -> S3Result<S3Response<PutBucketNotificationConfigurationOutput>> {
    let requester = who(&req, &app);
    let c = req.input.notification_configuration;
    let mut n = Notification {
        eventbridge: c.event_bridge_configuration.is_some(),
        destinations: Vec::new(),
    };
    for q in c.queue_configurations.unwrap_or_default() {
        n.destinations.push(destination(
            DestinationKind::Queue,
            q.id,
            q.queue_arn,
            q.events,
            q.filter,
        )?);
    }
    for t in c.topic_configurations.unwrap_or_default() {
        n.destinations.push(destination(
            DestinationKind::Topic,
            t.id,
            t.topic_arn,
            t.events,
            t.filter,
        )?);
    }
    for f in c.lambda_function_configurations.unwrap_or_default() {
        n.destinations.push(destination(
            DestinationKind::Function,
            f.id,
            f.lambda_function_arn,
            f.events,
            f.filter,
        )?);
    }
    app.set_bucket_notification(&req.input.bucket, n, &requester)
        .await
        .map_err(err)?;
    Ok(S3Response::new(
        PutBucketNotificationConfigurationOutput::default(),
    ))
}
