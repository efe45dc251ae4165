//! Conversions between the generated `tfplugin6` messages and framework types. This is the
//! only boundary where prost types meet the framework (like terraform-plugin-framework's
//! `fromproto6`/`toproto6`).
//!
//! * [`schema`]: schemas, identity schemas and server capabilities (framework → proto).
//! * [`value`]: `DynamicValue` ↔ [`Value`](crate::framework::Value), identity data.
//! * [`diagnostic`]: diagnostics and attribute paths.

pub(crate) mod diagnostic;
pub(crate) mod schema;
pub(crate) mod value;
