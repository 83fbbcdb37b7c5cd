//! Volumes: create, inspect, remove, list.

use std::collections::{BTreeMap, HashMap};

use anyhow::Context as _;
use bollard::models::VolumeCreateRequest;
use bollard::query_parameters::{ListVolumesOptionsBuilder, RemoveVolumeOptions};

use super::{Engine, LabelledResource, status_code};
use crate::decision::ObservedVolume;

impl Engine {
    /// Creates the volume unless it exists (Docker returns an existing volume as it is).
    pub async fn ensure_volume(
        &self,
        name: &str,
        labels: &BTreeMap<String, String>,
    ) -> anyhow::Result<()> {
        let request = VolumeCreateRequest {
            name: Some(name.to_string()),
            labels: Some(labels.iter().map(|(k, v)| (k.clone(), v.clone())).collect()),
            ..Default::default()
        };
        self.api
            .create_volume(request)
            .await
            .with_context(|| format!("cannot create volume `{name}`"))?;
        Ok(())
    }

    /// The volume's labels, driver and creation time, or `None` when it does not exist.
    pub async fn inspect_volume(&self, name: &str) -> anyhow::Result<Option<ObservedVolume>> {
        match self.api.inspect_volume(name).await {
            Ok(volume) => Ok(Some(ObservedVolume {
                name: volume.name,
                labels: volume.labels.into_iter().collect(),
                driver: volume.driver,
                created_at: volume.created_at,
            })),
            Err(error) if status_code(&error) == Some(404) => Ok(None),
            Err(error) => Err(error).with_context(|| format!("cannot inspect volume `{name}`")),
        }
    }

    /// Removes the volume; returns whether there was one.
    pub async fn remove_volume(&self, name: &str) -> anyhow::Result<bool> {
        match self
            .api
            .remove_volume(name, None::<RemoveVolumeOptions>)
            .await
        {
            Ok(()) => Ok(true),
            Err(error) if status_code(&error) == Some(404) => Ok(false),
            Err(error) => Err(error).with_context(|| format!("cannot remove volume `{name}`")),
        }
    }

    /// Volumes carrying the label `key`, with their labels.
    pub async fn volumes_labelled(&self, key: &str) -> anyhow::Result<Vec<LabelledResource>> {
        let filters = HashMap::from([("label", vec![key])]);
        let options = ListVolumesOptionsBuilder::new().filters(&filters).build();
        let response = self
            .api
            .list_volumes(Some(options))
            .await
            .context("cannot list volumes")?;
        Ok(response
            .volumes
            .unwrap_or_default()
            .into_iter()
            .map(|volume| LabelledResource {
                name: volume.name,
                labels: volume.labels.into_iter().collect(),
                created_unix: None,
            })
            .collect())
    }
}
