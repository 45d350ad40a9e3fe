//! The engine side of an update's lease (see `crate::update::lease`): a volume, because the
//! engine creates volumes under a per-name lock and hands back the one that exists instead of
//! a second one. Whoever finds its own labels on the volume it asked for holds the lease; the
//! labels of anyone else's say who does. A volume needs no image, takes no address, runs
//! nothing, and no watcher lists it.

use super::{DockerError, Engine};
use bollard::models::VolumeCreateRequest;
use bollard::query_parameters::RemoveVolumeOptions;
use std::collections::HashMap;

impl Engine {
    /// Creates volume `name` with `labels`, unless one exists: either way, returns the labels
    /// of the volume that now has the name.
    pub async fn claim_volume(
        &self,
        name: &str,
        labels: HashMap<String, String>,
    ) -> Result<HashMap<String, String>, DockerError> {
        let request = VolumeCreateRequest {
            name: Some(name.to_string()),
            labels: Some(labels),
            ..Default::default()
        };
        self.docker
            .create_volume(request)
            .await
            .map(|volume| volume.labels)
            .map_err(|err| self.api_error(&err))
    }

    /// Removes volume `name`; one already gone is what was asked.
    pub async fn remove_volume(&self, name: &str) -> Result<(), DockerError> {
        match self
            .docker
            .remove_volume(name, None::<RemoveVolumeOptions>)
            .await
        {
            Ok(()) => Ok(()),
            Err(bollard::errors::Error::DockerResponseServerError {
                status_code: 404, ..
            }) => Ok(()),
            Err(err) => Err(self.api_error(&err)),
        }
    }
}
