//! The demo project: who, what and where, as plain data. The prose lives in `scenes/*.md`.

/// The fixed ids make the seed idempotent: a rerun replaces exactly these rows.
pub const USER_ID: &str = "demo-user";
pub const USER_EMAIL: &str = "demo@nelo.app";
pub const USER_NAME: &str = "Demo Writer";

pub const PROJECT_ID: &str = "demo-project";
pub const PROJECT_TITLE: &str = "The Keeper of Greyhaven Light";
pub const PROJECT_DESCRIPTION: &str = "A lighthouse keeper's daughter, a ship that does not \
    answer the beam, and the oath her village swore to the sea.";

/// Every seeded row carries this time, so two seeds give byte-identical tables.
pub const SEEDED_AT: &str = "2025-08-17 09:00:00";

pub struct Chapter {
    pub id: &'static str,
    pub title: &'static str,
}

pub struct Scene {
    pub id: &'static str,
    /// `None` for a draft not yet placed in a chapter.
    pub chapter_id: Option<&'static str>,
    pub title: &'static str,
    pub content_md: &'static str,
}

pub struct Entity {
    pub id: &'static str,
    /// A label of the `EntityType` enum.
    pub kind: &'static str,
    pub name: &'static str,
    pub aliases: &'static [&'static str],
    pub description: &'static str,
}

/// In reading order; a chapter's position in this list is its `order`.
pub const CHAPTERS: &[Chapter] = &[
    Chapter {
        id: "demo-chapter-1",
        title: "The Long Tide",
    },
    Chapter {
        id: "demo-chapter-2",
        title: "Salt and Ledger",
    },
    Chapter {
        id: "demo-chapter-3",
        title: "What the Sea Returns",
    },
];

/// In reading order; a scene's position in this list is its `index` in the project.
pub const SCENES: &[Scene] = &[
    Scene {
        id: "demo-scene-1-1",
        chapter_id: Some("demo-chapter-1"),
        title: "Lamp Oil",
        content_md: include_str!("scenes/1-1-lamp-oil.md"),
    },
    Scene {
        id: "demo-scene-1-2",
        chapter_id: Some("demo-chapter-1"),
        title: "The Harbourmaster",
        content_md: include_str!("scenes/1-2-the-harbourmaster.md"),
    },
    Scene {
        id: "demo-scene-2-1",
        chapter_id: Some("demo-chapter-2"),
        title: "The Logbook",
        content_md: include_str!("scenes/2-1-the-logbook.md"),
    },
    Scene {
        id: "demo-scene-2-2",
        chapter_id: Some("demo-chapter-2"),
        title: "The Guild Hall",
        content_md: include_str!("scenes/2-2-the-guild-hall.md"),
    },
    Scene {
        id: "demo-scene-3-1",
        chapter_id: Some("demo-chapter-3"),
        title: "Low Water",
        content_md: include_str!("scenes/3-1-low-water.md"),
    },
    Scene {
        id: "demo-scene-3-2",
        chapter_id: Some("demo-chapter-3"),
        title: "The Oath",
        content_md: include_str!("scenes/3-2-the-oath.md"),
    },
    Scene {
        id: "demo-scene-unplaced-letter",
        chapter_id: None,
        title: "Ines's Letter (draft)",
        content_md: include_str!("scenes/unplaced-letter.md"),
    },
];

pub const ENTITIES: &[Entity] = &[
    Entity {
        id: "demo-entity-mara-quill",
        kind: "CHARACTER",
        name: "Mara Quill",
        aliases: &["Mara", "Miss Quill"],
        description: "Keeper of Greyhaven Light since her father was lost; stubborn, exact, \
            counts the stairs.",
    },
    Entity {
        id: "demo-entity-tobias-wren",
        kind: "CHARACTER",
        name: "Tobias Wren",
        aliases: &["Tobias", "Toby", "the harbourmaster"],
        description: "Saltmarsh's harbourmaster, who always arrives when he is least wanted \
            and is usually right.",
    },
    Entity {
        id: "demo-entity-ines-calloway",
        kind: "CHARACTER",
        name: "Ines Calloway",
        aliases: &["Ines", "Mrs Calloway", "the Guild Mistress"],
        description: "Guild Mistress of the Harbour Guild since the year after the Drowning \
            Night; never raises her voice.",
    },
    Entity {
        id: "demo-entity-elias-quill",
        kind: "CHARACTER",
        name: "Elias Quill",
        aliases: &["Elias", "her father"],
        description: "Mara's father, the old keeper, lost on the Drowning Night.",
    },
    Entity {
        id: "demo-entity-greyhaven-light",
        kind: "LOCATION",
        name: "Greyhaven Light",
        aliases: &["the Light", "the lighthouse"],
        description: "The lighthouse above Saltmarsh: one hundred and twelve steps, four \
            seconds dark and one second light.",
    },
    Entity {
        id: "demo-entity-saltmarsh",
        kind: "LOCATION",
        name: "Saltmarsh",
        aliases: &["the village"],
        description: "The fishing village under the Light, behind its sea wall and its mile \
            of tidal flats.",
    },
    Entity {
        id: "demo-entity-brass-logbook",
        kind: "ITEM",
        name: "brass logbook",
        aliases: &["the logbook", "the ledger"],
        description: "Elias Quill's nightly record of lamp, weather and ships; its last page \
            warns Mara against the oath.",
    },
    Entity {
        id: "demo-entity-harbour-guild",
        kind: "ORGANIZATION",
        name: "Harbour Guild",
        aliases: &["the Guild"],
        description: "Saltmarsh's council of boat owners, meeting above the chandlery.",
    },
    Entity {
        id: "demo-entity-drowning-night",
        kind: "EVENT",
        name: "Drowning Night",
        aliases: &["the night of the long tide"],
        description: "Eleven years ago the tide came in twice in one night; fourteen \
            villagers and the keeper were lost.",
    },
    Entity {
        id: "demo-entity-tidewatch-oath",
        kind: "CONCEPT",
        name: "Tidewatch",
        aliases: &["the oath", "the Tidewatch oath"],
        description: "The keeper's bargain with the sea: the keeper tends the Light and the \
            sea keeps to its hours.",
    },
];

#[cfg(test)]
mod tests {
    use super::*;
    use crate::seed::text;

    #[test]
    fn every_scene_mentions_someone_and_every_entity_is_mentioned() {
        let forms = |entity: &Entity| {
            std::iter::once(entity.name)
                .chain(entity.aliases.iter().copied())
                .collect::<Vec<_>>()
        };
        for scene in SCENES {
            let mentioned = ENTITIES
                .iter()
                .any(|entity| text::mention_count(scene.content_md, &forms(entity)) > 0);
            assert!(mentioned, "scene `{}` mentions no entity", scene.id);
        }
        for entity in ENTITIES {
            let mentioned = SCENES
                .iter()
                .any(|scene| text::mention_count(scene.content_md, &forms(entity)) > 0);
            assert!(mentioned, "entity `{}` is never mentioned", entity.id);
        }
    }

    #[test]
    fn scenes_are_real_prose() {
        for scene in SCENES {
            assert!(
                text::word_count(scene.content_md) >= 60,
                "scene `{}` is too short",
                scene.id
            );
            assert!(
                scene.content_md.contains("\n\n"),
                "scene `{}` has one paragraph",
                scene.id
            );
        }
    }

    #[test]
    fn ids_are_unique() {
        let mut ids: Vec<&str> = CHAPTERS.iter().map(|chapter| chapter.id).collect();
        ids.extend(SCENES.iter().map(|scene| scene.id));
        ids.extend(ENTITIES.iter().map(|entity| entity.id));
        let count = ids.len();
        ids.sort_unstable();
        ids.dedup();
        assert_eq!(ids.len(), count);
    }
}
