//! Images: inspect, pull, import.

use std::collections::{BTreeMap, HashMap};
use std::time::Duration;

use anyhow::Context as _;
use bollard::body_try_stream;
use bollard::query_parameters::{
    CreateImageOptionsBuilder, RemoveImageOptionsBuilder, TagImageOptionsBuilder,
};
use bytes::Bytes;
use futures_util::{Stream, StreamExt};

use super::{Engine, status_code};

/// How long a pull or an import may take before Docker answers.
const LONG_TRANSFER_TIMEOUT: Duration = Duration::from_secs(60 * 60);

impl Engine {
    /// The image's id, size and labels, or `None` when it is absent.
    pub async fn inspect_image(&self, image: &str) -> anyhow::Result<Option<ImageFacts>> {
        match self.api.inspect_image(image).await {
            Ok(inspect) => Ok(Some(ImageFacts {
                id: inspect.id.unwrap_or_default(),
                size: inspect.size.unwrap_or_default().max(0) as u64,
                labels: inspect
                    .config
                    .and_then(|config| config.labels)
                    .unwrap_or_default()
                    .into_iter()
                    .collect(),
            })),
            Err(error) if status_code(&error) == Some(404) => Ok(None),
            Err(error) => Err(error).with_context(|| format!("cannot inspect image `{image}`")),
        }
    }

    /// Removes the image `id` unless a container (running or not) still uses it; returns
    /// whether it did.
    pub async fn remove_image_if_unused(&self, id: &str) -> anyhow::Result<bool> {
        let options = RemoveImageOptionsBuilder::new().force(false).build();
        match self.api.remove_image(id, Some(options), None).await {
            Ok(_) => Ok(true),
            Err(error) if status_code(&error) == Some(409) => Ok(false),
            Err(error) => Err(error).with_context(|| format!("cannot remove image `{id}`")),
        }
    }

    /// Pulls `image`, reporting the bytes downloaded so far and the total known so far.
    pub async fn pull_image(
        &self,
        image: &str,
        mut progress: impl FnMut(u64, u64),
    ) -> anyhow::Result<()> {
        let options = CreateImageOptionsBuilder::new().from_image(image).build();
        let api = self.api.clone().with_timeout(LONG_TRANSFER_TIMEOUT);
        let mut stream = api.create_image(Some(options), None, None);
        let mut layers: HashMap<String, (u64, u64)> = HashMap::new();
        while let Some(info) = stream.next().await {
            let info = info.with_context(|| format!("cannot pull image `{image}`"))?;
            if let (Some(id), Some(detail)) = (info.id, info.progress_detail)
                && info.status.as_deref() == Some("Downloading")
            {
                let current = detail.current.unwrap_or_default().max(0) as u64;
                let total = detail.total.unwrap_or_default().max(0) as u64;
                layers.insert(id, (current, total));
                let (current, total) = layers
                    .values()
                    .fold((0, 0), |(sum_current, sum_total), (c, t)| {
                        (sum_current + c, sum_total + t)
                    });
                progress(current, total);
            }
        }
        Ok(())
    }

    /// Imports a root file system, streamed as a tar archive, as the image `reference`, with
    /// Dockerfile `changes` (`ENV ...`, `CMD ...`).
    pub async fn import_image(
        &self,
        reference: &str,
        changes: Vec<String>,
        tar: impl Stream<Item = Result<Bytes, std::io::Error>> + Send + 'static,
    ) -> anyhow::Result<()> {
        let (repo, tag) = split_image_reference(reference);
        let options = CreateImageOptionsBuilder::new()
            .from_src("-")
            .repo(repo)
            .tag(tag)
            .changes(changes)
            .build();
        // The daemon may answer only once it has read the whole archive: allow for a slow disk.
        let api = self.api.clone().with_timeout(LONG_TRANSFER_TIMEOUT);
        let mut stream = api.create_image(Some(options), Some(body_try_stream(tar)), None);
        while let Some(info) = stream.next().await {
            info.with_context(|| format!("cannot import image `{reference}`"))?;
        }
        Ok(())
    }
}

impl Engine {
    /// Gives the image `source` (a reference or an id) the reference `target` too, moving it
    /// from any image that had it.
    pub async fn tag_image(&self, source: &str, target: &str) -> anyhow::Result<()> {
        let (repo, tag) = split_image_reference(target);
        let options = TagImageOptionsBuilder::new().repo(repo).tag(tag).build();
        self.api
            .tag_image(source, Some(options))
            .await
            .with_context(|| format!("cannot tag image `{source}` as `{target}`"))
    }
}

/// What nelo reads from an image.
#[derive(Debug, Clone)]
pub struct ImageFacts {
    pub id: String,
    pub size: u64,
    pub labels: BTreeMap<String, String>,
}

/// Splits `repo[:tag]` into repository and tag (default `latest`); a `:` before the last
/// `/` belongs to a registry address, not a tag.
fn split_image_reference(reference: &str) -> (&str, &str) {
    let name_start = reference.rfind('/').map_or(0, |slash| slash + 1);
    match reference[name_start..].rfind(':') {
        Some(colon) => {
            let colon = name_start + colon;
            (&reference[..colon], &reference[colon + 1..])
        }
        None => (reference, "latest"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn image_references_split_into_repository_and_tag() {
        assert_eq!(
            split_image_reference("pgvector/pgvector:pg17"),
            ("pgvector/pgvector", "pg17")
        );
        assert_eq!(split_image_reference("nelo"), ("nelo", "latest"));
        assert_eq!(
            split_image_reference("localhost:5000/nelo/pg"),
            ("localhost:5000/nelo/pg", "latest")
        );
        assert_eq!(
            split_image_reference("localhost:5000/pg:17"),
            ("localhost:5000/pg", "17")
        );
    }
}
