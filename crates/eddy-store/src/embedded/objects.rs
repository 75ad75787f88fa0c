//! The object index ([`ObjectStore`]) in the embedded store. (Not yet implemented.)

use crate::objects::{
    ObjectQuery, ObjectRecord, ObjectStore, ObjectWrite, PartRecord, UploadRecord, VersionQuery,
};
use crate::{BoxFuture, Result, StoreError};

use super::EmbeddedStore;

fn todo<T: Send + 'static>() -> BoxFuture<'static, Result<T>> {
    Box::pin(async {
        Err(StoreError::backend(
            "the object index is not implemented yet",
        ))
    })
}

impl ObjectStore for EmbeddedStore {
    fn objects_write(&self, _: ObjectWrite) -> BoxFuture<'_, Result<Vec<String>>> {
        todo()
    }
    fn object_get(
        &self,
        _: String,
        _: String,
        _: Option<String>,
    ) -> BoxFuture<'_, Result<Option<ObjectRecord>>> {
        todo()
    }
    fn objects_list(&self, _: ObjectQuery) -> BoxFuture<'_, Result<Vec<ObjectRecord>>> {
        todo()
    }
    fn object_versions(&self, _: VersionQuery) -> BoxFuture<'_, Result<Vec<ObjectRecord>>> {
        todo()
    }
    fn bucket_is_empty(&self, _: String) -> BoxFuture<'_, Result<bool>> {
        todo()
    }
    fn bucket_purge(&self, _: String) -> BoxFuture<'_, Result<Vec<String>>> {
        todo()
    }
    fn upload_create(&self, _: UploadRecord) -> BoxFuture<'_, Result<()>> {
        todo()
    }
    fn upload_get(&self, _: String) -> BoxFuture<'_, Result<Option<UploadRecord>>> {
        todo()
    }
    fn uploads_list(
        &self,
        _: String,
        _: String,
        _: Option<(String, String)>,
        _: usize,
    ) -> BoxFuture<'_, Result<Vec<UploadRecord>>> {
        todo()
    }
    fn upload_part_put(&self, _: PartRecord) -> BoxFuture<'_, Result<Option<Vec<String>>>> {
        todo()
    }
    fn upload_parts(&self, _: String, _: u32, _: usize) -> BoxFuture<'_, Result<Vec<PartRecord>>> {
        todo()
    }
    fn blobs_referenced(&self, _: Vec<String>) -> BoxFuture<'_, Result<Vec<String>>> {
        todo()
    }
}
