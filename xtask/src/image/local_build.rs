//! Building the PostgreSQL 17 + pgvector image locally from Debian packages, with no
//! registry: debootstrap into a temporary folder, trim, and import it through the Docker API;
//! and whether an image built so comes from this checkout's recipe. `image build` and the
//! image policy of [`crate::server::ensure_image`] use it.

use std::collections::BTreeMap;

#[cfg(target_os = "linux")]
use super::debootstrap::build_image;
use super::recipe;
use crate::context::Context;
use crate::docker::{Engine, ImageFacts};
use crate::ui;

/// Whether this system can build the image: debootstrap and the build folder's unmounting
/// need Linux. Elsewhere (Docker Desktop on macOS) the image is pulled.
pub const AVAILABLE: bool = cfg!(target_os = "linux");

/// Whether an image with these labels was built by `image build` from another recipe than
/// this checkout's. An image without the label (pulled, or made elsewhere) is not ours to
/// judge.
pub fn is_stale(labels: &BTreeMap<String, String>) -> bool {
    labels
        .get(recipe::RECIPE_LABEL)
        .is_some_and(|recipe| *recipe != recipe::recipe_hash())
}

/// Builds the image `tag` unless it exists (or always, with `force`).
pub async fn ensure_built(
    ctx: &Context,
    engine: &Engine,
    tag: &str,
    force: bool,
) -> anyhow::Result<()> {
    let existing = engine.inspect_image(tag).await?;
    if !force && let Some(existing) = existing {
        ui::step(format!(
            "image `{tag}` exists; keeping it (`--force` builds it again)"
        ));
        if is_stale(&existing.labels) {
            ui::warn(format!(
                "`{tag}` was built from an older recipe (entrypoint or packages changed); \
                 `cargo xtask image build --tag {tag} --force` rebuilds it"
            ));
        }
        return Ok(());
    }
    build_image(ctx, engine, tag).await?;
    if let Some(replaced) = existing {
        remove_replaced(engine, tag, &replaced).await;
    }
    Ok(())
}

/// The image that `tag` named before a rebuild is left untagged: remove it, unless a
/// container still runs from it. A failure here is only worth a warning.
async fn remove_replaced(engine: &Engine, tag: &str, replaced: &ImageFacts) {
    match engine.remove_image_if_unused(&replaced.id).await {
        Ok(true) => ui::note(format!(
            "removed the image `{tag}` named before ({} MB)",
            replaced.size / 1_000_000
        )),
        Ok(false) => ui::note(format!(
            "kept the image `{tag}` named before: a container still uses it"
        )),
        Err(error) => ui::warn(format!("{error:#}")),
    }
}

/// Without Linux there is no debootstrap to build with.
#[cfg(not(target_os = "linux"))]
async fn build_image(_ctx: &Context, _engine: &Engine, tag: &str) -> anyhow::Result<()> {
    anyhow::bail!(
        "cannot build image `{tag}` here: building the image needs Linux (debootstrap); on \
         macOS set NELO_PG_IMAGE to an image that can be pulled, or use the default, which \
         `cargo xtask db up` pulls"
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_our_images_from_another_recipe_are_stale() {
        let labelled =
            |recipe: &str| BTreeMap::from([(recipe::RECIPE_LABEL.to_string(), recipe.to_string())]);
        assert!(!is_stale(&BTreeMap::new()));
        assert!(!is_stale(&labelled(&recipe::recipe_hash())));
        assert!(is_stale(&labelled("0123abcd")));
    }
}
