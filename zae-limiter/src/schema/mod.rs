//! Every key, attribute name and item format of a zae-limiter table (wire-format §2–§3).
//!
//! This module is the workspace's single definition of the wire format: the client and
//! the Terraform provider both build every item they write from here.
//!
//! * [`table`] — physical table definition (keys, indexes, TTL).
//! * [`keys`] — partition/sort/GSI key builders.
//! * [`attrs`] — attribute names and value helpers.
//! * [`version_record`], [`namespace`] — table-level records.
//! * [`config`], [`registry`] — limit configs and their registries.
//! * [`entity`] — entity META items.
//! * [`bucket`] — composite bucket items.
//! * [`audit`] — audit events.
//! * [`usage`] — usage snapshots (written by the aggregator).
//! * [`owner`] — the owner-META condition of bucket creates.

pub mod attrs;
pub mod audit;
pub mod bucket;
pub mod config;
pub mod entity;
pub mod keys;
pub mod namespace;
pub mod owner;
pub mod registry;
pub mod table;
pub mod usage;
pub mod version_record;
