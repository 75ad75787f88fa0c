//! Lambda layers: published layer versions (zip archives unpacked under
//! `DATA_DIR/layers/REGION/NAME/REVISION`, private to eddy), and the layers a function uses.
//!
//! Lambda extracts a function's layers into `/opt`, in order, later ones overwriting earlier
//! ones. eddy cannot give every process its own `/opt` without containers, so it merges the
//! layers the same way into one directory of the function's own (`opt-ID` beside its code
//! revisions), which the runtime gives the function's user like its code and puts on the
//! runtime's search paths (see `eddy_runtime::FunctionSpec::opt_dir`). A function keeps its
//! copy: deleting a layer version does not break the functions that use it, as on Lambda.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use super::{FunctionError, Functions};
use crate::registry::Named;

/// The most layers a function may use.
pub const MAX_LAYERS: usize = 5;

/// One layer: its versions.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct LayerDef {
    pub region: String,
    pub name: String,
    #[serde(default)]
    pub versions: BTreeMap<u32, LayerVersion>,
    /// The highest version number ever published (numbers are never reused).
    #[serde(default)]
    pub last_version: u32,
}

impl Named for LayerDef {
    const KIND: &'static str = "layer";

    fn region(&self) -> &str {
        &self.region
    }

    fn name(&self) -> &str {
        &self.name
    }
}

impl LayerDef {
    pub fn arn(&self, account: &str) -> String {
        format!(
            "arn:aws:lambda:{}:{account}:layer:{}",
            self.region, self.name
        )
    }
}

/// One published version of a layer.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct LayerVersion {
    pub version: u32,
    #[serde(default)]
    pub description: String,
    #[serde(default)]
    pub compatible_runtimes: Vec<String>,
    #[serde(default)]
    pub compatible_architectures: Vec<String>,
    #[serde(default)]
    pub license_info: Option<String>,
    pub code_sha256: String,
    pub code_size: u64,
    pub created_ms: i64,
    /// The directory its content is unpacked in (under the layer's).
    pub revision: String,
}

/// What PublishLayerVersion describes a version with.
#[derive(Debug, Clone, Default)]
pub struct LayerInfo {
    pub description: Option<String>,
    pub compatible_runtimes: Vec<String>,
    pub compatible_architectures: Vec<String>,
    pub license_info: Option<String>,
}

/// A layer version a function uses.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct LayerRef {
    pub arn: String,
    pub code_size: u64,
}

/// `arn:aws:lambda:REGION:ACCOUNT:layer:NAME:VERSION` → (region, name, version).
pub fn parse_version_arn(arn: &str) -> Option<(&str, &str, u32)> {
    let rest = arn.strip_prefix("arn:aws:lambda:")?;
    let mut parts = rest.split(':');
    let (region, _account, kind, name, version) = (
        parts.next()?,
        parts.next()?,
        parts.next()?,
        parts.next()?,
        parts.next()?,
    );
    if kind != "layer" || parts.next().is_some() || name.is_empty() {
        return None;
    }
    Some((region, name, version.parse().ok()?))
}

impl Functions {
    /// Where the versions of layer `name` are unpacked.
    fn layer_root(&self, region: &str, name: &str) -> PathBuf {
        self.layer_root.join(region).join(name)
    }

    pub fn layer(&self, region: &str, name: &str) -> Option<LayerDef> {
        self.layers.get(region, name)
    }

    pub fn layers_in(&self, region: &str) -> Vec<LayerDef> {
        self.layers.list(region)
    }

    /// The directory a layer version's content is in.
    pub fn layer_dir(&self, layer: &LayerDef, v: &LayerVersion) -> PathBuf {
        self.layer_root(&layer.region, &layer.name)
            .join(&v.revision)
    }

    /// PublishLayerVersion: unpacks the zip (Lambda's `ZipFile`, base64) and records a new
    /// version.
    pub async fn publish_layer_version(
        &self,
        region: &str,
        name: &str,
        zip_base64: bytes::Bytes,
        info: LayerInfo,
    ) -> Result<(LayerDef, u32), FunctionError> {
        use eddy_runtime::code::{self, CodeError};
        let root = self.layer_root(region, name);
        let revision = uuid::Uuid::new_v4().simple().to_string();
        let rev = revision.clone();
        let base = self.layer_root.clone();
        let region_dir = base.join(region);
        let (sha, size) = tokio::task::spawn_blocking(move || {
            for dir in [base, region_dir, root.clone()] {
                make_private_dir(&dir)?;
            }
            let zip = code::spool_base64(&zip_base64, &root)?;
            drop(zip_base64);
            code::unpack_spooled(&zip, &root, &rev)?;
            Ok::<_, CodeError>((zip.sha256.clone(), zip.size))
        })
        .await
        .map_err(|e| CodeError::Io(std::io::Error::other(format!("unpacking failed: {e}"))))??;
        let now = self.clock.now_ms();
        let n = self
            .layers
            .upsert(region, name, |cur| {
                let mut d = cur.cloned().unwrap_or_else(|| LayerDef {
                    region: region.to_owned(),
                    name: name.to_owned(),
                    versions: BTreeMap::new(),
                    last_version: 0,
                });
                let n = d.last_version + 1;
                d.versions.insert(
                    n,
                    LayerVersion {
                        version: n,
                        description: info.description.unwrap_or_default(),
                        compatible_runtimes: info.compatible_runtimes,
                        compatible_architectures: info.compatible_architectures,
                        license_info: info.license_info,
                        code_sha256: sha,
                        code_size: size,
                        created_ms: now,
                        revision,
                    },
                );
                d.last_version = n;
                Ok::<_, FunctionError>((d, n))
            })
            .await?;
        let d = self
            .layer(region, name)
            .ok_or_else(|| FunctionError::Layer(format!("layer {name} vanished")))?;
        Ok((d, n))
    }

    /// DeleteLayerVersion (nothing when there is none, as Lambda answers); its files go, the
    /// functions using it keep their copies.
    pub async fn delete_layer_version(
        &self,
        region: &str,
        name: &str,
        version: u32,
    ) -> Result<(), FunctionError> {
        let Some(d) = self.layer(region, name) else {
            return Ok(());
        };
        let Some(v) = d.versions.get(&version).cloned() else {
            return Ok(());
        };
        let dir = self.layer_dir(&d, &v);
        self.layers
            .upsert(region, name, |cur| {
                let mut d = cur
                    .cloned()
                    .ok_or(FunctionError::NotFound(name.to_owned()))?;
                d.versions.remove(&version);
                Ok::<_, FunctionError>((d, ()))
            })
            .await?;
        tokio::task::spawn_blocking(move || {
            let _best_effort = std::fs::remove_dir_all(dir).is_err();
        });
        Ok(())
    }

    /// Checks the layers a function names (at most five, existing versions of this region,
    /// one version per layer) and merges them, in order, into a new directory for function
    /// `name`. Returns the references and the directory's name (`None` for no layers).
    pub async fn take_layers(
        &self,
        region: &str,
        name: &str,
        arns: &[String],
    ) -> Result<(Vec<LayerRef>, Option<String>), FunctionError> {
        if arns.len() > MAX_LAYERS {
            return Err(FunctionError::Layer(
                "Cannot reference more than 5 layers.".to_owned(),
            ));
        }
        let mut sources = Vec::new();
        let mut refs = Vec::new();
        let mut seen: BTreeMap<&str, &str> = BTreeMap::new();
        for arn in arns {
            let Some((r, layer, version)) = parse_version_arn(arn) else {
                return Err(FunctionError::Layer(format!(
                    "1 validation error detected: Value '[{arn}]' at 'layers' failed to \
                     satisfy constraint: Member must satisfy constraint: [Member must satisfy \
                     regular expression pattern: arn:[a-zA-Z0-9-]+:lambda:[a-zA-Z0-9-]+:\\d{{12}}:layer:[a-zA-Z0-9-_]+:[0-9]+]"
                )));
            };
            if r != region {
                return Err(FunctionError::Layer(format!(
                    "Layers are not in the same region as the function. Layers are expected to \
                     be in region {region}."
                )));
            }
            if let Some(other) = seen.insert(layer, arn) {
                return Err(FunctionError::Layer(format!(
                    "Two different versions of the same layer are not allowed to be referenced \
                     in the same function. {other} and {arn} are versions of the same layer."
                )));
            }
            let found = self.layer(region, layer).and_then(|d| {
                d.versions
                    .get(&version)
                    .map(|v| (self.layer_dir(&d, v), v.code_size))
            });
            let Some((dir, size)) = found else {
                return Err(FunctionError::Layer(format!(
                    "Layer version {arn} does not exist."
                )));
            };
            sources.push(dir);
            refs.push(LayerRef {
                arn: arn.clone(),
                code_size: size,
            });
        }
        if refs.is_empty() {
            return Ok((refs, None));
        }
        let root = self.code_root(region, name);
        let opt = format!("opt-{}", uuid::Uuid::new_v4().simple());
        let dir = root.join(&opt);
        let (base, mode) = (self.code_root.clone(), self.tree_mode);
        let region_dir = base.join(region);
        tokio::task::spawn_blocking(move || {
            for d in [base, region_dir, root] {
                super::make_dir(&d, mode)?;
            }
            let tmp = dir.with_extension("tmp");
            make_private_dir(&tmp)?;
            for src in &sources {
                copy_tree(src, &tmp)?;
            }
            std::fs::rename(&tmp, &dir)
        })
        .await
        .map_err(|e| FunctionError::Layer(format!("merging the layers failed: {e}")))?
        .map_err(|e| FunctionError::Layer(format!("merging the layers failed: {e}")))?;
        Ok((refs, Some(opt)))
    }
}

/// Creates `dir` (its parent exists) private to eddy, or leaves it.
fn make_private_dir(dir: &Path) -> std::io::Result<()> {
    use std::os::unix::fs::DirBuilderExt;
    match std::fs::DirBuilder::new().mode(0o700).create(dir) {
        Err(e) if e.kind() != std::io::ErrorKind::AlreadyExists => Err(e),
        _ => Ok(()),
    }
}

/// Copies the directories and regular files of `src` into `dst` (later copies overwrite),
/// private to eddy, keeping whether files are executable. Links and special files (which the
/// unpacker never makes) are skipped.
fn copy_tree(src: &Path, dst: &Path) -> std::io::Result<()> {
    use std::os::unix::fs::PermissionsExt;
    for entry in std::fs::read_dir(src)? {
        let entry = entry?;
        let kind = entry.file_type()?;
        let to = dst.join(entry.file_name());
        if kind.is_dir() {
            make_private_dir(&to)?;
            copy_tree(&entry.path(), &to)?;
        } else if kind.is_file() {
            let exec = entry.metadata()?.permissions().mode() & 0o111 != 0;
            if to.exists() {
                std::fs::remove_file(&to)?;
            }
            std::fs::copy(entry.path(), &to)?;
            std::fs::set_permissions(
                &to,
                std::fs::Permissions::from_mode(if exec { 0o700 } else { 0o600 }),
            )?;
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn layer_version_arns() {
        assert_eq!(
            parse_version_arn("arn:aws:lambda:us-east-1:123456789012:layer:deps:3"),
            Some(("us-east-1", "deps", 3))
        );
        assert_eq!(
            parse_version_arn("arn:aws:lambda:us-east-1:123456789012:layer:deps"),
            None
        );
        assert_eq!(
            parse_version_arn("arn:aws:lambda:us-east-1:123456789012:function:f:3"),
            None
        );
    }

    #[test]
    fn later_layers_overwrite_earlier_ones() {
        let d = tempfile::tempdir().unwrap();
        let (a, b, out) = (d.path().join("a"), d.path().join("b"), d.path().join("out"));
        for (dir, text) in [(&a, "a"), (&b, "b")] {
            std::fs::create_dir_all(dir.join("python")).unwrap();
            std::fs::write(dir.join("python/mod.py"), text).unwrap();
            std::fs::write(dir.join(format!("only-{text}")), text).unwrap();
        }
        std::fs::create_dir(&out).unwrap();
        copy_tree(&a, &out).unwrap();
        copy_tree(&b, &out).unwrap();
        assert_eq!(
            std::fs::read_to_string(out.join("python/mod.py")).unwrap(),
            "b"
        );
        assert!(out.join("only-a").exists() && out.join("only-b").exists());
    }
}
