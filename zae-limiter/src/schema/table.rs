//! The physical definition of a zae-limiter table (wire-format §2.1): key attributes, the four
//! global and five local secondary indexes, the TTL attribute and the stream view.
//!
//! Both the client (which reads and writes items) and the Terraform provider (which creates
//! the table) take every name from here, so the workspace has one definition of each.

/// Partition key attribute of every item.
pub const PK: &str = "PK";
/// Sort key attribute of every item.
pub const SK: &str = "SK";
/// Time-to-live attribute (epoch seconds), enabled on stack-built tables.
pub const TTL: &str = "ttl";

/// How much of an item an index projects.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Projection {
    /// Every attribute.
    All,
    /// Only the table and index keys.
    KeysOnly,
}

/// A global secondary index: its own hash and range key.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct GlobalIndex {
    /// Index name, e.g. `GSI1`.
    pub name: &'static str,
    /// Hash key attribute.
    pub hash_key: &'static str,
    /// Range key attribute.
    pub range_key: &'static str,
    /// Projection type.
    pub projection: Projection,
}

/// A local secondary index: the table's `PK` with another range key.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LocalIndex {
    /// Index name, e.g. `LSI1`.
    pub name: &'static str,
    /// Range key attribute (the hash key is always [`PK`]).
    pub range_key: &'static str,
    /// Projection type.
    pub projection: Projection,
}

/// GSI1: parent → children.
pub const GSI1: GlobalIndex = GlobalIndex {
    name: "GSI1",
    hash_key: "GSI1PK",
    range_key: "GSI1SK",
    projection: Projection::All,
};
/// GSI2: per-resource discovery of buckets and usage snapshots.
pub const GSI2: GlobalIndex = GlobalIndex {
    name: "GSI2",
    hash_key: "GSI2PK",
    range_key: "GSI2SK",
    projection: Projection::All,
};
/// GSI3: entity configs by resource, buckets by entity.
pub const GSI3: GlobalIndex = GlobalIndex {
    name: "GSI3",
    hash_key: "GSI3PK",
    range_key: "GSI3SK",
    projection: Projection::KeysOnly,
};
/// GSI4: every item of a namespace (used by purge).
pub const GSI4: GlobalIndex = GlobalIndex {
    name: "GSI4",
    hash_key: "GSI4PK",
    range_key: "GSI4SK",
    projection: Projection::KeysOnly,
};

/// All global secondary indexes, in definition order.
pub const GLOBAL_INDEXES: [GlobalIndex; 4] = [GSI1, GSI2, GSI3, GSI4];

/// Reserved local secondary indexes (never populated by 0.17.0, but they can only be created
/// with the table, so every table has them).
pub const LOCAL_INDEXES: [LocalIndex; 5] = [
    LocalIndex {
        name: "LSI1",
        range_key: "LSI1SK",
        projection: Projection::All,
    },
    LocalIndex {
        name: "LSI2",
        range_key: "LSI2SK",
        projection: Projection::KeysOnly,
    },
    LocalIndex {
        name: "LSI3",
        range_key: "LSI3SK",
        projection: Projection::All,
    },
    LocalIndex {
        name: "LSI4",
        range_key: "LSI4SK",
        projection: Projection::KeysOnly,
    },
    LocalIndex {
        name: "LSI5",
        range_key: "LSI5SK",
        projection: Projection::All,
    },
];

/// Every key attribute the table declares (all of type `S`), in definition order.
pub fn key_attributes() -> Vec<&'static str> {
    let mut names = vec![PK, SK];
    for gsi in GLOBAL_INDEXES {
        names.push(gsi.hash_key);
        names.push(gsi.range_key);
    }
    names.extend(LOCAL_INDEXES.iter().map(|l| l.range_key));
    names
}

/// The table tag every zae-limiter table carries.
pub const APPLICATION_TAG: (&str, &str) = ("Application", "zae-limiter");

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn declares_fifteen_string_key_attributes() {
        let attrs = key_attributes();
        assert_eq!(attrs.len(), 15);
        assert_eq!(&attrs[..4], &["PK", "SK", "GSI1PK", "GSI1SK"]);
        assert_eq!(attrs[14], "LSI5SK");
    }

    #[test]
    fn projections_match_the_reference_definition() {
        let gsi: Vec<_> = GLOBAL_INDEXES.iter().map(|g| g.projection).collect();
        assert_eq!(
            gsi,
            [
                Projection::All,
                Projection::All,
                Projection::KeysOnly,
                Projection::KeysOnly
            ]
        );
        let lsi: Vec<_> = LOCAL_INDEXES.iter().map(|l| l.projection).collect();
        assert_eq!(
            lsi,
            [
                Projection::All,
                Projection::KeysOnly,
                Projection::All,
                Projection::KeysOnly,
                Projection::All
            ]
        );
    }
}
